"""In-memory data splits and the seeded batch order the Trainer uses.

Data lives in one tensor per split (no per-sample loading): batches are index slices.
``kind`` says which likelihood fits: ``binary`` (Bernoulli), ``8bit`` (values k/255, the
discretized logistic), ``continuous`` (Gaussian) or ``tokens`` (sentences as token ids, :mod:`vaekit.data.text`).
"""
from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal, NamedTuple

import torch

if TYPE_CHECKING:
    from vaekit.config import AudioConfig, DataConfig
    from vaekit.data.tokenizer import Tokenizer

Kind = Literal["binary", "8bit", "continuous", "tokens"]

log = logging.getLogger(__name__)


def _generator(*seeds: int) -> torch.Generator:
    """A generator seeded by a tuple of integers (seed, epoch, step, ...)."""
    value = 0
    for s in seeds:
        value = (value * 1_000_003 + int(s)) % (2**63)
    return torch.Generator().manual_seed(value)


def binarize(x: torch.Tensor, *seeds: int, rows: slice | None = None, of: int | None = None) -> torch.Tensor:
    """One Bernoulli draw per pixel with probability equal to its 8-bit intensity x = v / 255.

    Exact and about 3x faster than ``torch.bernoulli``: with u uniform on {0, ..., 254},
    P(u < v) = v / 255, and u costs one byte of randomness instead of one float.
    ``x`` may be the ``rows`` of a batch of ``of`` examples (a data-parallel rank's share): it gets those rows'
    draws, the same as binarizing the whole batch.
    """
    levels = (x * 255).round_().to(torch.uint8)
    shape = x.shape if of is None else (of, *x.shape[1:])
    u = torch.randint(0, 255, shape, dtype=torch.uint8, generator=_generator(*seeds))
    return (u[slice(None) if rows is None else rows] < levels).float()


class Shard(NamedTuple):
    """This rank's rows of one training step's batch, and the step's labelled examples over all ranks."""

    x: torch.Tensor
    y: torch.Tensor | None
    step_labelled: int


PREFETCH = 2  # batches each DataLoader worker decodes ahead


class _BatchReader(torch.utils.data.Dataset):
    """Batch number b of an epoch's plan, this rank's rows of it: what a DataLoader worker decodes."""

    def __init__(self, split: "Split", plan: list[torch.Tensor], seeds: tuple[int, ...], rows: slice) -> None:
        self.split, self.plan, self.seeds, self.rows = split, plan, seeds, rows

    def __len__(self) -> int:
        return len(self.plan)

    def __getitem__(self, b: int) -> Shard | ValueError:
        """The shard, or the error that reading it met: handed back, not raised, so that a worker's error reaches
        the user as its own one line (a DataLoader wraps what a worker raises in its traceback)."""
        index = self.plan[b]
        try:
            x, y = self.split.read(index, (*self.seeds, b), self.rows)
        except ValueError as error:
            return error
        labelled = 0 if self.split.y is None else int((self.split.y[index] >= 0).sum())
        return Shard(x, y, labelled)


