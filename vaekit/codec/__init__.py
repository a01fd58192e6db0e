"""Compression with a trained model: ``compress(model, x) -> bytes`` and ``decompress(model, data)`` -> a
:class:`Decompressed` (images, arrays or text, and labels).

* ``mode="lossless"``: bits-back ANS (:mod:`vaekit.codec.bits_back`); decodes to exactly the input.
* ``mode="lossy"``: quantized latent means (:mod:`vaekit.codec.lossy`); decodes to the reconstruction.

Both write the checked container of :mod:`vaekit.codec.container`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch

from vaekit.codec import bits_back, code_grid, lossy
from vaekit.codec.coding_dists import is_diagonal_gaussian, symbols_of, values_of
from vaekit.codec.container import (
    MAX_BATCH,
    WRITTEN_BY,
    CodecError,
    DecodeMismatch,
    Header,
    batch_limit,
    catch_panic,
    check_decodable,
    content_sha256,
    mismatch,
    pack,
    unpack,
)
from vaekit.codec.exact import exact_model
from vaekit.contract import Conditional, Density, Sentences
from vaekit.distributions.code_prior import CodePrior
from vaekit.models.base import LatentVariableModel
from vaekit.saving import model_sha256

__all__ = ["CodecError", "Decompressed", "Header", "compress", "decompress", "read_header"]

_DECODE_BATCH = 1000


def _as_batch(model: LatentVariableModel, x: torch.Tensor | np.ndarray) -> torch.Tensor:
    x = torch.as_tensor(x).float()
    shape = tuple(model.data_shape)
    if tuple(x.shape) == shape:
        x = x.unsqueeze(0)
    if tuple(x.shape[1:]) != shape or len(x) == 0:
        raise CodecError(f"expected data of shape (N, {', '.join(map(str, shape))}), got {tuple(x.shape)}")
    if not torch.isfinite(x).all() or x.min() < 0 or x.max() > 1:
        raise CodecError("expected finite values in [0, 1]")
    return x


def _eight_bit(x: torch.Tensor) -> np.ndarray:
    """A reconstruction as the 8-bit values it is written as: what a lossy file's checksum covers (float noise
    below half a level cannot change it)."""
    return np.round(x.double().clamp(0.0, 1.0).numpy() * 255.0).astype(np.uint8)


def _labels(model: LatentVariableModel, labels: torch.Tensor | np.ndarray | None, count: int) -> np.ndarray | None:
    """A conditional model's labels as int32 (count,), checked; None for other models."""
    if not isinstance(model, Conditional):
        if labels is not None:
            raise CodecError(f"{model.registered_name} is not conditioned on labels; give none")
        return None
    classes = model.num_classes
    assert classes is not None
    if labels is None:
        raise CodecError(f"{model.registered_name} codes each item given its label: give labels "
                         f"(class indices 0..{classes - 1}), one per item")
    y = np.asarray(labels)
    if y.shape != (count,) or not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() >= classes:
        raise CodecError(f"expected {count} integer labels in 0..{classes - 1}, got an array of {y.dtype} {y.shape}")
    return y.astype(np.int32)


Encoded = tuple[dict[str, Any], np.ndarray, list[np.ndarray | None]]  # header fields, ANS words, what is checked


def _words_bytes(words: np.ndarray) -> bytes:
    return words.astype("<u4").tobytes()


def _bytes_words(payload: bytes) -> np.ndarray:
    if len(payload) % 4:
        raise CodecError("the payload is not a whole number of 32-bit words")
    return np.frombuffer(payload, dtype="<u4").astype(np.uint32)


def _encode_lossless(model: LatentVariableModel, x: torch.Tensor, labels: np.ndarray | None, precision: int,
                     batch_size: int, progress: bool) -> Encoded:
    levels = bits_back.data_levels(model)
    symbols = symbols_of(x, levels)
    words, batches = bits_back.encode(model, symbols, levels, precision, batch_size, progress, labels)
    return dict(alphabet=levels, batches=tuple(batches), precision=precision), words, [symbols, labels]


def _encode_lossy(model: LatentVariableModel, x: torch.Tensor, labels: np.ndarray | None, step: float,
                  entropy_model: str, batch_size: int) -> Encoded:
    if entropy_model == "prior" and not is_diagonal_gaussian(model.prior()):
        raise CodecError("the 'prior' entropy model needs a diagonal Gaussian prior p(z); "
                         f"{type(model).__name__}'s is not: use entropy_model='fitted'")
    codes = lossy.latent_codes(model, x, step, batch_size, labels)
    fitted = lossy.fit_entropy_model(codes) if entropy_model == "fitted" else None
    symbol_range = (int(codes.min()), max(int(codes.max()), int(codes.min()) + 1))
    words = lossy.encode(codes, step, fitted, symbol_range, labels, getattr(model, "num_classes", 0))
    output = _eight_bit(lossy.reconstruct(model, codes, step, batch_size, labels))
    return dict(step=step, entropy_model=fitted, symbol_range=symbol_range), words, [codes, labels, output]


