"""Image folders too large to hold decoded: the files stay on disk and each batch is decoded when it is needed.

``ImageFiles`` stands in for a split's tensor as ``DiskRows`` does for a .npy: ``images[index]`` decodes just those
files into float32 (C, H, W) values v / 255, the same values the in-memory path holds. Subsets are index arrays, so
the validation and test hold-outs cost nothing; the Trainer's batches are decoded in DataLoader worker processes
(``data.workers``), a few batches ahead, so decoding overlaps training.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from vaekit.data.dataset import Split
from vaekit.data.disk_array import DiskSplit
from vaekit.data.lazy import LazyExamples
from vaekit.data.user_files import as_labels, decode_images, folder_images, read_image

STREAM_ABOVE = 1 << 30  # bytes: a folder whose decoded float32 values would take more streams (data.stream unset)
DEFAULT_WORKERS = 4  # at most, and no more than the machine's cores


@dataclass(frozen=True)
class ImageFiles(LazyExamples):
    """Image files at ``positions`` of ``files``, indexed like the float tensor (len(positions), C, H, W)."""

    files: tuple[Path, ...]
    positions: np.ndarray
    size: tuple[int, int]
    resize: str
    mode: str

    @property
    def item_shape(self) -> tuple[int, ...]:
        return (1 if self.mode == "L" else 3, *self.size)

    def fetch(self, positions: np.ndarray) -> torch.Tensor:
        pixels = np.stack([read_image(self.files[int(i)], self.size, self.resize, self.mode) for i in positions])
        return torch.from_numpy(pixels).float().div_(255.0)


def decoded_bytes(count: int, size: tuple[int, int], mode: str) -> int:
    """What ``count`` images at ``size`` take decoded as float32."""
    return 4 * count * math.prod(size) * (1 if mode == "L" else 3)


def workers(requested: int | None) -> int:
    """``data.workers``, by default as many as the cores, at most :data:`DEFAULT_WORKERS`."""
    return min(DEFAULT_WORKERS, os.cpu_count() or 1) if requested is None else requested


def load_image_folder(folder: Path, image_size: tuple[int, int] | None, resize: str, channels: int | None,
                      stream: bool | None, worker_count: int | None) -> tuple[Split, list[str] | None]:
    """The images under ``folder`` and the class names (sub-folders are classes): decoded into memory, or with
    ``stream`` (by default when decoded they would pass :data:`STREAM_ABOVE`) kept as files and decoded batch by
    batch in ``worker_count`` worker processes."""
    files, y, classes, size, mode = folder_images(folder, image_size, channels)
    if stream is None:
        stream = decoded_bytes(len(files), size, mode) > STREAM_ABOVE
    if not stream:
        return decode_images(files, y, size, resize, mode, folder), classes
    images = ImageFiles(tuple(files), np.arange(len(files)), size, resize, mode)
    labels = None if y is None else as_labels(y, len(files), folder)
    return DiskSplit(images, labels, "8bit", workers=workers(worker_count)), classes  # type: ignore[arg-type]
