"""Lossless coding by bits-back with ANS (Townsend, Bird & Barber 2019, "BB-ANS", arXiv:1901.04866, Table 1).

Encoding a datum x onto the ANS stack (the decoder undoes each step in reverse order):
    1. decode z  ~ q(z|x)  from the stack     (takes back  -log q(z|x) bits)
    2. encode x  under p(x|z)                 (costs       -log p(x|z) bits)
    3. encode z  under p(z)                   (costs       -log p(z)   bits)
so each datum adds -log p(x|z) - log p(z) + log q(z|x) bits: on average the negative ELBO.
A conditional model codes each datum given its label c (q(z|x,c), p(x|z,c)) and then the label itself,
uniform over the classes: log2(classes) bits more, and the decoder recovers c first.

Latents are coded in buckets (:mod:`latent_buckets`) by the steps of :mod:`latent_codes`, so that
hierarchical and mixture priors code as well as the VAE's Gaussian one.

Data are coded a batch at a time (one network pass per batch). Step 1 needs bits already on the stack:
the chain starts from a few fixed pseudo-random words (the initial bits, paid once) and each batch is only
as large as the stack can pay for, so batches grow as the chain lengthens. The batch sizes are recorded
in the header; decoding ends with exactly the initial words left on the stack, a check of its own.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator

import constriction
import numpy as np
import torch

from vaekit.codec.coding_dists import (
    given_rows,
    is_diagonal_gaussian,
    label_code,
    likelihood_masses,
    prior_reference,
    values_of,
)
from vaekit.codec.container import DecodeMismatch
from vaekit.codec.digits import TwoDigits, bits_for
from vaekit.codec.latent_buckets import LatentBuckets
from vaekit.codec.latent_codes import LatentCode, UniformCode, latent_code
from vaekit.contract import Conditional, Latent, given
from vaekit.models.base import LatentVariableModel
from vaekit.progress import progress as progress_bar

_HEADROOM = 1.25  # a batch may use at most 1/1.25 of the stack's bits
_WIDEN = 2.0  # buckets of a non-Gaussian prior: a reference twice as wide as its standard deviation


def latent_coding(model: LatentVariableModel, precision: int) -> tuple[LatentBuckets, LatentCode]:
    """The buckets and the prior's code: uniform over the prior's own quantiles when p(z) is a diagonal
    Gaussian; else buckets of a broad Gaussian at the prior's mean, coded under p(z)'s masses."""
    prior = model.prior()
    loc, scale = prior_reference(prior)
    if is_diagonal_gaussian(prior):
        buckets = LatentBuckets(loc, scale, precision)
        return buckets, UniformCode(buckets)
    buckets = LatentBuckets(loc, _WIDEN * scale, precision)
    return buckets, latent_code(prior, buckets, 1, "prior p(z)")


def data_levels(model: LatentVariableModel) -> int:
    """Values per data element of the model's p(x|z): 2 (binary), 256 (8-bit) or the data's grey levels."""
    dists = given(model, torch.zeros(1, dtype=torch.long) if isinstance(model, Conditional) else None)
    with torch.no_grad():
        return likelihood_masses(dists.decode(torch.zeros(1, model.latent_size)))[0]


def _labels_code(model: LatentVariableModel) -> constriction.stream.model.Uniform | None:
    return label_code(model.num_classes) if isinstance(model, Conditional) and model.num_classes else None


def initial_words(buckets: LatentBuckets) -> np.ndarray:
    """Enough fixed pseudo-random words for the first datum's posterior sample."""
    n = (buckets.dims * buckets.precision) // 32 + 2
    words = np.random.default_rng(0xB175BAC).integers(0, 1 << 32, size=n, dtype=np.uint32)
    words[-1] |= np.uint32(1 << 31)  # a nonzero top word: a valid ANS state
    return words


def _posterior(dists: Latent, buckets: LatentBuckets, symbols: np.ndarray, levels: int) -> LatentCode:
    x = values_of(symbols, levels)
    return latent_code(dists.encode(x), buckets, len(x), "posterior q(z|x)")