@dataclass(frozen=True)
class Split:
    """One split: ``x`` of shape (N, *data_shape) as float32, labels ``y`` (N,) or None.

    With ``dynamic_binarize`` each batch is a fresh Bernoulli draw from the intensities
    (dynamic binarization, as in Burda et al. 2015), seeded by (seed, step) so runs repeat exactly.
    """

    x: torch.Tensor
    y: torch.Tensor | None = None
    kind: Kind = "continuous"
    dynamic_binarize: bool = False
    workers: int = 0  # DataLoader worker processes that decode batches (examples kept as files)

    def __post_init__(self) -> None:
        if self.y is not None and len(self.y) != len(self.x):
            raise ValueError(f"{len(self.x)} examples but {len(self.y)} labels")

    def __len__(self) -> int:
        return len(self.x)

    @property
    def data_shape(self) -> tuple[int, ...]:
        return tuple(self.x.shape[1:])

    def subset(self, index: torch.Tensor | slice) -> "Split":
        return replace(self, x=self.x[index], y=None if self.y is None else self.y[index])

    @property
    def has_known_labels(self) -> bool:
        """Whether some examples carry a known label (not :data:`UNLABELLED`)."""
        return self.y is not None and bool((self.y != UNLABELLED).any())

    def with_known_labels(self) -> "Split":
        """The examples whose label is known; a split without labels has none."""
        return self.subset(slice(0, 0) if self.y is None else self.y != UNLABELLED)

    def batch_plan(self, batch_size: int, *, epoch: int = 0, seed: int = 0, shuffle: bool = True,
                   labelled_extra: int = 0) -> list[torch.Tensor]:
        """The examples of each batch of one epoch, seeded by (seed, epoch): the same on every rank and on resume.
        With ``labelled_extra`` and a partly labelled split, each batch also gets that many labelled examples drawn
        at random (seeded) from the labelled few."""
        n = len(self)
        order = torch.randperm(n, generator=_generator(seed, epoch)) if shuffle else torch.arange(n)
        pool = torch.nonzero(self.y >= 0).squeeze(1) if self.y is not None and labelled_extra else None
        if pool is not None and (len(pool) == 0 or len(pool) == n):
            pool = None
        plan = list(order.split(batch_size))
        if pool is not None:
            plan = [torch.cat([index, pool[torch.randint(len(pool), (labelled_extra,),
                                                         generator=_generator(seed, epoch, b, 31))]])
                    for b, index in enumerate(plan)]
        return plan

    def read(self, index: torch.Tensor, seeds: tuple[int, ...] = (), rows: slice = slice(None)
             ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(x, y) of the examples ``index[rows]``; dynamically binarized as in the whole batch ``index`` (seeded by
        ``seeds``)."""
        mine = index[rows]
        x = self.x[mine]
        if self.dynamic_binarize:
            x = binarize(x, *seeds, rows=rows, of=len(index))
        return x, None if self.y is None else self.y[mine]

    def shards(self, batch_size: int, *, epoch: int = 0, seed: int = 0, start: int = 0, shuffle: bool = True,
               labelled_extra: int = 0, rank: int = 0, ranks: int = 1, pin_memory: bool = False) -> Iterator[Shard]:
        """Rank ``rank``'s rows (``rank::ranks``) of each batch of one epoch, from batch number ``start`` on (for
        exact resume); a rank reads only its own rows. A split whose examples are files (``workers`` > 0) is decoded
        in that many DataLoader worker processes, a few batches ahead."""
        reader = _BatchReader(self, self.batch_plan(batch_size, epoch=epoch, seed=seed, shuffle=shuffle,
                                                    labelled_extra=labelled_extra), (seed, epoch),
                              slice(rank, None, ranks))
        numbers = range(start, len(reader))
        loaded = (reader[b] for b in numbers) if self.workers == 0 else torch.utils.data.DataLoader(
            reader, batch_size=None, sampler=numbers, num_workers=self.workers, pin_memory=pin_memory,
            prefetch_factor=PREFETCH)
        for shard in loaded:
            if isinstance(shard, ValueError):
                raise shard
            yield shard

    def labelled_batches(self, batch_size: int, *, epoch: int = 0, seed: int = 0, start: int = 0,
                         shuffle: bool = True, labelled_extra: int = 0
                         ) -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
        """Yield (x, y) for the batches of one epoch (:meth:`shards` of one rank); y is None when the split has
        no labels."""
        for x, y, _ in self.shards(batch_size, epoch=epoch, seed=seed, start=start, shuffle=shuffle,
                                   labelled_extra=labelled_extra):
            yield x, y

    def batches(self, batch_size: int, *, epoch: int = 0, seed: int = 0, start: int = 0,
                shuffle: bool = True) -> Iterator[torch.Tensor]:
        """The inputs of :meth:`labelled_batches`."""
        for x, _ in self.labelled_batches(batch_size, epoch=epoch, seed=seed, start=start, shuffle=shuffle):
            yield x

    def steps_per_epoch(self, batch_size: int) -> int:
        return (len(self.x) + batch_size - 1) // batch_size


POOL = 50  # batches whose sequences are sorted by length together


@dataclass(frozen=True)
class SequenceSplit(Split):
    """Sequences padded to one length along axis 1; subclasses say each one's ``lengths``. Training batches group
    sequences of similar length (a seeded shuffle, then sorting within pools of 50 batches) and every batch is cut
    to its longest sequence, so recurrent networks, which pack their inputs, spend little on padding."""

    @property
    def lengths(self) -> torch.Tensor:
        raise NotImplementedError

    @property
    def elements(self) -> int:
        """Real data elements in the split (tokens, or frames times features), padding left out."""
        return int(self.lengths.sum()) * math.prod(self.x.shape[2:])

    def batch_plan(self, batch_size: int, *, epoch: int = 0, seed: int = 0, shuffle: bool = True,
                   labelled_extra: int = 0) -> list[torch.Tensor]:
        """Shuffled batches grouped by length (seeded); unshuffled ones in order."""
        if not shuffle:
            return list(torch.arange(len(self)).split(batch_size))
        lengths = self.lengths
        order = torch.randperm(len(self), generator=_generator(seed, epoch))
        pooled = [chunk[torch.argsort(lengths[chunk], stable=True)] for chunk in order.split(POOL * batch_size)]
        batches = list(torch.cat(pooled).split(batch_size))
        return [batches[i] for i in torch.randperm(len(batches), generator=_generator(seed, epoch, 1))]

    def read(self, index: torch.Tensor, seeds: tuple[int, ...] = (), rows: slice = slice(None)
             ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The sequences ``index[rows]``, cut to their longest."""
        mine = index[rows]
        longest = int(self.lengths[mine].max()) if len(mine) else 1
        return self.x[mine, :longest], None if self.y is None else self.y[mine]


