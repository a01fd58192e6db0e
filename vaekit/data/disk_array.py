"""Data larger than memory: the rows of an uncompressed .npy file, read from disk on demand.

``DiskRows`` stands in for a split's tensor: ``rows[index]`` reads just those rows with ``os.pread`` (runs of
consecutive rows in one call) and returns float32, 8-bit values scaled to [0, 1] as in memory. Subsets (the
validation and test hold-outs, ``data.limit``) are index arrays, never copies, so the process holds one batch at a
time; the kernel's page cache, which it can always reclaim, keeps the hot parts of the file. The header is parsed
by NumPy's own ``numpy.lib.format``; object arrays are refused, so nothing is ever unpickled.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import cast

import numpy as np
import torch
from numpy.lib import format as npy_format

from vaekit.data.dataset import Kind, Split
from vaekit.data.lazy import LazyExamples
from vaekit.data.user_files import as_labels, images_shape, only_zeros_and_ones, read_npy, to_channels_first

_SCAN_ROWS = 8192  # rows per chunk when the whole file is checked once (finite values, kind)


@dataclass(frozen=True)
class NpyLayout:
    """Where a .npy file's array lies: its shape, its dtype and the offset of its first byte."""

    shape: tuple[int, ...]
    dtype: np.dtype
    offset: int

    @property
    def row_bytes(self) -> int:
        return int(np.prod(self.shape[1:])) * self.dtype.itemsize


def read_layout(path: Path) -> NpyLayout:
    """The layout of a C-ordered numeric .npy file of at least one row, checked against the file's size."""
    try:
        with open(path, "rb") as f:
            version = npy_format.read_magic(f)
            read = npy_format.read_array_header_1_0 if version == (1, 0) else npy_format.read_array_header_2_0
            shape, fortran_order, dtype = read(f)
            layout = NpyLayout(tuple(shape), dtype, f.tell())
    except (ValueError, OSError) as error:
        raise ValueError(f"{path}: not a readable .npy file ({error})") from None
    if dtype.hasobject or not (np.issubdtype(dtype, np.number) or dtype == np.bool_) or dtype.kind == "c":
        raise ValueError(f"{path}: expected an array of real numbers, got dtype {dtype}")
    if fortran_order:
        raise ValueError(f"{path}: the array is stored in Fortran order; save it with np.save(path, "
                         "np.ascontiguousarray(x)) to read it by rows")
    if len(shape) < 2 or shape[0] == 0:
        raise ValueError(f"{path}: expected an array of shape (N, ...) with N >= 1, got shape {shape}")
    size, expected = os.path.getsize(path), layout.offset + shape[0] * layout.row_bytes
    if size < expected:
        raise ValueError(f"{path}: truncated: {size} bytes where the header promises {expected}")
    return layout


@dataclass(frozen=True)
class DiskRows(LazyExamples):
    """Rows ``positions`` of the array in a .npy file, indexed like a float tensor (len(positions), *row)."""

    path: Path
    layout: NpyLayout
    positions: np.ndarray
    divisor: float = 1.0  # 255 for 8-bit data (0 and 1 stay as they are in binary data)
    images: tuple[int, ...] | None = None  # (C, H, W) of rows that are images in another layout (channels last)

    @classmethod
    def open(cls, path: Path) -> "DiskRows":
        layout = read_layout(path)
        return cls(Path(path), layout, np.arange(layout.shape[0]))

    @property
    def item_shape(self) -> tuple[int, ...]:
        return self.images or tuple(self.layout.shape[1:])

    def read(self, positions: np.ndarray) -> np.ndarray:
        """The rows at file positions ``positions`` (in any order) with their stored dtype."""
        if len(positions) == 0:
            return np.empty((0, *self.layout.shape[1:]), dtype=self.layout.dtype)
        size, order = self.layout.row_bytes, np.argsort(positions, kind="stable")
        wanted = positions[order]
        out = np.empty((len(wanted), size), dtype=np.uint8)
        runs = np.split(np.arange(len(wanted)), np.flatnonzero(np.diff(wanted) != 1) + 1)
        fd = os.open(self.path, os.O_RDONLY)
        try:
            for run in runs:  # consecutive rows: one read
                first, count = int(run[0]), len(run)
                data = os.pread(fd, count * size, self.layout.offset + int(wanted[first]) * size)
                if len(data) != count * size:
                    raise ValueError(f"{self.path}: the file was cut short while it was being read")
                out[first:first + count] = np.frombuffer(data, dtype=np.uint8).reshape(count, size)
        finally:
            os.close(fd)
        rows = np.empty_like(out)
        rows[order] = out
        return rows.view(self.layout.dtype).reshape(len(positions), *self.layout.shape[1:])

    def fetch(self, positions: np.ndarray) -> torch.Tensor:
        values = torch.from_numpy(self.read(positions).astype(np.float32))
        values = values if self.images is None else to_channels_first(values, self.images)
        return values / self.divisor if self.divisor != 1.0 else values

    def scan(self) -> Kind:
        """Read every row once, in chunks: refuse NaN or infinity; say which likelihood fits the values."""
        binary = True
        for start in range(0, len(self.positions), _SCAN_ROWS):
            chunk = self.read(self.positions[start:start + _SCAN_ROWS])
            if chunk.dtype.kind == "f" and not np.isfinite(chunk).all():
                raise ValueError(f"{self.path}: the array holds NaN or infinite values")
            binary = binary and only_zeros_and_ones(chunk)
        return "binary" if binary else "8bit" if self.layout.dtype == np.uint8 else "continuous"


@dataclass(frozen=True)
class DiskSplit(Split):
    """A split whose inputs stay on disk, rows of a .npy (:class:`DiskRows`) or image files
    (:class:`vaekit.data.image_stream.ImageFiles`); only the labels, if any, are in memory."""

    def subset(self, index: torch.Tensor | slice) -> "DiskSplit":
        rows = cast(LazyExamples, self.x).subset(index)
        return replace(self, x=rows, y=None if self.y is None else self.y[index])  # type: ignore[arg-type]


def load_disk_array(path: Path, labels: Path | None) -> DiskSplit:
    """A .npy file (N, ...) read by rows on demand, with optional labels: a .npy of N integers."""
    rows = DiskRows.open(path)
    kind = rows.scan()
    rows = replace(rows, divisor=255.0 if kind == "8bit" else 1.0, images=images_shape(rows.item_shape, kind, path))
    y = None if labels is None else as_labels(read_npy(labels), len(rows), labels)
    return DiskSplit(rows, y, kind)  # type: ignore[arg-type]
