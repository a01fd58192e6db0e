"""No file lost or half-written: names that would collide, outputs written whole or not at all, deep images
scaled, files with the user's permissions (issue 22)."""
from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from vaekit import VAE, CodecError, compress, decompress
from vaekit.atomic import atomic_write_text
from vaekit.codec import read_header
from vaekit.codec.files import pack_names, read_inputs, write_outputs
from vaekit.data.user_files import read_image


def _image(path: Path, value: int = 0, size: int = 8) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((size, size), value, dtype=np.uint8)).save(path)


@pytest.fixture
def model() -> VAE:
    torch.manual_seed(0)
    return VAE(data_shape=(1, 8, 8), latent_dim=2, hidden=[16]).eval()


@pytest.mark.parametrize("names", [["seven.png", "seven.PNG"], ["a.png", "a.jpg"], ["x.jpg", "x.png/y.png"]])
def test_inputs_that_would_decompress_to_one_path_are_refused(tmp_path: Path, names: list[str]) -> None:
    for name in names:
        _image(tmp_path / "in" / name, 255)
    with pytest.raises(CodecError, match="would (both )?decompress to"):
        read_inputs([tmp_path / "in"], (1, 8, 8))


def _file(model: VAE, names: list[str]) -> tuple[torch.Tensor, bytes]:
    x = torch.randint(0, 2, (len(names), 1, 8, 8)).float()
    return x, compress(model, x, source={"kind": "images", "names_xz": pack_names(names)})


def test_forged_colliding_names_write_nothing(model: VAE, tmp_path: Path) -> None:
    x, blob = _file(model, ["a.png", "A.png", "b.png"])
    with pytest.raises(CodecError, match="would both decompress to"):
        write_outputs(decompress(model, blob).x, read_header(blob), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_failed_decompression_leaves_the_output_folder_as_it_was(model: VAE, tmp_path: Path) -> None:
    names = [f"{i:03d}.png" for i in range(200)]
    x, blob = _file(model, names)
    out = tmp_path / "out"
    (out / "100.png").mkdir(parents=True)  # a folder where an image would go
    (out / "keep.txt").write_text("mine")
    with pytest.raises(CodecError, match="100.png"):
        write_outputs(decompress(model, blob).x, read_header(blob), out)
    assert sorted(p.name for p in out.iterdir()) == ["100.png", "keep.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no staging folder left behind


def test_a_whole_decompression_lands_at_once(model: VAE, tmp_path: Path) -> None:
    names = ["cats/1.png", "cats/2.png", "dogs/1.png"]
    x, blob = _file(model, names)
    written = write_outputs(decompress(model, blob).x, read_header(blob), tmp_path / "out")
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in written) == names
    assert np.array_equal(np.asarray(Image.open(tmp_path / "out" / "dogs" / "1.png")), x[2, 0].numpy() * 255)
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_16_bit_images_are_scaled_not_clipped(tmp_path: Path) -> None:
    levels = np.arange(64, dtype=np.uint16).reshape(8, 8) * 4
    Image.fromarray(levels * 257).save(tmp_path / "deep.png")  # 16-bit grey: v * 257 is v in 8 bits
    assert Image.open(tmp_path / "deep.png").mode.startswith("I;16")
    assert np.array_equal(read_image(tmp_path / "deep.png", None, "resize", "L")[0], levels.astype(np.uint8))


def test_lossless_compression_refuses_16_bit_images_by_name(tmp_path: Path) -> None:
    Image.fromarray(np.full((8, 8), 1000, dtype=np.uint16)).save(tmp_path / "deep.png")
    with pytest.raises(CodecError, match="deep.png.*16-bit"):
        read_inputs([tmp_path / "deep.png"], (1, 8, 8), lossless=True)
    x, _, _ = read_inputs([tmp_path / "deep.png"], (1, 8, 8), lossless=False)
    assert torch.allclose(x, torch.full_like(x, round(1000 / 257) / 255))


def test_written_files_follow_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "a.txt", "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o644


def test_overwrite_keeps_the_earlier_run_until_the_new_one_is_saved(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from vaekit import run as runs
    from vaekit.config import load_config

    config = load_config(None, ["data.limit=300", "data.validation=100", "model.hidden=[16]", "model.latent_dim=2",
                                "train.epochs=1", "train.progress=false", "train.expected_steps=0", "evaluate.k=2",
                                "evaluate.limit=20", "evaluate.samples=4", f"out_dir={tmp_path}", "name=r"])
    runs.run(config)
    earlier = (tmp_path / "r" / "model" / "model.safetensors").read_bytes()

    def killed(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt  # the new run dies before it has a checkpoint
    monkeypatch.setattr(runs.Trainer, "fit", killed)
    with pytest.raises(KeyboardInterrupt):
        runs.run(config, overwrite=True)
    assert (tmp_path / ".r.replaced" / "model" / "model.safetensors").read_bytes() == earlier
    monkeypatch.undo()
    runs.run(config, overwrite=True)
    assert not (tmp_path / ".r.replaced").exists() and (tmp_path / "r" / "model" / "model.safetensors").exists()