def _encode_codes(model: LatentVariableModel, x: torch.Tensor, lossless: bool, batch_size: int,
                  progress: bool) -> Encoded:
    levels = bits_back.data_levels(model)
    symbols = symbols_of(x, levels) if lossless else None
    words, batches, codes, means = code_grid.encode(model, x, symbols, levels, batch_size, progress)
    return (dict(latent="codes", batches=tuple(batches), alphabet=levels if lossless else None), words,
            [symbols] if symbols is not None else [codes, _eight_bit(means)])


@dataclass
class Decompressed:
    """What a vaekit file held: ``x`` (N, *data_shape) for images and arrays (the input exactly, or its
    reconstruction), or ``text`` for a text model's file; a conditional model's ``labels`` (N,) int32; the header."""

    header: Header
    x: torch.Tensor | None = None
    labels: np.ndarray | None = None
    text: str | None = None


def compress(model: LatentVariableModel, x: torch.Tensor | np.ndarray | str,
             mode: Literal["lossless", "lossy"] = "lossless", *, precision: int | None = None,
             step: float | None = None, entropy_model: Literal["fitted", "prior"] | None = None,
             batch_size: int = 1000, source: dict[str, Any] | None = None, progress: bool = False,
             labels: torch.Tensor | np.ndarray | None = None) -> bytes:
    """Code the batch ``x`` (N, *data_shape), values in [0, 1], into the bytes of a vaekit file; a text model
    codes the lines of the text ``x`` (a str) exactly (:mod:`vaekit.codec.text`, lossless only).

    Args:
        mode: ``"lossless"`` (bits-back ANS) or ``"lossy"`` (quantized latent means).
        precision: lossless: 2**precision buckets per latent dimension (of equal prior mass for a Gaussian p(z));
            default 12.
        step: lossy: quantization step of the latent means, in prior standard deviations (the rate knob); default 0.25.
        entropy_model: lossy: ``"fitted"`` (per-dimension Gaussian stored in the file, the default) or ``"prior"``.
        batch_size: most items per network pass.
        source: JSON-able notes kept in the header (the command line keeps file names here).
        labels: a conditional model's class of each item (N,); coded with the data (log2(classes) bits each).

    A VQ-VAE's latents are already discrete: its code indices are coded under its learned prior, and
    ``precision``, ``step`` and ``entropy_model`` do not apply.
    """
    if isinstance(x, str) or isinstance(model, Sentences):
        from vaekit.codec.text import compress_text

        if mode != "lossless" or step is not None or entropy_model is not None or labels is not None:
            raise CodecError("text is coded losslessly, without labels: give mode lossless and no step, "
                             "entropy_model or labels")
        return compress_text(model, x, precision=precision or 12, max_batch=batch_size,  # type: ignore[arg-type]
                             progress=progress, source=source)
    if mode not in ("lossless", "lossy"):
        raise CodecError(f"mode must be 'lossless' or 'lossy', not {mode!r}")
    if not isinstance(model, Density):
        raise CodecError(f"{model.registered_name} has no density of its codes under q(z|x) and p(z) to code "
                         "with; compress with a VAE")
    codes = isinstance(model.prior(), CodePrior)
    if codes and (precision, step, entropy_model) != (None, None, None):
        raise CodecError(f"{model.registered_name} codes its discrete code indices under its learned prior: "
                         "precision, step and entropy_model do not apply")
    precision = 12 if precision is None else precision
    step = 0.25 if step is None else step
    entropy_model = "fitted" if entropy_model is None else entropy_model
    if not 2 <= precision <= 16:
        raise CodecError(f"precision must be between 2 and 16 bits, not {precision}")
    if not (math.isfinite(step) and 0 < step <= 64):
        raise CodecError(f"step must be in (0, 64], not {step}")
    if entropy_model not in ("fitted", "prior"):
        raise CodecError(f"entropy_model must be 'fitted' or 'prior', not {entropy_model!r}")
    if not 1 <= batch_size <= MAX_BATCH:
        raise CodecError(f"batch_size must be between 1 and {MAX_BATCH}, not {batch_size}")
    x = _as_batch(model, x)
    y = _labels(model, labels, len(x))
    batch_size = batch_limit(batch_size, tuple(model.data_shape))
    with exact_model(model) as twin:
        if codes:
            fields, words, content = _encode_codes(twin, x, mode == "lossless", batch_size, progress)
        elif mode == "lossless":
            fields, words, content = _encode_lossless(twin, x, y, precision, batch_size, progress)
        else:
            fields, words, content = _encode_lossy(twin, x, y, step, entropy_model, batch_size)
    header = Header(mode=mode, model_sha256=model_sha256(model), item_shape=tuple(model.data_shape),
                    count=len(x), source=source or {}, classes=model.num_classes if y is not None else None,
                    written_by=WRITTEN_BY, content_sha256="0" * 64, **fields)
    header = header.model_copy(update={"content_sha256": content_sha256(header, *content)})
    return pack(header, _words_bytes(words))


