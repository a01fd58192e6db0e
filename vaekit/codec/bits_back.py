"""Lossless coding by bits-back with ANS (Townsend, Bird & Barber 2019, "BB-ANS", arXiv:1901.04866, Table 1).

Encoding a datum x onto the ANS stack (the decoder undoes each step in reverse order):
    1. decode z  ~ q(z|x)  from the stack     (takes back  -log q(z|x) bits)
    2. encode x  under p(x|z)                 (costs       -log p(x|z) bits)
    3. encode z  under p(z)                   (costs       -log p(z)   bits)
so each datum adds -log p(x|z) - log p(z) + log q(z|x) bits: on average the negative ELBO.

Data are coded a batch at a time (one network pass per batch). Step 1 needs bits already on the stack:
the chain starts from a few fixed pseudo-random words (the initial bits, paid once) and each batch is only
as large as the stack can pay for, so batches grow as the chain lengthens. The batch sizes are recorded
in the header; decoding ends with exactly the initial words left on the stack, a check of its own.
"""
from __future__ import annotations

from collections.abc import Iterator

import constriction
import numpy as np
import torch
from tqdm import tqdm

from vaekit.codec.coding_dists import diagonal_gaussian, likelihood_masses
from vaekit.codec.container import CodecError
from vaekit.codec.digits import Masses, TwoDigits
from vaekit.codec.latent_buckets import LatentBuckets
from vaekit.models.base import LatentVariableModel

_HEADROOM = 1.25  # a batch may use at most 1/1.25 of the stack's bits


def buckets_for(model: LatentVariableModel, precision: int) -> LatentBuckets:
    loc, scale = diagonal_gaussian(model.prior(), "prior p(z)")
    return LatentBuckets(loc, scale, precision)


def data_bits(model: LatentVariableModel) -> int:
    """Bits per data element of the model's p(x|z): 1 (binary) or 8."""
    with torch.no_grad():
        return likelihood_masses(model.decode(model.prior().mean[None]))[0]


def initial_words(buckets: LatentBuckets) -> np.ndarray:
    """Enough fixed pseudo-random words for the first datum's posterior sample."""
    n = (len(buckets.loc) * buckets.precision) // 32 + 2
    words = np.random.default_rng(0xB175BAC).integers(0, 1 << 32, size=n, dtype=np.uint32)
    words[-1] |= np.uint32(1 << 31)  # a nonzero top word: a valid ANS state
    return words


def _posterior(model: LatentVariableModel, buckets: LatentBuckets, symbols: np.ndarray, bits: int) -> Masses:
    x = torch.from_numpy(symbols).float() / ((1 << bits) - 1)
    return buckets.posterior_masses(*diagonal_gaussian(model.encode(x), "posterior q(z|x)"))


@torch.no_grad()
def encode(model: LatentVariableModel, symbols: np.ndarray, bits: int, precision: int, max_batch: int,
           progress: bool = False) -> tuple[np.ndarray, list[int]]:
    """ANS words and batch sizes for ``symbols`` (N, *data_shape), integers in [0, 2^bits)."""
    buckets = buckets_for(model, precision)
    pixels = TwoDigits(bits)
    coder = constriction.stream.stack.AnsCoder(initial_words(buckets))
    uniform = constriction.stream.model.Uniform(buckets.size)
    dims = len(buckets.loc)
    batches: list[int] = []
    bits_per_item = None
    with tqdm(total=len(symbols), desc="compressing", unit="item", disable=not progress) as bar:
        while (start := sum(batches)) < len(symbols):
            size = 1 if bits_per_item is None else int(coder.num_bits() / (_HEADROOM * bits_per_item))
            size = max(1, min(size, max_batch, len(symbols) - start))
            x = symbols[start:start + size]
            before = coder.num_bits()
            index = buckets.digits.decode(coder, _posterior(model, buckets, x, bits))
            bits_per_item = max(1.0, (before - coder.num_bits()) / size)
            z = buckets.centres(index.reshape(size, dims))
            pixels.encode(coder, x.reshape(-1), likelihood_masses(model.decode(z))[1])
            coder.encode_reverse(index, uniform)
            batches.append(size)
            bar.update(size)
    return coder.get_compressed(), batches


def _reversed_starts(batches: list[int]) -> Iterator[tuple[int, int]]:
    ends = np.cumsum(batches)
    for end, size in zip(ends[::-1], batches[::-1]):
        yield int(end - size), int(size)


@torch.no_grad()
def decode(model: LatentVariableModel, words: np.ndarray, count: int, item_shape: tuple[int, ...], bits: int,
           precision: int, batches: list[int], progress: bool = False) -> np.ndarray:
    """The symbols (count, *item_shape) that :func:`encode` turned into ``words``."""
    buckets = buckets_for(model, precision)
    pixels = TwoDigits(bits)
    coder = constriction.stream.stack.AnsCoder(words)
    uniform = constriction.stream.model.Uniform(buckets.size)
    dims = len(buckets.loc)
    symbols = np.empty((count, *item_shape), dtype=np.int32)
    with tqdm(total=count, desc="decompressing", unit="item", disable=not progress) as bar:
        for start, size in _reversed_starts(batches):
            index = coder.decode(uniform, size * dims)
            z = buckets.centres(index.reshape(size, dims))
            x = pixels.decode(coder, likelihood_masses(model.decode(z))[1]).reshape(size, *item_shape)
            buckets.digits.encode(coder, index, _posterior(model, buckets, x, bits))
            symbols[start:start + size] = x
            bar.update(size)
    if not np.array_equal(coder.get_compressed(), initial_words(buckets)):
        raise CodecError("decoding did not end on the initial bits: the file does not match this model")
    return symbols
