"""Data that is not decoded into memory: an image folder kept as files (decoded batch by batch in DataLoader
workers) gives the very batches of the in-memory path, and a user's own torch Dataset trains."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from vaekit import VAE, fit, load_data
from vaekit.data import DiskSplit, Split, from_dataset
from vaekit.evaluate import mean_elbo


@pytest.fixture(scope="module")
def colours(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """240 RGB images of 11x17 pixels in two class folders, PNG and JPEG: bars of colour on six levels a channel."""
    root = tmp_path_factory.mktemp("stream") / "colours"
    rng = np.random.default_rng(0)
    for i in range(240):
        label = "warm" if i % 2 else "cold"
        pixels = np.zeros((11, 17, 3), dtype=np.uint8)
        pixels[:, : rng.integers(3, 17)] = rng.integers(0, 6, 3) * 51
        pixels[..., 0 if label == "warm" else 2] = 255
        folder = root / label
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).save(folder / f"{i:03d}.png")
    return root


def test_a_streamed_folder_gives_the_batches_of_the_in_memory_path(colours: Path) -> None:
    memory, streamed = (load_data(name=str(colours), stream=flag) for flag in (False, True))
    assert isinstance(streamed.train, DiskSplit) and not isinstance(memory.train, DiskSplit)
    assert streamed.train.workers > 0 and streamed.data_shape == memory.data_shape == (3, 11, 17)
    assert streamed.levels == memory.levels == 6 and streamed.classes == memory.classes == ("cold", "warm")
    for a, b in zip(memory.train.shards(32, epoch=2, seed=7, rank=1, ranks=2),
                    streamed.train.shards(32, epoch=2, seed=7, rank=1, ranks=2), strict=True):
        assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y) and a.step_labelled == b.step_labelled == 32
    assert torch.equal(memory.test.x, streamed.test.x[:])  # the hold-outs too


def test_a_broken_file_in_a_streamed_folder_is_one_line(colours: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    for i, source in enumerate(sorted(colours.rglob("*.png"))[:40]):
        (broken / f"{i:02d}.png").write_bytes(source.read_bytes())
    data = load_data(name=str(broken), stream=True, validation=0, test=0)
    (broken / "05.png").write_bytes((broken / "05.png").read_bytes()[:60])  # cut short after loading began
    with pytest.raises(ValueError, match=r"05.png: not a readable PNG or JPEG image") as error:
        list(data.train.shards(8))
    assert "Traceback" not in str(error.value)


class Squares(torch.utils.data.Dataset):
    """A user's dataset: (x, label) pairs of 8x8 grey squares on 4 levels, made on the fly."""

    def __init__(self, count: int, break_at: int | None = None) -> None:
        self.count, self.break_at = count, break_at

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        g = torch.Generator().manual_seed(i)
        x = torch.zeros(1, 8, 8)
        size = int(torch.randint(2, 8, (1,), generator=g))
        x[:, :size, :size] = int(torch.randint(1, 4, (1,), generator=g)) * 85 / 255
        if i == self.break_at:
            x[0, 0, 0] = 0.3  # not an 8-bit value
        return x, size % 2


def test_a_users_dataset_trains_and_is_checked_batch_by_batch() -> None:
    data = from_dataset(Squares(600))
    assert data.kind == "8bit" and data.data_shape == (1, 8, 8) and data.train.y is not None
    assert torch.equal(data.train.y[:4], torch.tensor([Squares(600)[i][1] for i in range(4)]))
    held_out = torch.stack([Squares(700)[i][0] for i in range(600, 700)])
    torch.manual_seed(0)
    model = VAE(data_shape=(1, 8, 8), latent_dim=2, hidden=[32], likelihood="logistic-mixture")
    before = mean_elbo(model, Split(held_out, None, "8bit"))["elbo"]
    fit(model, Squares(600), epochs=10, batch_size=50, progress=False, compile=False, expected_steps=0)
    after = mean_elbo(model, Split(held_out, None, "8bit"))["elbo"]
    assert after > before + 25  # it learned from the items fetched in worker processes (measured: +43 nats)
    with pytest.raises(ValueError, match=r"holds values that are not 8bit data"):
        fit(VAE(data_shape=(1, 8, 8), latent_dim=2, hidden=[8], likelihood="logistic-mixture"),
            Squares(300, break_at=299), epochs=1, batch_size=50, progress=False, compile=False, expected_steps=0)
