"""Coding with a VQ-VAE: the code indices under its learned autoregressive prior, then (lossless) x under p(x|z_q).

There are no bits to get back: q(z|x) is a point mass, so a datum costs -log p(k) for its codes and
-log p(x|z_q) for itself, the negative ELBO. Lossy coding stops after the codes and decodes to the mean of
p(x|z_q): the compression the VQ-VAE paper describes (van den Oord et al. 2017, section 4.3).

The prior's table at position i is computed from the grid with positions i and later set to 0, at both ends,
so that encoder and decoder feed the network identical inputs; logits are snapped before the softmax.
Data go in batches in order; the decoder, popping the stack, meets them last first.
"""
from __future__ import annotations

import constriction
import numpy as np
import torch
from torch.distributions import Distribution

from vaekit.codec import portable_math as pm
from vaekit.codec.bits_back import reversed_starts
from vaekit.codec.coding_dists import likelihood_masses, snap
from vaekit.codec.container import DecodeMismatch
from vaekit.codec.digits import TwoDigits, bits_for
from vaekit.distributions.code_prior import CodePrior
from vaekit.models.base import LatentVariableModel
from vaekit.progress import progress as progress_bar

_CATEGORICAL = constriction.stream.model.Categorical(perfect=False)


def _table(prior: CodePrior, indices: torch.Tensor, position: int) -> np.ndarray:
    """p(k_position | k_<position) for each row of ``indices`` (B, H*W), float64 (B, K)."""
    known = indices.clone()
    known[:, position:] = 0
    logits = prior.logits(known.view(-1, *prior.grid)).flatten(-2)[:, :, position]
    return pm.softmax(snap(logits), dim=-1).numpy()


def push_codes(coder: constriction.stream.stack.AnsCoder, prior: CodePrior, indices: torch.Tensor) -> None:
    for position in reversed(range(indices.shape[1])):
        coder.encode_reverse(indices[:, position].numpy().astype(np.int32), _CATEGORICAL,
                             _table(prior, indices, position))


def pop_codes(coder: constriction.stream.stack.AnsCoder, prior: CodePrior, batch: int) -> torch.Tensor:
    indices = torch.zeros(batch, prior.grid[0] * prior.grid[1], dtype=torch.long)
    for position in range(indices.shape[1]):
        indices[:, position] = torch.from_numpy(coder.decode(_CATEGORICAL, _table(prior, indices, position))
                                                .astype(np.int64))
    return indices


def _likelihood(model: LatentVariableModel, prior: CodePrior, indices: torch.Tensor) -> Distribution:
    return model.decode(prior.vectors(indices.view(-1, *prior.grid)))


@torch.no_grad()
def encode(model: LatentVariableModel, x: torch.Tensor, symbols: np.ndarray | None, levels: int, max_batch: int,
           progress: bool = False) -> tuple[np.ndarray, list[int], np.ndarray, torch.Tensor]:
    """ANS words, batch sizes, the codes (N, H*W) and their reconstructions: each batch's codes, after its
    ``symbols`` (lossless; None: lossy)."""
    prior = model.prior()
    assert isinstance(prior, CodePrior)
    coder = constriction.stream.stack.AnsCoder()
    pixels = TwoDigits(bits_for(levels))
    batches, codes, means = [], [], []
    with progress_bar(len(x), "compressing", "item", progress) as bar:
        for start in range(0, len(x), max_batch):
            indices = prior.indices(model.encode(x[start:start + max_batch]).mean).flatten(1)
            likelihood = _likelihood(model, prior, indices)
            means.append(likelihood.mean.clamp(0.0, 1.0))
            if symbols is not None:
                masses = likelihood_masses(likelihood)[1]
                pixels.encode(coder, symbols[start:start + max_batch].reshape(-1), masses)
            push_codes(coder, prior, indices)
            batches.append(len(indices))
            codes.append(indices.numpy().astype(np.int32))
            bar.update(len(indices))
    return coder.get_compressed(), batches, np.concatenate(codes), torch.cat(means)


@torch.no_grad()
def decode(model: LatentVariableModel, words: np.ndarray, item_shape: tuple[int, ...], levels: int,
           batches: list[int], lossless: bool, progress: bool = False) -> tuple[np.ndarray, np.ndarray, torch.Tensor]:
    """The symbols (lossless; else an empty array), the codes (N, H*W) and their reconstructions."""
    prior = model.prior()
    assert isinstance(prior, CodePrior)
    coder = constriction.stream.stack.AnsCoder(words)
    pixels = TwoDigits(bits_for(levels))
    count = sum(batches)
    symbols = np.empty((count, *item_shape) if lossless else (0,), dtype=np.int32)
    means = torch.empty(count, *item_shape)
    codes = np.empty((count, prior.grid[0] * prior.grid[1]), dtype=np.int32)
    with progress_bar(count, "decompressing", "item", progress) as bar:
        for start, size in reversed_starts(batches):
            indices = pop_codes(coder, prior, size)
            codes[start:start + size] = indices.numpy()
            likelihood = _likelihood(model, prior, indices)
            means[start:start + size] = likelihood.mean.clamp(0.0, 1.0)
            if lossless:
                masses = likelihood_masses(likelihood)[1]
                symbols[start:start + size] = pixels.decode(coder, masses).reshape(size, *item_shape)
            bar.update(size)
    if not coder.is_empty():
        raise DecodeMismatch("words are left over after decoding")
    return symbols, codes, means
