"""Data larger than memory: a .npy read by rows from disk trains exactly as the same array in memory."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

from vaekit import VAE, fit, load_data
from vaekit.data import DiskSplit


@pytest.fixture
def mnist_npy(tmp_path: Path) -> tuple[Path, Path]:
    """3,000 real MNIST images as uint8 (N, 1, 28, 28) and their labels, as .npy files."""
    mnist = load_data(name="mnist", validation=0, limit=3000).train
    images, labels = tmp_path / "images.npy", tmp_path / "labels.npy"
    np.save(images, (mnist.x * 255).round().to(torch.uint8).numpy())
    np.save(labels, mnist.y.numpy())
    return images, labels


def test_streamed_rows_train_like_memory(mnist_npy: tuple[Path, Path]) -> None:
    images, labels = mnist_npy
    streamed = load_data(name=str(images), labels=str(labels), stream=True, validation=300)
    memory = load_data(name=str(images), labels=str(labels), validation=300)
    assert isinstance(streamed.train, DiskSplit) and streamed.kind == memory.kind == "8bit"
    for name in ("train", "valid", "test"):
        a, b = getattr(streamed, name), getattr(memory, name)
        assert len(a) == len(b) and torch.equal(a.y, b.y)
        assert torch.equal(a.x[:7], b.x[:7]) and torch.equal(a.x[len(a) - 1], b.x[len(b) - 1])
        batches = (s.labelled_batches(256, seed=5, epoch=1) for s in (a, b))
        for (xa, ya), (xb, yb) in zip(*batches):
            assert torch.equal(xa, xb) and torch.equal(ya, yb)
    weights = []
    for data in (streamed, memory):
        torch.manual_seed(0)
        model = VAE(data_shape=data.data_shape, latent_dim=4, hidden=[32], likelihood="logistic-mixture")
        fit(model, data, epochs=1, batch_size=128, progress=False)
        weights.append(model.state_dict())
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


def test_streamed_files_are_checked(tmp_path: Path, mnist_npy: tuple[Path, Path]) -> None:
    images, labels = mnist_npy
    cut = tmp_path / "cut.npy"
    cut.write_bytes(images.read_bytes()[:-100])
    bad = {"nan.npy": np.array([[0.5, np.nan]] * 4, dtype=np.float32),
           "fortran.npy": np.asfortranarray(np.ones((4, 3), dtype=np.float32)),
           "strings.npy": np.array([["a", "b"]] * 4)}
    for name, array in bad.items():
        np.save(tmp_path / name, array)
    expected = {cut: "truncated", tmp_path / "nan.npy": "NaN or infinite", tmp_path / "fortran.npy": "Fortran order",
                tmp_path / "strings.npy": "array of real numbers",
                labels: "(N, ...) with N >= 1"}  # labels: 1-D, not rows of data
    for path, message in expected.items():
        with pytest.raises(ValueError, match=re.escape(message)):
            load_data(name=str(path), stream=True, validation=0)
    with pytest.raises(ValueError, match="labels must be 3000 integers"):
        load_data(name=str(images), labels=str(tmp_path / "nan.npy"), stream=True)
    binary = tmp_path / "binary.npy"
    np.save(binary, (np.load(images)[:500] > 127).astype(np.uint8))  # 0 and 1 stay 0 and 1, as in memory
    streamed, memory = (load_data(name=str(binary), stream=s, validation=0).train for s in (True, False))
    assert streamed.kind == memory.kind == "binary" and torch.equal(streamed.x[:450], memory.x[:450])
    assert float(streamed.x[:450].max()) == 1.0
    with pytest.raises(ValueError, match="data.stream is for a .npy data file"):
        load_data(name="mnist", stream=True)
