"""Turn a name or a path into train/validation/test tensors.

``load_data(DataConfig(name="binarized-mnist"))`` or ``load_data(DataConfig(name="my_images/"))``.
"""
from __future__ import annotations

from pathlib import Path

from vaekit.config import DataConfig
from vaekit.data.dataset import UNLABELLED, Data, Kind, Split, binarize, keep_labels, split_off
from vaekit.data.files import DataNotFoundError
from vaekit.data.registry import DATASETS, NamedDataset
from vaekit.data.user_files import load_array, load_image_folder

__all__ = ["Data", "DataNotFoundError", "DATASETS", "Kind", "Split", "UNLABELLED", "binarize", "keep_labels",
           "load_data", "verify_named"]


def _user_data(path: Path, config: DataConfig) -> Data:
    if path.is_dir():
        split = load_image_folder(path, config.image_size, config.resize, config.channels)
    elif path.suffix in (".npy", ".npz"):
        split = load_array(path)
    else:
        raise ValueError(f"data.name '{path}' is neither a named set ({', '.join(DATASETS)}), "
                         "a folder of images, nor a .npy/.npz file")
    n_test = max(1, round(len(split) * config.test_fraction)) if config.test_fraction > 0 else 0
    rest, test = split_off(split, n_test, config.seed) if n_test else (split, split.subset(slice(0, 0)))
    n_valid = min(config.validation, max(0, len(rest) - 1))
    train, valid = split_off(rest, n_valid, config.seed + 1) if n_valid else (rest, rest.subset(slice(0, 0)))
    return Data(path.name, train, valid, test)


def load_data(config: DataConfig | None = None, **overrides: object) -> Data:
    """Load the data set ``config.name`` with its seeded splits; keyword arguments override config fields."""
    config = DataConfig.model_validate({**(config or DataConfig()).model_dump(), **overrides})
    if config.name in DATASETS:
        named = DATASETS[config.name]
        data = named.build(named, config.root, config.download, config.validation, config.seed)
    else:
        path = Path(config.name).expanduser()
        if not path.exists():
            raise ValueError(f"data.name '{config.name}' is not a named set ({', '.join(DATASETS)}) "
                             "nor an existing file or folder")
        data = _user_data(path, config)
    if config.limit is not None:
        data = Data(data.name, data.train.subset(slice(0, config.limit)), data.valid, data.test)
    if config.labels_per_class is not None:
        data = Data(data.name, keep_labels(data.train, config.labels_per_class, config.seed), data.valid, data.test)
    return data


def verify_named(name: str, root: Path | None = None, download: bool = False) -> list[str]:
    """Check every file of a named set; return one line per file ('ok' or the problem)."""
    named: NamedDataset = DATASETS[name]
    lines = []
    for role, remote in named.files.items():
        try:
            named.fetch(role, root, download)
            lines.append(f"ok       {named.folder}/{remote.path}")
        except DataNotFoundError as error:
            lines.append(f"FAILED   {error}")
    return lines