@dataclass(frozen=True)
class Data:
    """Train, validation and test splits of one data set (and the tokenizer of text, the spectrogram settings of
    audio)."""

    name: str
    train: Split
    valid: Split
    test: Split
    tokenizer: "Tokenizer | None" = None
    audio: "AudioConfig | None" = None
    classes: tuple[str, ...] | None = None  # the name of each label (folders' names, digits, genres)
    source: "DataConfig | None" = None  # the config it was loaded from (load_data fills it in)
    levels: int = 256  # 8-bit data: the grey levels its values lie on (vaekit.data.levels)

    @property
    def data_shape(self) -> tuple[int, ...]:
        return self.train.data_shape

    @property
    def kind(self) -> Kind:
        return self.train.kind

    def describe(self) -> str:
        """One line for the start of a run: the splits' sizes and what the data is."""
        unit = "sentences" if self.kind == "tokens" else "clips" if self.audio is not None else "examples"
        kind = f"8bit on {self.levels} grey levels" if self.kind == "8bit" and self.levels < 256 else self.kind
        return (f"data '{self.name}': {len(self.train):,} training, {len(self.valid):,} validation and "
                f"{len(self.test):,} test {unit}, {kind}, shape {self.data_shape}")


UNLABELLED = -1  # the label of an example whose label is hidden (semi-supervised training)


SPLIT_FOLDERS = {"train", "training", "test", "testing", "val", "valid", "validation", "dev", "eval"}


def folder_labels(folder: Path, files: list[Path]) -> tuple[list[int] | None, list[str] | None]:
    """Labels and class names of files under ``folder``: each sub-folder is a class (its path the name); a file at
    the top, beside class sub-folders, has no label (-1) and names no class. No sub-folders: no labels. When every
    top folder is named as a split (``train/cat``, ``test/cat``), the classes are the folders inside them."""
    places = [p.parent.relative_to(folder).as_posix() for p in files]
    tops = {place.split("/")[0] for place in places} - {"."}
    if tops and all(top.lower() in SPLIT_FOLDERS for top in tops):
        places = [place.partition("/")[2] or "." for place in places]
        log.warning("%s: %s are taken as splits of the same classes: the classes are the folders inside them, and "
                    "the files are pooled and split again by data.validation and data.test (to keep your split, "
                    "train on one folder and score another with vaekit evaluate --data)", folder,
                    " and ".join(f"{top}/" for top in sorted(tops)))
    classes = sorted(set(places) - {"."})
    if not classes:
        return None, None
    loose = places.count(".")
    if loose:
        log.info("%s: %d files outside the class sub-folders have no label (-1)", folder, loose)
    index = {name: i for i, name in enumerate(classes)}
    return [index.get(place, UNLABELLED) for place in places], classes