@torch.no_grad()
def encode(model: LatentVariableModel, symbols: np.ndarray, levels: int, precision: int, max_batch: int,
           progress: bool = False, labels: np.ndarray | None = None) -> tuple[np.ndarray, list[int]]:
    """ANS words and batch sizes for ``symbols`` (N, *data_shape), integers in [0, levels), with their
    ``labels`` (N,) for a conditional model."""
    buckets, prior = latent_coding(model, precision)
    label_code = _labels_code(model)
    pixels = TwoDigits(bits_for(levels))
    coder = constriction.stream.stack.AnsCoder(initial_words(buckets))

    def code_batch(start: int, size: int) -> float:
        x = symbols[start:start + size]
        dists = given_rows(model, labels, slice(start, start + size))
        before = coder.num_bits()
        index = _posterior(dists, buckets, x, levels).pop(coder, size)
        taken = before - coder.num_bits()
        pixels.encode(coder, x.reshape(-1), likelihood_masses(dists.decode(buckets.centres(index)))[1])
        prior.push(coder, index)
        if label_code is not None and labels is not None:
            coder.encode_reverse(labels[start:start + size].astype(np.int32), label_code)
        return taken

    batches = encode_in_batches(coder, len(symbols), max_batch, code_batch, progress, "item")
    return coder.get_compressed(), batches


def encode_in_batches(coder: constriction.stream.stack.AnsCoder, count: int, max_batch: int,
                      code_batch: Callable[[int, int], float], progress: bool = False, unit: str = "item") -> list[int]:
    """Code items 0..count-1 in batches, each as large as the stack's bits can pay for: ``code_batch(start, size)``
    codes one batch and returns the bits its posterior draw took back. The batch sizes, in order."""
    batches: list[int] = []
    bits_per_item = None
    with progress_bar(count, "compressing", unit, progress) as bar:
        while (start := sum(batches)) < count:
            size = 1 if bits_per_item is None else int(coder.num_bits() / (_HEADROOM * bits_per_item))
            size = max(1, min(size, max_batch, count - start))
            bits_per_item = max(1.0, code_batch(start, size) / size)
            batches.append(size)
            bar.update(size)
    return batches


def reversed_starts(batches: list[int]) -> Iterator[tuple[int, int]]:
    ends = np.cumsum(batches)
    for end, size in zip(ends[::-1], batches[::-1]):
        yield int(end - size), int(size)


@torch.no_grad()
def decode(model: LatentVariableModel, words: np.ndarray, count: int, item_shape: tuple[int, ...], levels: int,
           precision: int, batches: list[int], progress: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """The symbols (count, *item_shape) that :func:`encode` turned into ``words``, and their labels (or None)."""
    buckets, prior = latent_coding(model, precision)
    label_code = _labels_code(model)
    pixels = TwoDigits(bits_for(levels))
    coder = constriction.stream.stack.AnsCoder(words)
    symbols = np.empty((count, *item_shape), dtype=np.int32)
    labels = None if label_code is None else np.empty(count, dtype=np.int32)
    with progress_bar(count, "decompressing", "item", progress) as bar:
        for start, size in reversed_starts(batches):
            y = None if label_code is None else coder.decode(label_code, size)
            dists = given_rows(model, y, slice(None))
            index = prior.pop(coder, size)
            likelihood = likelihood_masses(dists.decode(buckets.centres(index)))[1]
            x = pixels.decode(coder, likelihood).reshape(size, *item_shape)
            _posterior(dists, buckets, x, levels).push(coder, index)
            symbols[start:start + size] = x
            if labels is not None and y is not None:
                labels[start:start + size] = y
            bar.update(size)
    if not np.array_equal(coder.get_compressed(), initial_words(buckets)):
        raise DecodeMismatch("decoding did not end on the initial bits")
    return symbols, labels
