"""Lossy coding: quantize the posterior means, entropy-code them, decode to the model's reconstruction.

A datum's latent code is k = round((mu(x) - m) / (s * step)) per dimension, with mu(x) the posterior mean,
m and s the prior's mean and standard deviation (1 for a hierarchical prior), and ``step`` the rate knob
(smaller: more bits, finer reconstructions). The symbols k are coded with ANS
under a factorized Gaussian entropy model in symbol units, discretized over the file's symbol range with the ends
taking the tails, its masses computed in :mod:`vaekit.codec.portable_math` (the same on every machine); either

* ``"prior"``: a diagonal Gaussian p(z) itself discretized, mean 0 and standard deviation 1 / step; no side
  information;
* ``"fitted"``: a Gaussian per dimension fitted to this input's codes and stored in the header (a
  forward-adaptive model as in Balle et al. 2018's factorized prior): unused dimensions cost ~0 bits.

Decoding maps k back to z = m + s * step * k and returns the mean of p(x|z). A conditional model's labels
follow the codes, uniform over the classes, and condition both ends.
"""
from __future__ import annotations

import math

import constriction
import numpy as np
import torch

from vaekit.codec.coding_dists import given_rows, label_code, prior_reference, snap
from vaekit.codec.container import MAX_SYMBOLS, CodecError
from vaekit.codec.digits import Masses, TwoDigits, bits_for
from vaekit.codec.latent_buckets import normal_bucket_masses
from vaekit.models.base import LatentVariableModel

_MIN_STD = 0.1  # in symbol units: a dimension whose code never changes costs almost nothing
_CHUNK = 4096  # items per table


def latent_codes(model: LatentVariableModel, x: torch.Tensor, step: float, batch_size: int,
                 labels: np.ndarray | None = None) -> np.ndarray:
    """The quantized posterior means, int32 (N, D)."""
    prior_loc, prior_scale = prior_reference(model.prior())
    with torch.no_grad():
        batches = [slice(i, i + batch_size) for i in range(0, len(x), batch_size)]
        loc = torch.cat([snap(given_rows(model, labels, rows).encode(x[rows]).mean) for rows in batches])
    codes = torch.round((loc - prior_loc) / (prior_scale * step))
    span = float(codes.max() - codes.min()) if torch.isfinite(codes).all() else math.inf
    if span >= MAX_SYMBOLS:
        raise CodecError(f"step {step:g} is too fine for this model's latents: their codes would span {span:.3g} "
                         f"symbols, more than {MAX_SYMBOLS}; use a step of at least {step * span / MAX_SYMBOLS:.2g}")
    return codes.to(torch.int32).numpy()


def fit_entropy_model(codes: np.ndarray) -> tuple[tuple[float, float], ...]:
    """Per-dimension (mean, std) of the codes, rounded to 4 decimals so that they travel exactly in JSON."""
    mean, std = codes.mean(axis=0), np.maximum(codes.std(axis=0), _MIN_STD)
    return tuple((round(float(m), 4), round(float(s), 4)) for m, s in zip(mean, std))


def _entropy_model(shape: tuple[int, int], step: float, fitted: tuple[tuple[float, float], ...] | None,
                   symbol_range: tuple[int, int]) -> tuple[TwoDigits, Masses]:
    """The digits and the masses of the symbols k - low of codes of ``shape`` (N, D), one row per code in C order."""
    n, dims = shape
    if fitted is None:
        mean, std = torch.zeros(dims, dtype=torch.float64), torch.full((dims,), 1.0 / step, dtype=torch.float64)
    else:
        mean, std = torch.tensor(fitted, dtype=torch.float64).T
    low, high = symbol_range
    values = high - low + 1
    mean, std = (mean - low).repeat(n), std.repeat(n)

    def masses(edge: torch.Tensor) -> torch.Tensor:
        position = torch.where(edge <= 0, -math.inf, torch.where(edge >= values, math.inf, edge.double() - 0.5))
        return normal_bucket_masses((position - mean[:, None]) / std[:, None])

    return TwoDigits(bits_for(values)), masses


def _chunks(count: int) -> list[slice]:
    return [slice(i, min(i + _CHUNK, count)) for i in range(0, count, _CHUNK)]


def encode(codes: np.ndarray, step: float, fitted: tuple[tuple[float, float], ...] | None,
           symbol_range: tuple[int, int], labels: np.ndarray | None = None, classes: int = 0) -> np.ndarray:
    """ANS words for the codes (N, D), in chunks of items (the decoder's tables stay small whatever N), and, for a
    conditional model, their labels (N,) out of ``classes``."""
    coder = constriction.stream.stack.AnsCoder()
    for rows in reversed(_chunks(len(codes))):
        chunk = codes[rows]
        digits, masses = _entropy_model(chunk.shape, step, fitted, symbol_range)
        digits.encode(coder, (chunk - symbol_range[0]).reshape(-1), masses)
    if labels is not None:
        coder.encode_reverse(labels.astype(np.int32), label_code(classes))
    return coder.get_compressed()


def decode(words: np.ndarray, shape: tuple[int, int], step: float, fitted: tuple[tuple[float, float], ...] | None,
           symbol_range: tuple[int, int], classes: int = 0) -> tuple[np.ndarray, np.ndarray | None]:
    """The codes (N, D) that :func:`encode` turned into ``words``, and their labels if ``classes``."""
    coder = constriction.stream.stack.AnsCoder(words)
    labels = coder.decode(label_code(classes), shape[0]) if classes else None
    codes = np.empty(shape, dtype=np.int32)
    for rows in _chunks(shape[0]):
        digits, masses = _entropy_model((rows.stop - rows.start, shape[1]), step, fitted, symbol_range)
        codes[rows] = (digits.decode(coder, masses) + symbol_range[0]).reshape(-1, shape[1])
    return codes, labels


@torch.no_grad()
def reconstruct(model: LatentVariableModel, codes: np.ndarray, step: float, batch_size: int,
                labels: np.ndarray | None = None) -> torch.Tensor:
    """The mean of p(x|z) at the latents the codes stand for, clamped to [0, 1]."""
    prior_loc, prior_scale = prior_reference(model.prior())
    z = (prior_loc + prior_scale * step * torch.from_numpy(codes).double()).float()
    batches = [slice(i, i + batch_size) for i in range(0, len(z), batch_size)]
    return torch.cat([given_rows(model, labels, rows).decode(z[rows]).mean.clamp(0.0, 1.0) for rows in batches])
