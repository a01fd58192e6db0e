from __future__ import annotations

import gzip
import logging
import shutil

import numpy as np
import pytest
import torch
from conftest import DATA_DIR
from PIL import Image

from vaekit import DataConfig, load_data
from vaekit.data import DataNotFoundError, verify_named


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
def test_eight_bit_sets_load_with_seeded_splits(name: str) -> None:
    data = load_data(DataConfig(name=name, validation=5000))
    assert (len(data.train), len(data.valid), len(data.test)) == (55000, 5000, 10000)
    assert data.data_shape == (1, 28, 28) and data.kind == "8bit"
    assert torch.equal(data.test.x * 255, (data.test.x * 255).round())
    assert set(data.test.y.unique().tolist()) == set(range(10))
    again = load_data(DataConfig(name=name, validation=5000))
    assert torch.equal(again.valid.x, data.valid.x)
    other = load_data(DataConfig(name=name, validation=5000, seed=1))
    assert not torch.equal(other.valid.x, data.valid.x)


def test_binarized_mnist_is_dynamic_for_training_and_fixed_for_test() -> None:
    data = load_data(DataConfig(name="binarized-mnist", limit=1000))
    assert data.kind == "binary" and set(data.test.x.unique().tolist()) == {0.0, 1.0}
    epoch0 = next(data.train.batches(100, epoch=0, shuffle=False))
    epoch1 = next(data.train.batches(100, epoch=1, shuffle=False))
    assert set(epoch0.unique().tolist()) == {0.0, 1.0}
    assert not torch.equal(epoch0, epoch1)  # a fresh draw each epoch
    assert torch.equal(epoch0, next(data.train.batches(100, epoch=0, shuffle=False)))  # seeded
    # the draws follow the intensities: mean pixel matches the 8-bit mean
    raw = load_data(DataConfig(name="mnist", limit=1000))
    assert abs(epoch0.mean() - raw.train.x[:100].mean()) < 0.01
    assert torch.equal(data.test.x, load_data(DataConfig(name="binarized-mnist", limit=10)).test.x)


def test_verify_reports_every_file() -> None:
    lines = verify_named("mnist")
    assert len(lines) == 4 and all(line.startswith("ok") for line in lines)


def test_corrupt_file_is_refused_with_instructions(tmp_path) -> None:
    root = tmp_path / "data"
    shutil.copytree(DATA_DIR / "mnist", root / "mnist")
    target = root / "mnist" / "t10k-labels-idx1-ubyte.gz"
    content = bytearray(gzip.decompress(target.read_bytes()))
    content[100] ^= 0xFF
    target.chmod(0o644)
    target.write_bytes(gzip.compress(bytes(content)))
    with pytest.raises(DataNotFoundError, match="does not match its checksum"):
        load_data(DataConfig(name="mnist", root=root, download=False))


def test_missing_file_offline_says_where_to_put_it(tmp_path) -> None:
    with pytest.raises(DataNotFoundError, match=r"put it there .*train-images-idx3-ubyte"):
        load_data(DataConfig(name="fashion-mnist", root=tmp_path, download=False))
    with pytest.raises(DataNotFoundError, match="could not download"):
        load_data(DataConfig(name="fashion-mnist", root=tmp_path, download=True))


def test_image_folder_with_classes_sizes_and_modes(tmp_path) -> None:
    rng = np.random.default_rng(0)
    for cls, mode, size in (("cats", "RGB", (40, 30)), ("dogs", "L", (20, 20))):
        (tmp_path / cls).mkdir()
        for i in range(6):
            shape = (size[1], size[0], 3) if mode == "RGB" else (size[1], size[0])
            Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode).save(tmp_path / cls / f"{i}.png")
    data = load_data(DataConfig(name=str(tmp_path), image_size=(16, 12), channels=3, validation=2,
                                test=0.25))
    assert data.data_shape == (3, 16, 12) and data.kind == "8bit"
    assert len(data.train) + len(data.valid) + len(data.test) == 12
    labels = torch.cat([data.train.y, data.valid.y, data.test.y])
    assert sorted(labels.tolist()) == [0] * 6 + [1] * 6
    cropped = load_data(DataConfig(name=str(tmp_path), image_size=(8, 8), channels=1, resize="center-crop"))
    assert cropped.data_shape == (1, 8, 8)
    assert load_data(DataConfig(name=str(tmp_path))).data_shape[0] == 3  # colour anywhere: RGB
    assert load_data(DataConfig(name=str(tmp_path / "dogs"), validation=1, test=1)).data_shape[0] == 1  # all grey
    mixed = tmp_path / "grey-first"  # the first file grey, the others colour: once read all as grey
    mixed.mkdir()
    Image.fromarray(np.full((20, 20), 128, np.uint8), "L").save(mixed / "a.png")
    for i in range(3):
        Image.fromarray(rng.integers(0, 256, (20, 20, 3), dtype=np.uint8), "RGB").save(mixed / f"b{i}.png")
    data = load_data(DataConfig(name=str(mixed), validation=1, test=1))
    assert data.data_shape == (3, 20, 20)
    for i in range(2):  # beside the class sub-folders: no label, and no class named "."
        Image.fromarray(rng.integers(0, 256, (20, 20), dtype=np.uint8), "L").save(tmp_path / f"loose{i}.png")
    loose = load_data(DataConfig(name=str(tmp_path), validation=0, test=0))
    icons = tmp_path / "icons"  # invisible pixels once kept the colour stored under them: here red
    icons.mkdir()
    for i in range(3):
        icon = np.zeros((10, 10, 4), np.uint8)
        icon[..., 0], icon[3:7, 3:7] = 255, (0, 0, 255, 255)  # a blue square on a transparent red background
        Image.fromarray(icon, "RGBA").save(icons / f"{i}.png")
    pixels = load_data(DataConfig(name=str(icons), validation=0, test=0)).train.x[0]
    assert pixels[:, 0, 0].tolist() == [1.0, 1.0, 1.0] and pixels[:, 5, 5].tolist() == [0.0, 0.0, 1.0]
    assert loose.classes == ("cats", "dogs", "grey-first") and sorted(loose.train.y.tolist())[:3] == [-1, -1, 0]
    images = torch.cat([data.train.x, data.valid.x, data.test.x])
    assert (images[:, 0] == images[:, 1]).all(1).all(1).sum() == 1  # the grey image has three equal channels


