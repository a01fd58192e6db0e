"""The compressed file: a self-checking container around one coded payload.

Layout (integers little-endian)::

    magic      8 bytes   b"\\x89VAEKIT\\n"
    version    u16       FORMAT_VERSION
    header     u32 length, then UTF-8 JSON (:class:`Header`)
    payload    u64 length, then the coded bytes
    digest     32 bytes  SHA-256 of everything before it

The digest catches truncation and flipped bits before any decoding starts; the header names the
model's weights (SHA-256), so decoding with another model is refused rather than producing noise.
"""
from __future__ import annotations

import hashlib
import json
import math
import struct
from typing import Any, Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator

from vaekit.limits import check_fits
from vaekit.version import __version__

MAGIC = b"\x89VAEKIT\n"
FORMAT_VERSION = 2  # 2: coding distributions computed identically on every machine (vaekit.codec.exact)
WRITTEN_BY = f"vaekit {__version__}, torch {torch.__version__.split('+')[0]}"
MAX_HEADER_BYTES = 16 << 20
MAX_BATCH = 1 << 16  # items per network pass
MAX_BATCH_ELEMENTS = 1 << 22  # data elements per network pass: its coding tables stay under about 1 GB
MAX_SYMBOLS = 1 << 16  # lossy: the widest range of latent symbols (a table of 2^8 + 1 edges per digit)
_DIGEST_BYTES = 32


class CodecError(ValueError):
    """A file that cannot be decoded, or data that cannot be coded; the message says why."""


class DecodeMismatch(CodecError):
    """The payload decoded to other content than was coded (a decoder's check, turned into :func:`mismatch`)."""


def mismatch(header: "Header") -> str:
    """Why a file whose header and model agree can still fail to decode: say what may differ."""
    return (f"the decoded content does not match the file's checksum, though its model and header match: the file "
            f"was altered after it was written (its outer digest recomputed), or {header.written_by or 'its writer'} "
            f"and {WRITTEN_BY} compute the coding distributions differently: please report it")


