"""A user's own ``torch.utils.data.Dataset`` as training data: ``vaekit.fit(model, dataset)``.

Items are a tensor x, or an (x, label) pair. Nothing is loaded up front: like an image folder kept on disk
(:mod:`vaekit.data.image_stream`), each batch's items are fetched when it is needed, in DataLoader worker processes.
The likelihood a model needs depends on the values (``kind``): given by the caller, or detected from the first
items and then checked on every batch, so data that stops fitting it is one clear error, not a silent wrong fit.
Labels are the dataset's ``targets`` (torchvision's convention) where it has them, else read in one pass.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from vaekit.data.dataset import Data, Kind, Split
from vaekit.data.disk_array import DiskSplit
from vaekit.data.lazy import LazyExamples
from vaekit.data.user_files import only_zeros_and_ones

PROBE = 256  # items whose values say the kind when it is not given


def _x_of(item: Any) -> torch.Tensor:
    return torch.as_tensor(item[0] if isinstance(item, (tuple, list)) else item, dtype=torch.float32)


def kind_of(values: torch.Tensor) -> Kind:
    """binary (0 and 1 only), 8bit (multiples of 1/255 in [0, 1]) or continuous."""
    if only_zeros_and_ones(values.numpy()):
        return "binary"
    steps = values * 255
    if bool(((values >= 0) & (values <= 1) & ((steps - steps.round()).abs() < 1e-4)).all()):
        return "8bit"
    return "continuous"


@dataclass(frozen=True)
class DatasetItems(LazyExamples):
    """Items at ``positions`` of ``dataset``, indexed like the float tensor (len(positions), *item_shape)."""

    dataset: Dataset
    positions: np.ndarray
    shape_of_items: tuple[int, ...]
    kind: Kind

    @property
    def item_shape(self) -> tuple[int, ...]:
        return self.shape_of_items

    def fetch(self, positions: np.ndarray) -> torch.Tensor:
        """The items, checked: each of the first item's shape, finite, of the data's kind."""
        items = [_x_of(self.dataset[int(i)]) for i in positions]
        for i, x in zip(positions, items):
            if tuple(x.shape) != self.item_shape:
                raise ValueError(f"item {int(i)} of the dataset has shape {tuple(x.shape)}; the first had "
                                 f"{self.item_shape}")
        x = torch.stack(items)
        if self.kind != "continuous" and kind_of(x) not in (self.kind, "binary"):
            raise ValueError(f"a batch of the dataset (items {int(positions[0])}, ...) holds values that are not "
                             f"{self.kind} data, as its first items were; give kind='continuous' (or the right kind)")
        if not bool(torch.isfinite(x).all()):
            raise ValueError(f"a batch of the dataset (items {int(positions[0])}, ...) holds NaN or infinite values")
        return x


def _labels(dataset: Dataset, count: int, labelled: bool, workers: int) -> torch.Tensor | None:
    if not labelled:
        return None
    targets = getattr(dataset, "targets", None)
    if targets is None:  # one pass over the items
        loader = DataLoader(dataset, batch_size=256, num_workers=workers, collate_fn=lambda b: [t[1] for t in b])
        targets = [y for batch in loader for y in batch]
    y = torch.as_tensor(np.asarray(targets))
    if y.shape != (count,) or y.dtype.is_floating_point or y.dtype == torch.bool:
        raise ValueError(f"the dataset's labels must be {count} integers; got {y.dtype} of shape {tuple(y.shape)}")
    return y.long()


def from_dataset(dataset: Dataset, kind: Kind | None = None, workers: int = 2, name: str | None = None) -> Data:
    """A map-style ``dataset`` (``len`` and ``dataset[i]``) as training :class:`Data`, fetched batch by batch in
    ``workers`` processes; no validation or test split (evaluate on a split of your own)."""
    try:
        count = len(dataset)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError("vaekit trains on a map-style Dataset, with len(dataset) and dataset[i]") from None
    if count == 0:
        raise ValueError("the dataset is empty")
    first = dataset[0]
    labelled = isinstance(first, (tuple, list)) and len(first) >= 2
    items = DatasetItems(dataset, np.arange(count), tuple(_x_of(first).shape), "continuous")
    items = replace(items, kind=kind or kind_of(items[:PROBE]))  # the probe checked as every batch is
    train = DiskSplit(items, _labels(dataset, count, labelled, workers), items.kind,  # type: ignore[arg-type]
                      workers=workers)
    empty: Split = train.subset(slice(0, 0))
    return Data(name or type(dataset).__name__, train, empty, empty)
