"""The user's own data (issue 21): tiny few-level image folders, a non-Brown text file and 8 kHz speech, made here.
Each test is a silent wrong result or a rough edge seen on such data, now fixed."""
from __future__ import annotations

import base64
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import vaekit
from vaekit import fit, load_data, modalities
from vaekit.codec.container import CodecError, unpack
from vaekit.codec.files import pack_names, unpack_names
from vaekit.data.synthetic import SHAPES, WORDS, kitchen_sentences, shape_images, spoken_words
from vaekit.distributions.likelihoods import make_likelihood

ROOT = Path(__file__).resolve().parent.parent
VAEKIT = shutil.which("vaekit") or str(Path(sys.executable).parent / "vaekit")
TINY = ["model.hidden=[32]", "model.latent_dim=3", "train.progress=true", "evaluate.k=5", "train.compile=false"]


def vaekit_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([VAEKIT, *args], capture_output=True, text=True, cwd=cwd, env=os.environ.copy(),
                          timeout=300, stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def shapes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """450 images of 7x9 pixels, 4 grey levels, three class folders."""
    return shape_images(tmp_path_factory.mktemp("own") / "shapes", per_class=150)


@pytest.fixture(scope="module")
def shapes_run(shapes: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess]:
    """A conditional VAE trained on the folder by the own-images recipe, with no name given."""
    out = tmp_path_factory.mktemp("runs")
    result = vaekit_cli("train", "--config", str(ROOT / "configs" / "own-images.yaml"), f"data.name={shapes}",
                        f"out_dir={out}", "model.name=conditional-vae", "train.steps=40", *TINY)
    assert result.returncode == 0, result.stderr
    return out / "conditional-vae-shapes", result


def test_a_small_folder_trains_on_most_of_it_and_the_run_says_so(shapes: Path, shapes_run) -> None:  # type: ignore[no-untyped-def]
    data = load_data(name=str(shapes))
    assert (len(data.train), len(data.valid), len(data.test)) == (360, 45, 45)  # was 1 training image
    run_dir, result = shapes_run
    assert "data 'shapes': 360 training, 45 validation and 45 test examples, 8bit on 4 grey levels, shape (1, 7, 9)" \
        in result.stderr
    assert "likelihood auto: logistic-mixture for 8bit data" in result.stderr
    assert run_dir.is_dir()  # named after the model and the data, not the recipe
    with pytest.raises(ValueError, match=r"'shapes' has 450 examples: data.validation=5000 .* leaving 0 for training"):
        load_data(name=str(shapes), validation=5000)
    with pytest.raises(ValueError, match="at least half must train"):
        load_data(name=str(shapes), validation=0.3, test=0.3)


def test_a_channels_last_array_trains_draws_colour_and_compresses_back(tmp_path: Path) -> None:
    """An (N, H, W, 3) array trained, then failed at the pictures; compressed, it would code the wrong layout."""
    rgb = np.zeros((200, 12, 10, 3), dtype=np.uint8)
    rgb[np.arange(200), :, :, np.arange(200) % 3] = 200  # red, green or blue images
    np.save(tmp_path / "colours.npy", rgb)
    result = vaekit_cli("train", f"data.name={tmp_path / 'colours.npy'}", f"out_dir={tmp_path}", "--overwrite",
                        "train.epochs=2", *TINY)  # the overrides may follow an option
    assert result.returncode == 0, result.stderr
    assert "items of shape (12, 10, 3) read as RGB images of shape (3, 12, 10)" in result.stderr
    assert Image.open(tmp_path / "vae-colours" / "samples.png").mode == "RGB"
    packed = vaekit_cli("compress", str(tmp_path / "vae-colours" / "model"), str(tmp_path / "colours.npy"),
                        "-o", str(tmp_path / "colours.vkz"))
    assert packed.returncode == 0, packed.stderr
    assert vaekit_cli("decompress", str(tmp_path / "colours.vkz"), "-o", str(tmp_path / "back.npy")).returncode == 0
    assert np.array_equal(np.load(tmp_path / "back.npy"), rgb)


def test_text_and_audio_follow_the_same_split_rule(tmp_path: Path) -> None:
    text = load_data(name=str(kitchen_sentences(tmp_path / "kitchen.txt", count=200)))
    assert (len(text.train), len(text.valid), len(text.test)) == (160, 20, 20)  # validation was capped at a tenth
    sounds = load_data(name=str(spoken_words(tmp_path / "flat", per_word=8, labelled=False)), validation=3)
    assert (len(sounds.train), len(sounds.valid), len(sounds.test)) == (19, 3, 2)  # validation was ignored
    assert sounds.train.y is None and sounds.audio is not None


def test_progress_is_plain_lines_in_a_log(shapes_run) -> None:  # type: ignore[no-untyped-def]
    _, result = shapes_run
    lines = [line for line in result.stderr.splitlines() if line.startswith("training: ")]
    assert lines and lines[-1].startswith("training: 40/40 steps (100%)")
    assert "\r" not in result.stderr


def test_a_saved_model_remembers_its_data_and_class_names(shapes: Path, shapes_run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run_dir, _ = shapes_run
    model = vaekit.load(run_dir / "model")
    assert model.trained_on is not None and model.trained_on.classes == sorted(SHAPES)
    assert model.trained_on.data is not None and model.trained_on.data.name == str(shapes.resolve())
    result = vaekit_cli("evaluate", str(run_dir / "model"), "--k", "3", cwd=tmp_path)  # another folder
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["examples"] == 45  # the model's own test split, not MNIST's
    ring = vaekit_cli("sample", str(run_dir / "model"), "--class", "ring", "-n", "4", "-o", str(tmp_path / "r.png"))
    assert ring.returncode == 0, ring.stderr
    wrong = vaekit_cli("sample", str(run_dir / "model"), "--class", "square")
    assert wrong.returncode == 2 and wrong.stderr.count("\n") == 1
    assert "'square' is not one of this model's 3 classes (bar, cross, ring)" in wrong.stderr


def test_another_folder_of_some_classes_is_labelled_by_the_models_class_names(shapes: Path, shapes_run,  # type: ignore[no-untyped-def]
                                                                               tmp_path: Path) -> None:
    """A --data folder holding only ring/ numbered it 0 by itself: the model's bar, scored as the wrong class."""
    model = vaekit.load(shapes_run[0] / "model")
    shutil.copytree(shapes / "ring", tmp_path / "rings" / "ring")
    rings = modalities.test_data(model, str(tmp_path / "rings"))
    assert rings.classes == ("bar", "cross", "ring") and set(rings.test.y.tolist()) == {2}
    shutil.copytree(shapes / "ring", tmp_path / "squares" / "square")
    with pytest.raises(ValueError, match="has classes the model was not trained on: square"):
        modalities.test_data(model, str(tmp_path / "squares"))


def test_a_model_whose_data_moved_asks_for_it_in_one_line(shapes_run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run_dir, _ = shapes_run
    moved = tmp_path / "model"
    shutil.copytree(run_dir / "model", moved)
    meta = json.loads((moved / "config.json").read_text())
    meta["trained_on"]["data"]["name"] = str(tmp_path / "gone")
    (moved / "config.json").write_text(json.dumps(meta))
    result = vaekit_cli("reconstruct", str(moved), "-o", str(tmp_path / "r.png"))
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "is not there any more: give --data" in result.stderr


def test_a_labelled_folder_compresses_with_its_labels_and_short_names(shapes: Path, shapes_run,  # type: ignore[no-untyped-def]
                                                                     tmp_path: Path) -> None:
    run_dir, _ = shapes_run
    model_dir = os.path.relpath(run_dir / "model", tmp_path)
    result = vaekit_cli("compress", model_dir, str(shapes), "-o", "shapes.vkz", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "bits/dim" in result.stdout and "the whole file" in result.stdout
    blob = (tmp_path / "shapes.vkz").read_bytes()
    header = json.loads(blob[14:14 + int.from_bytes(blob[10:14], "little")])
    names = sum(len(p.relative_to(shapes).as_posix()) for p in shapes.rglob("*.png"))
    bare = vaekit_cli("compress", model_dir, str(shapes), "-o", "bare.vkz", "--no-names", cwd=tmp_path)
    assert bare.returncode == 0, bare.stderr
    assert len(blob) - (tmp_path / "bare.vkz").stat().st_size < names / 10  # 450 names cost a tenth of their length
    assert not Path(header["source"]["model"]).is_absolute()  # no path of this machine
    assert header["classes"] == 3  # the labels came from the folders
    out = vaekit_cli("decompress", str(tmp_path / "shapes.vkz"), "-o", str(tmp_path / "back"), cwd=ROOT)
    assert out.returncode == 0, out.stderr  # found the model beside the file, from another folder
    labels = np.load(tmp_path / "back" / "labels.npy")
    restored = sorted(p.relative_to(tmp_path / "back").as_posix() for p in (tmp_path / "back").rglob("*.png"))
    assert restored == sorted(p.relative_to(shapes).as_posix() for p in shapes.rglob("*.png"))
    assert np.bincount(labels).tolist() == [150, 150, 150]
    for name in restored[::50]:  # every pixel back, on the folder's 4 grey levels
        assert np.array_equal(np.asarray(Image.open(tmp_path / "back" / name)), np.asarray(Image.open(shapes / name)))


def test_few_grey_levels_are_detected_or_declared_and_the_likelihood_uses_them(shapes: Path, shapes_run) -> None:  # type: ignore[no-untyped-def]
    assert load_data(name=str(shapes)).levels == 4
    assert vaekit.load(shapes_run[0] / "model").config.levels == 4
    assert load_data(name=str(shapes), levels=16).levels == 16  # 0, 85, 170 and 255 are on 16 levels too
    with pytest.raises(ValueError, match="data.levels=3, but 'shapes' holds the 8-bit value 85"):
        load_data(name=str(shapes), levels=3)
    with pytest.raises(ValueError, match="data.levels is for 8-bit image folders and arrays"):
        load_data(name="binarized-mnist", levels=2, limit=10)
    x = torch.tensor([0.0, 85 / 255, 170 / 255, 1.0])
    log_px = {}
    for levels in (4, 256):
        likelihood = make_likelihood("logistic-mixture", (4,), components=2, levels=levels)
        p = likelihood(torch.randn(1, 6, 4, generator=torch.Generator().manual_seed(0)))
        grid = torch.arange(levels) / (levels - 1)  # every value the likelihood can give mass to
        total = torch.logsumexp(p.base_dist.log_prob(grid[:, None].expand(levels, 4)), 0)
        assert torch.allclose(total, torch.zeros(4), atol=1e-4)  # the masses over the levels sum to one
        log_px[levels] = p.log_prob(x).item()
    assert log_px[4] - log_px[256] > 2 * math.log(40)  # the inner values' bins are 85 times wider on 4 levels


def test_numbered_names_pack_as_runs_and_a_forged_list_is_refused() -> None:
    names = [f"bar/bar_{i:04d}.png" for i in range(500)] + ["notes.png", "a9.png", "a10.png", "x 1.jpg", "x 2.jpg"]
    packed = pack_names(names)
    assert unpack_names(packed, len(names)) == names and len(packed) < 120  # 505 names, 10,000 characters
    with pytest.raises(CodecError, match="list of names is corrupt"):
        unpack_names(packed, 504)  # a run longer than the file's items is not expanded
    with pytest.raises(CodecError, match="holds a newline"):
        pack_names(["a\nb.png"])
    with pytest.raises(CodecError, match="corrupt"):
        unpack_names("not base 64!", 1)


def test_the_api_refuses_a_likelihood_that_does_not_fit(shapes: Path) -> None:
    data = load_data(name=str(shapes))
    model = vaekit.VAE(data_shape=data.data_shape, latent_dim=2, hidden=[8])  # Bernoulli, on 8-bit pixels
    with pytest.raises(ValueError, match="'bernoulli' does not fit 8bit data 'shapes'.*likelihood=logistic-mixture"):
        fit(model, data, epochs=1, progress=False)
    with pytest.raises(ValueError, match="likelihood 'auto' is chosen from the data"):
        vaekit.VAE(data_shape=data.data_shape, likelihood="auto")


def test_an_architecture_too_deep_for_the_images_is_one_line(shapes: Path, tmp_path: Path) -> None:
    result = vaekit_cli("train", "--config", str(ROOT / "configs" / "own-images.yaml"), f"data.name={shapes}",
                        f"out_dir={tmp_path}", "model.architecture=conv", "model.channels=[32, 64, 128, 256]")
    assert result.returncode == 2 and result.stderr.splitlines()[-1].startswith("vaekit train: error: model: ")
    assert "needs at least 16 pixels a side; these images are 9x7: give at most 2 conv layers" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "vae-shapes").exists()


def test_a_budget_in_steps_and_a_warning_for_too_few(shapes: Path, caplog: pytest.LogCaptureFixture) -> None:
    data = load_data(name=str(shapes))
    model = vaekit.VAE(data_shape=data.data_shape, latent_dim=2, hidden=[8], likelihood="logistic-mixture")
    from vaekit.train import fit

    result = fit(model, data, steps=7, batch_size=128, progress=False)  # 3 batches an epoch
    assert (result.steps, result.epochs) == (7, 3)
    assert "training takes 7 steps (3 epoch(s) of 3 batch(es) of 128); this recipe expects at least 1,000" in \
        caplog.text


def test_lossy_compression_of_tiny_images_says_why_there_is_no_ssim(shapes_run, shapes: Path,  # type: ignore[no-untyped-def]
                                                                    tmp_path: Path) -> None:
    run_dir, _ = shapes_run
    result = vaekit_cli("compress", str(run_dir / "model"), str(shapes / "ring"), "-o", str(tmp_path / "l.vkz"),
                        "--mode", "lossy", "--labels", str(_labels(tmp_path, 150, 1)))
    assert result.returncode == 0, result.stderr
    assert "PSNR" in result.stdout and "(no SSIM: its window is 11 pixels wide, the images 7)" in result.stdout
    assert "\r" not in result.stderr  # no progress bars in a log


def _labels(folder: Path, count: int, label: int) -> Path:
    path = folder / "labels.npy"
    np.save(path, np.full(count, label))
    return path


def test_the_explorers_file_decodes_alone(shapes_run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from vaekit.explorer.app import Explorer

    run_dir, _ = shapes_run
    model = vaekit.load(run_dir / "model")
    data = load_data(model.trained_on.data)  # type: ignore[union-attr]
    reference = os.path.relpath(run_dir / "model", tmp_path)
    explorer = Explorer(model, data.test, data.name, reference)
    coded = explorer._compressed(data.test.x[:1], data.test.y[:1], None)
    (tmp_path / "input.vkz").write_bytes(base64.b64decode(coded["compressed"]))
    assert unpack((tmp_path / "input.vkz").read_bytes())[0].source["model"] == reference
    result = vaekit_cli("decompress", "input.vkz", "-o", "restored", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert len(list((tmp_path / "restored").glob("*.png"))) == 1


def test_a_text_model_is_scored_on_its_own_file(tmp_path: Path) -> None:
    path = kitchen_sentences(tmp_path / "kitchen.txt", count=300)
    result = vaekit_cli("train", "--config", str(ROOT / "configs" / "own-text.yaml"), f"data.name={path}",
                        f"out_dir={tmp_path}", "train.steps=6", "model.hidden=[32]", "model.embedding_dim=16",
                        "model.latent_dim=2", "evaluate.k=2", "evaluate.limit=10")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "sentence-vae-kitchen" / "model").is_dir()
    scored = vaekit_cli("evaluate", str(tmp_path / "sentence-vae-kitchen" / "model"), "--k", "2")
    assert scored.returncode == 0, scored.stderr
    assert json.loads(scored.stdout)["examples"] == 30  # the file's 30 test sentences, not Brown's
    sampled = vaekit_cli("sample", str(tmp_path / "sentence-vae-kitchen" / "model"), "-n", "2")
    assert sampled.returncode == 0 and len(sampled.stdout.splitlines()) == 2


def test_a_labelled_folder_of_8khz_speech_names_its_samples(tmp_path: Path) -> None:
    folder = spoken_words(tmp_path / "words", per_word=6)
    result = vaekit_cli("train", "--config", str(ROOT / "configs" / "own-audio.yaml"), f"data.name={folder}",
                        f"out_dir={tmp_path}", "model.name=conditional-vae", "train.steps=3", "model.channels=[8]",
                        "model.latent_dim=2", "evaluate.k=2")
    assert result.returncode == 0, result.stderr
    model_dir = tmp_path / "conditional-vae-words" / "model"
    sampled = vaekit_cli("sample", str(model_dir), "-o", str(tmp_path / "samples"))
    assert sampled.returncode == 0, sampled.stderr
    assert sorted(p.name for p in (tmp_path / "samples").glob("*.wav")) == \
        sorted(f"{word}-{i}.wav" for word in WORDS for i in range(2))