def keep_labels(split: Split, per_class: int, seed: int) -> Split:
    """Keep the labels of ``per_class`` examples of each class, chosen by a seeded permutation per class;
    the others' labels become :data:`UNLABELLED` (Kingma et al. 2014's balanced labelled subsets)."""
    if split.y is None:
        raise ValueError("labels_per_class needs labelled data; this data set has no labels")
    y = torch.full_like(split.y, UNLABELLED)
    for c in torch.unique(split.y[split.y >= 0]).tolist():
        members = torch.nonzero(split.y == c).squeeze(1)
        if len(members) < per_class:
            raise ValueError(f"class {c} has only {len(members)} training examples, fewer than "
                             f"labels_per_class={per_class}")
        chosen = members[torch.randperm(len(members), generator=_generator(seed, 104729, c))[:per_class]]
        y[chosen] = c
    return replace(split, y=y)


def unknown_labels_to_training(data: Data) -> Data:
    """Held-out examples whose label is unknown (:data:`UNLABELLED`, as a user's own partly labelled file has them)
    can score neither a classifier nor a conditional model's log p(x|y): for a model that learns from labels they
    join the training split, as the unlabelled examples they are, and the log says how many."""
    held: dict[str, Split] = {}
    xs: list[torch.Tensor] = [data.train.x]
    ys: list[torch.Tensor] = [] if data.train.y is None else [data.train.y]
    for name in ("valid", "test"):
        split = getattr(data, name)
        unknown = None if split.y is None else split.y == UNLABELLED
        if unknown is None or not bool(unknown.any()):
            continue
        if data.train.y is None or not all(type(s) is Split for s in (split, data.train)):
            raise ValueError(f"the {name} split holds examples with unknown labels (-1), which a model that learns "
                             "from labels cannot score; label every held-out example")
        held[name] = split.subset(~unknown)
        xs.append(split.x[unknown])
        ys.append(split.y[unknown])
    if not held:
        return data
    log.info("%d held-out examples with unknown labels (-1) train instead: held-out figures need labels",
             sum(len(x) for x in xs[1:]))
    return replace(data, train=replace(data.train, x=torch.cat(xs), y=torch.cat(ys)), **held)


VALIDATION_CAP, TEST_CAP = 5000, 10000  # most examples a fractional data.validation / data.test holds out
MIN_TRAIN_SHARE = 0.5  # validation and test together never take more than half of the examples


def held_out(size: float, count: int, cap: int) -> int:
    """Examples a ``data.validation``/``data.test`` of ``size`` holds out of ``count``: a fraction below 1 (rounded
    half up, at most ``cap``) or a count."""
    if size >= 1:
        return int(size)
    return min(cap, math.floor(count * size + 0.5))


def split_sizes(name: str, count: int, validation: float, test: float | None = None) -> tuple[int, int, int]:
    """(train, validation, test) sizes for ``count`` examples, the rule every data set follows: each a fraction of
    all ``count`` (or a count), the test split only where the set has none of its own (``test`` None). A split that
    leaves fewer than half of the examples for training is refused with the sizes."""
    n_test = 0 if test is None else held_out(test, count, TEST_CAP)
    n_valid = held_out(validation, count, VALIDATION_CAP)
    n_train = count - n_test - n_valid
    if n_train < max(1, math.ceil(count * MIN_TRAIN_SHARE)):
        asked = f"data.validation={validation:g}" + ("" if test is None else f" and data.test={test:g}")
        raise ValueError(f"'{name}' has {count:,} examples: {asked} hold out {n_valid:,} for validation and "
                         f"{n_test:,} for test, leaving {max(0, n_train):,} for training; at least half must train "
                         "(use fractions such as data.validation=0.1 data.test=0.1)")
    return n_train, n_valid, n_test


def split_off(split: Split, count: int, seed: int) -> tuple[Split, Split]:
    """Hold out ``count`` examples chosen by a seeded permutation: (rest, held_out)."""
    if count >= len(split):
        raise ValueError(f"cannot hold out {count} of only {len(split)} examples; lower data.validation")
    order = torch.randperm(len(split), generator=_generator(seed, 7919))
    return split.subset(order[count:]), split.subset(order[:count])
