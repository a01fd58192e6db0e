"""Examples read only when indexed: what stands in for a split's tensor when the data stays where it is (rows of a
.npy, image files, a user's Dataset). ``examples[index]`` fetches just those; a subset is an index array, never a
copy, so the validation and test hold-outs cost nothing."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch


def as_positions(index: int | slice | torch.Tensor | np.ndarray) -> int | slice | np.ndarray:
    return index.numpy() if isinstance(index, torch.Tensor) else index


class LazyExamples:
    """The examples at ``positions`` of a source, indexed like the float tensor (len(positions), *item_shape); a
    frozen dataclass with a ``positions`` field, which is all a subset replaces."""

    positions: np.ndarray

    @property
    def item_shape(self) -> tuple[int, ...]:
        raise NotImplementedError

    def fetch(self, positions: np.ndarray) -> torch.Tensor:
        """The examples at source positions ``positions`` (at least one), as float32."""
        raise NotImplementedError

    def __len__(self) -> int:
        return len(self.positions)

    @property
    def shape(self) -> torch.Size:
        return torch.Size((len(self.positions), *self.item_shape))

    def subset(self, index: slice | torch.Tensor | np.ndarray) -> "LazyExamples":
        """The examples at ``index`` (nothing is read)."""
        return replace(self, positions=self.positions[as_positions(index)])  # type: ignore[type-var]

    def __getitem__(self, index: int | slice | torch.Tensor | np.ndarray) -> torch.Tensor:
        if isinstance(index, int):
            return self[np.array([index])][0]
        positions = np.atleast_1d(self.positions[as_positions(index)])
        return self.fetch(positions) if len(positions) else torch.empty((0, *self.item_shape))
