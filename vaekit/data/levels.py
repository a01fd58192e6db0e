"""Grey levels: 8-bit data whose values lie on fewer than 256 levels (a few grey shades, a palette of 16).

Level i of L is the 8-bit value round(255 i / (L - 1)) (:func:`level_values`, which the codec reads too). The
data's levels are the fewest L whose grid holds every value
that occurs, so an image of 0, 85, 170 and 255 is on 4 levels, and one of 0 and 255 on 2; the likelihood then
spreads its mass over L values instead of 256, which is what makes such data cheap to code.
"""
from __future__ import annotations

import numpy as np
import torch

CHUNK_ROWS = 4096  # examples read at a time from data kept on disk


def values_present(*parts: torch.Tensor) -> np.ndarray:
    """The 8-bit values (0..255) that occur in tensors of values v / 255 (or rows on disk indexed like them)."""
    seen = np.zeros(256, dtype=bool)
    for x in parts:
        chunks = x.reshape(-1).split(1 << 24) if isinstance(x, torch.Tensor) else \
            (x[start:start + CHUNK_ROWS] for start in range(0, len(x), CHUNK_ROWS))
        for chunk in chunks:
            seen[np.unique(torch.round(chunk * 255).to(torch.uint8).numpy())] = True
    return np.flatnonzero(seen)


def level_values(levels: int) -> np.ndarray:
    """The 8-bit value of each of ``levels`` levels: round(255 i / (levels - 1)) for i = 0 .. levels - 1."""
    return np.round(np.arange(levels) * (255 / (levels - 1))).astype(np.int64)


def on_grid(values: np.ndarray, levels: int) -> np.ndarray:
    """Whether each 8-bit value is one of ``levels`` levels."""
    return np.isin(values, level_values(levels))


def fewest_levels(values: np.ndarray) -> int:
    """The fewest levels (2..256) whose grid holds every one of ``values``."""
    return next(levels for levels in range(2, 257) if on_grid(values, levels).all())


def grey_levels(name: str, parts: tuple[torch.Tensor, ...], declared: int | None) -> int:
    """The levels of 8-bit data: ``declared`` (data.levels, checked), else detected."""
    values = values_present(*parts)
    if declared is None:
        return fewest_levels(values)
    off = values[~on_grid(values, declared)]
    if len(off):
        raise ValueError(f"data.levels={declared}, but '{name}' holds the 8-bit value {int(off[0])}, which is none of "
                         f"its {declared} levels (round(255 i / {declared - 1})); leave data.levels out to detect "
                         f"them ({fewest_levels(values)} here)")
    return declared