class Header(BaseModel):
    """What a decoder needs besides the model and the payload."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: Literal["lossless", "lossy"]
    model_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    item_shape: tuple[int, ...] = Field(min_length=1, max_length=4)
    alphabet: int | None = Field(default=None, ge=2, le=256)  # lossless: values per element (codec.values_of)
    count: int = Field(ge=1)
    batches: tuple[int, ...] = ()  # lossless: the coding order, items per network pass
    content_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")  # of the decoded symbols (lossless) or latents (lossy)
    precision: int | None = Field(default=None, ge=2, le=16)  # lossless: latent buckets per dimension = 2**precision
    step: float | None = Field(default=None, gt=0, le=64)  # lossy: quantization step in prior standard deviations
    entropy_model: tuple[tuple[float, float], ...] | None = None  # lossy: per-latent (mean, std) in symbol units
    symbol_range: tuple[int, int] | None = None  # lossy: smallest and largest latent symbol
    latent: Literal["buckets", "codes"] = "buckets"  # continuous latents in buckets, or a VQ-VAE's code indices
    classes: int | None = Field(default=None, ge=2, le=1 << 16)  # a conditional model's labels, coded with the data
    source: dict[str, Any] = Field(default_factory=dict)  # how the input was given (file names, array dtype)
    kind: Literal["array", "text"] = "array"  # text: lines coded by a sentence VAE (vaekit.codec.text)
    final_newline: bool | None = None  # text: whether the last line ends in a newline
    tokenizer_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")  # text: the model's tokenizer
    written_by: str | None = Field(default=None, max_length=200)  # the vaekit and torch that wrote the file
    longest_line: int | None = Field(default=None, ge=1, le=1 << 16)  # text: tokens of the longest line, </s> too
    longest_word: int | None = Field(default=None, ge=0, le=1 << 16)  # text: bytes of the longest spelled-out word

    @model_validator(mode="after")
    def _consistent(self) -> Header:
        if (self.mode == "lossless" or self.latent == "codes") and (any(b < 1 or b > MAX_BATCH for b in self.batches)
                                                                   or sum(self.batches) != self.count):
            raise ValueError(f"batch sizes {list(self.batches)[:8]}... do not add up to the item count {self.count}")
        if any(s < 1 or s > 1 << 16 for s in self.item_shape):
            raise ValueError(f"implausible item shape {self.item_shape}")
        if self.batches and max(self.batches) * math.prod(self.item_shape) > MAX_BATCH_ELEMENTS:
            raise ValueError(f"a batch of {max(self.batches)} items of shape {self.item_shape} is more than "
                             f"{MAX_BATCH_ELEMENTS:,} elements per network pass")
        if self.mode == "lossless" and ((self.alphabet is None and self.kind == "array")
                                        or (self.precision is None and self.latent == "buckets")):
            raise ValueError("a lossless header needs the latent precision and the alphabet")
        if self.kind == "text" and (self.mode != "lossless" or self.final_newline is None
                                    or self.tokenizer_sha256 is None or self.longest_line is None
                                    or self.longest_word is None):
            raise ValueError("a text header is lossless and records the final newline, the tokenizer and the "
                             "longest line and word")
        if self.mode == "lossy" and self.latent == "buckets" and (self.step is None or self.symbol_range is None
                                                                  or self.batches):
            raise ValueError("a lossy header needs the quantization step and the symbol range, and no batches")
        if self.symbol_range is not None and not 0 < self.symbol_range[1] - self.symbol_range[0] <= MAX_SYMBOLS:
            raise ValueError(f"the symbol range {self.symbol_range} is empty or wider than {MAX_SYMBOLS}")
        return self


def content_sha256(header: Header, *arrays: np.ndarray | None) -> str:
    """The content checksum: every header field but itself (so a forged note that decides the output is caught even
    where the file's outer digest was recomputed), then the decoded arrays (symbols or latent codes, labels, and for
    lossy files the 8-bit reconstruction), each with its dtype and shape."""
    digest = hashlib.sha256(header.model_dump_json(exclude={"content_sha256"}, exclude_none=True).encode())
    for given in arrays:
        if given is None:
            continue
        array = np.ascontiguousarray(given)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def _first_line(error: BaseException) -> str:
    if isinstance(error, RecursionError):
        return "nested too deeply"
    line = str(error).splitlines()[0] if str(error) else type(error).__name__
    return line if len(line) <= 200 else line[:200] + "..."


def batch_limit(max_batch: int, item_shape: tuple[int, ...]) -> int:
    """The most items per network pass: ``max_batch``, fewer for large items (:data:`MAX_BATCH_ELEMENTS`)."""
    elements = math.prod(item_shape)
    if elements > MAX_BATCH_ELEMENTS:
        raise CodecError(f"items of shape {item_shape} ({elements:,} elements) are too large to code; the most is "
                         f"{MAX_BATCH_ELEMENTS:,} elements per item")
    return max(1, min(max_batch, MAX_BATCH_ELEMENTS // elements))


def catch_panic(error: BaseException) -> CodecError:
    """constriction reports a Rust panic as a ``BaseException``: that one becomes a :class:`CodecError`; any
    other (a caller's timeout, KeyboardInterrupt) is raised again."""
    if type(error).__name__ != "PanicException" and not isinstance(error, Exception):
        raise error
    return CodecError(f"the payload does not decode ({type(error).__name__}: {_first_line(error)})")


def check_decodable(header: Header) -> None:
    """Refuse, before any allocation, a file whose claimed items would not fit in this machine's memory."""
    elements = header.count * math.prod(header.item_shape)
    try:
        check_fits(elements * 16.0, f"the file's {header.count:,} items of shape {header.item_shape}")
    except ValueError as error:
        raise CodecError(str(error)) from None


def pack(header: Header, payload: bytes) -> bytes:
    """The container's bytes."""
    head = header.model_dump_json(exclude_none=True).encode()  # unset notes take no room
    body = b"".join([MAGIC, struct.pack("<HI", FORMAT_VERSION, len(head)), head,
                     struct.pack("<Q", len(payload)), payload])
    return body + hashlib.sha256(body).digest()


def unpack(data: bytes) -> tuple[Header, bytes]:
    """Header and payload of a container, after checking magic, version, lengths and digest."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise CodecError(f"expected the compressed file's bytes, got {type(data).__name__}")
    data = bytes(data)
    if not data.startswith(MAGIC):
        raise CodecError("not a vaekit compressed file (the magic bytes are missing)")
    fixed = len(MAGIC) + 6
    if len(data) < fixed + 8 + _DIGEST_BYTES:
        raise CodecError(f"the file is truncated ({len(data)} bytes)")
    version, head_len = struct.unpack_from("<HI", data, len(MAGIC))
    if version == 1:
        raise CodecError("the file has format version 1, written by vaekit 0.1, whose coding depended on the "
                         "machine's threads and instruction set: decode it with vaekit 0.1 where it was written")
    if version != FORMAT_VERSION:
        raise CodecError(f"the file has format version {version}; this vaekit reads version {FORMAT_VERSION}")
    body, digest = data[:-_DIGEST_BYTES], data[-_DIGEST_BYTES:]
    if hashlib.sha256(body).digest() != digest:
        raise CodecError("the file is corrupt or truncated (its SHA-256 does not match)")
    if head_len > min(MAX_HEADER_BYTES, len(body) - fixed - 8):
        raise CodecError("the file's header length is inconsistent with its size")
    (payload_len,) = struct.unpack_from("<Q", body, fixed + head_len)
    if fixed + head_len + 8 + payload_len != len(body):
        raise CodecError("the file's payload length is inconsistent with its size")
    try:
        header = Header.model_validate(json.loads(body[fixed:fixed + head_len].decode()))
    except (ValueError, RecursionError) as error:  # bad UTF-8 or JSON, a 5,000-digit number, deep nesting, a field
        raise CodecError(f"the file's header is invalid ({_first_line(error)})") from None
    return header, body[fixed + head_len + 8:]