def test_split_folders_of_the_same_classes_are_pooled_by_class(tmp_path, caplog: pytest.LogCaptureFixture) -> None:
    """train/cat and test/cat were two classes (four in all, the test images' classes never trained on)."""
    for split, count in (("train", 6), ("test", 2)):
        for shade, animal in ((40, "cat"), (220, "dog")):
            (tmp_path / "pets" / split / animal).mkdir(parents=True)
            for i in range(count):
                Image.fromarray(np.full((5, 4), shade, np.uint8)).save(tmp_path / "pets" / split / animal / f"{i}.png")
        (tmp_path / "flat" / split).mkdir(parents=True)
        Image.fromarray(np.zeros((5, 4), np.uint8)).save(tmp_path / "flat" / split / "0.png")
    with caplog.at_level(logging.WARNING, logger="vaekit"):
        pets = load_data(DataConfig(name=str(tmp_path / "pets"), validation=0, test=0))
    assert "test/ and train/ are taken as splits of the same classes" in caplog.text
    assert pets.classes == ("cat", "dog") and len(pets.train) == 16
    assert (pets.train.y == (pets.train.x.mean((1, 2, 3)) > 0.5).long()).all()  # dark cats, light dogs
    assert load_data(DataConfig(name=str(tmp_path / "flat"), validation=0, test=0)).train.y is None


def test_continuous_data_far_from_the_unit_scale_is_named(tmp_path, caplog: pytest.LogCaptureFixture) -> None:
    """Features of mean 1000 trained a VAE to an ELBO thousands of nats below the standardized data's, silently."""
    rng = np.random.default_rng(0)
    np.save(tmp_path / "sensor.npy", (1000 + 10 * rng.normal(size=(50, 4))).astype(np.float32))
    np.save(tmp_path / "unit.npy", rng.normal(size=(50, 4)).astype(np.float32))
    with caplog.at_level(logging.WARNING, logger="vaekit"):
        load_data(DataConfig(name=str(tmp_path / "unit.npy"), validation=5))
        assert "unit scale" not in caplog.text
        load_data(DataConfig(name=str(tmp_path / "sensor.npy"), validation=5))
    assert "sensor.npy: continuous data far from the unit scale" in caplog.text and "standardize" in caplog.text


def test_arrays_load_and_pickles_are_refused(tmp_path) -> None:
    x = np.random.default_rng(0).integers(0, 256, (50, 6), dtype=np.uint8)
    np.savez(tmp_path / "a.npz", x=x, y=np.arange(50) % 3)
    data = load_data(DataConfig(name=str(tmp_path / "a.npz"), validation=5))
    assert data.kind == "8bit" and data.data_shape == (6,) and data.train.y is not None
    np.save(tmp_path / "f.npy", np.random.default_rng(0).normal(size=(20, 3)).astype(np.float32))
    assert load_data(DataConfig(name=str(tmp_path / "f.npy"), validation=2)).kind == "continuous"
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="pickled"):
        load_data(DataConfig(name=str(tmp_path / "obj.npy")))
    with pytest.raises(ValueError, match="not a named set"):
        load_data(DataConfig(name="no-such-set"))


def test_arrays_of_images_in_other_layouts_are_read_channels_first(tmp_path) -> None:
    """(N, H, W, 3) arrays, as PIL, imageio and Keras give images, were read as 24 channels of 20 x 3 pixels."""
    rgb = np.random.default_rng(0).integers(0, 256, (40, 24, 20, 3), dtype=np.uint8)
    np.save(tmp_path / "rgb.npy", rgb)
    np.save(tmp_path / "grey.npy", rgb[..., 0])
    np.save(tmp_path / "frames.npy", rgb[..., 0].astype(np.float32) / 7)  # continuous (N, T, F): not pixels
    options = dict(validation=0, test=0)
    memory = load_data(DataConfig(name=str(tmp_path / "rgb.npy"), **options))
    streamed = load_data(DataConfig(name=str(tmp_path / "rgb.npy"), stream=True, **options))
    assert memory.data_shape == streamed.data_shape == (3, 24, 20)
    expected = torch.from_numpy(rgb).permute(0, 3, 1, 2).float() / 255
    assert torch.equal(memory.train.x, expected) and torch.equal(streamed.train.x[torch.arange(40)], expected)
    grey = load_data(DataConfig(name=str(tmp_path / "grey.npy"), **options))
    assert grey.data_shape == (1, 24, 20) and torch.equal(grey.train.x[:, 0], expected[:, 0])
    assert load_data(DataConfig(name=str(tmp_path / "frames.npy"), **options)).data_shape == (24, 20)


def test_keyword_options_are_validated() -> None:
    with pytest.raises(ValueError, match="limit"):
        load_data(name="mnist", limit=-1)