def read_header(data: bytes) -> Header:
    """The checked header of a vaekit file (raises :class:`CodecError` for anything else)."""
    return unpack(data)[0]


Decoded = tuple[list[np.ndarray | None], torch.Tensor, np.ndarray | None]  # what is checked, items, labels


def _data_levels(model: LatentVariableModel, header: Header) -> int:
    """The model's values per data element, checked against a lossless file's alphabet."""
    levels = bits_back.data_levels(model)
    if header.mode == "lossless" and header.alphabet != levels:
        raise CodecError(f"the file codes {header.alphabet} values per element; the model codes {levels}")
    return levels


def _decode_codes(model: LatentVariableModel, header: Header, words: np.ndarray, progress: bool) -> Decoded:
    lossless = header.mode == "lossless"
    levels = _data_levels(model, header)
    symbols, codes, means = code_grid.decode(model, words, header.item_shape, levels, list(header.batches), lossless,
                                             progress)
    if lossless:
        return [symbols], values_of(symbols, levels), None
    return [codes, _eight_bit(means)], means, None


def _decode_lossless(model: LatentVariableModel, header: Header, words: np.ndarray, progress: bool) -> Decoded:
    assert header.precision is not None and header.alphabet is not None
    levels = _data_levels(model, header)
    symbols, labels = bits_back.decode(model, words, header.count, header.item_shape, levels, header.precision,
                                       list(header.batches), progress)
    return [symbols, labels], values_of(symbols, levels), labels


def _decode_lossy(model: LatentVariableModel, header: Header, words: np.ndarray) -> Decoded:
    assert header.step is not None and header.symbol_range is not None
    dims = model.latent_size
    if header.entropy_model is not None and len(header.entropy_model) != dims:
        raise CodecError(f"the file's entropy model has {len(header.entropy_model)} dimensions, "
                         f"the model's latent has {dims}")
    codes, labels = lossy.decode(words, (header.count, dims), header.step, header.entropy_model, header.symbol_range,
                                 header.classes or 0)
    x = lossy.reconstruct(model, codes, header.step, _DECODE_BATCH, labels)
    return [codes, labels, _eight_bit(x)], x, labels


def decompress(model: LatentVariableModel, data: bytes, progress: bool = False) -> Decompressed:
    """What :func:`compress` coded: the batch (N, *data_shape) exactly (lossless) or its reconstruction, with a
    conditional model's labels; a text model's file gives its text."""
    header, payload = unpack(data)
    if header.kind == "text":
        from vaekit.codec.text import decompress_text

        return Decompressed(header, text=decompress_text(model, data, progress=progress))
    check_decodable(header)
    expected = model_sha256(model)
    if header.model_sha256 != expected:
        raise CodecError(f"this file was made with the model whose weights and config have SHA-256 "
                         f"{header.model_sha256[:12]}..., not with this one ({expected[:12]}...)")
    if header.item_shape != tuple(model.data_shape):
        raise CodecError(f"the file holds items of shape {header.item_shape}; the model's are {model.data_shape}")
    if header.classes != (model.num_classes if isinstance(model, Conditional) else None):
        raise CodecError(f"the file codes labels of {header.classes} classes; the model takes "
                         f"{model.num_classes if isinstance(model, Conditional) else 'no labels'}")
    words = _bytes_words(payload)
    if (header.latent == "codes") != isinstance(model.prior(), CodePrior):
        raise CodecError(f"the file holds {header.latent == 'codes' and 'a VQ-VAE' or 'continuous'} latents; "
                         f"{model.registered_name} does not make them")
    try:
        with exact_model(model) as twin:
            if header.latent == "codes":
                content, result, labels = _decode_codes(twin, header, words, progress)
            elif header.mode == "lossless":
                content, result, labels = _decode_lossless(twin, header, words, progress)
            else:
                content, result, labels = _decode_lossy(twin, header, words)
    except DecodeMismatch:
        raise CodecError(mismatch(header)) from None
    except CodecError:
        raise
    except BaseException as error:
        raise catch_panic(error) from None
    result = result.float()
    if content_sha256(header, *content) != header.content_sha256:
        raise CodecError(mismatch(header))
    return Decompressed(header, result, labels)
