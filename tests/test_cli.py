"""The `vaekit` command end to end, through the installed console script."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from vaekit import fit, save

ROOT = Path(__file__).resolve().parent.parent
VAEKIT = shutil.which("vaekit") or str(Path(sys.executable).parent / "vaekit")


def vaekit(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([VAEKIT, *args], capture_output=True, text=True, cwd=cwd, env=os.environ.copy(),
                          timeout=300)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs")
    result = vaekit("train", "--config", str(ROOT / "configs" / "vae-mnist.yaml"), "name=cli", f"out_dir={out}",
                    "train.epochs=1", "data.limit=2000", "data.validation=500", "train.compile=false",
                    "model.hidden=[64]", "evaluate.k=20", "evaluate.limit=50")
    assert result.returncode == 0, result.stderr
    assert "test ELBO" in result.stdout
    return out / "cli"


def test_train_writes_the_whole_run(trained: Path) -> None:
    for name in ("config.yaml", "metrics.jsonl", "metrics.json", "samples.png", "reconstructions.png",
                 "loss_curves.png", "traversals.png", "model/config.json", "model/model.safetensors",
                 "checkpoints/last.safetensors"):
        assert (trained / name).is_file(), name
    metrics = json.loads((trained / "metrics.json").read_text())["test"]
    assert metrics["k"] == 20 and metrics["examples"] == 50
    assert metrics["log_likelihood"] >= metrics["elbo"] - 1.0
    assert metrics["bits_per_dim"] > 0
    assert list((trained / "tensorboard").iterdir())


def test_rerun_is_refused_without_resume_or_overwrite(trained: Path) -> None:
    result = vaekit("train", f"name={trained.name}", f"out_dir={trained.parent}", "data.limit=500")
    assert result.returncode == 2 and "--resume" in result.stderr


def test_model_commands(trained: Path, tmp_path: Path) -> None:
    model = str(trained / "model")
    assert vaekit("sample", model, "-n", "16", "-o", str(tmp_path / "s.png")).returncode == 0
    assert Image.open(tmp_path / "s.png").size[0] > 0
    assert vaekit("reconstruct", model, "-n", "8", "-o", str(tmp_path / "r.png")).returncode == 0
    Image.new("L", (40, 40), 255).save(tmp_path / "a.png")
    Image.new("L", (28, 28), 0).save(tmp_path / "b.png")
    result = vaekit("interpolate", model, str(tmp_path / "a.png"), str(tmp_path / "b.png"), "--steps", "5",
                    "--method", "slerp", "-o", str(tmp_path / "i.png"))
    assert result.returncode == 0, result.stderr
    result = vaekit("evaluate", model, "--k", "10", "--limit", "20", "-o", str(tmp_path / "e.json"))
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "e.json").read_text())["examples"] == 20
    wrong = vaekit("evaluate", model, "--data", "mnist", "--k", "2", "--limit", "2")
    assert wrong.returncode == 2 and "does not fit 8bit data" in wrong.stderr


def _binarized_test_images(count: int) -> np.ndarray:
    from vaekit import DataConfig, load_data

    return np.round(load_data(DataConfig(name="binarized-mnist", validation=0)).test.x[:count, 0].numpy() * 255)


def test_compress_a_folder_and_decompress_it_in_another_process(trained: Path, tmp_path: Path) -> None:
    """Two processes, each loading the model from disk: the folder comes back pixel for pixel, names kept."""
    images = _binarized_test_images(12).astype(np.uint8)
    for i, image in enumerate(images):
        (tmp_path / "in" / f"class{i % 2}").mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(tmp_path / "in" / f"class{i % 2}" / f"digit{i}.png")
    packed = tmp_path / "digits.vkz"
    result = vaekit("compress", str(trained / "model"), str(tmp_path / "in"), "-o", str(packed))
    assert result.returncode == 0, result.stderr
    assert "12 items" in result.stdout and "bits/pixel" in result.stdout
    result = vaekit("decompress", str(packed), "-o", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    for i, image in enumerate(images):
        back = np.asarray(Image.open(tmp_path / "out" / f"class{i % 2}" / f"digit{i}.png"))
        assert np.array_equal(back, image)


def test_compress_an_8bit_array_across_processes_lossless_and_lossy(tmp_path: Path) -> None:
    import vaekit as vaekit_api
    from vaekit import VAE, DataConfig, load_data

    data = load_data(DataConfig(name="fashion-mnist", limit=1000, validation=0))
    torch.manual_seed(0)
    model = VAE(data_shape=(1, 28, 28), latent_dim=8, hidden=[64], likelihood="logistic-mixture",
                mixture_components=3)
    fit(model, data, epochs=1, progress=False, compile=False)
    save(model, tmp_path / "model")
    array = np.round(data.test.x[:40, 0].numpy() * 255).astype(np.uint8)  # (40, 28, 28): items of (1, 28, 28)
    np.save(tmp_path / "x.npy", array)
    for mode in ("lossless", "lossy"):
        packed = tmp_path / f"{mode}.vkz"
        made = vaekit("compress", str(tmp_path / "model"), str(tmp_path / "x.npy"), "-o", str(packed), "--mode", mode)
        assert made.returncode == 0, made.stderr
        assert ("PSNR" in made.stdout and "SSIM" in made.stdout) == (mode == "lossy")
        result = vaekit("decompress", str(packed), "-o", str(tmp_path / f"{mode}.npy"))
        assert result.returncode == 0, result.stderr
        back = np.load(tmp_path / f"{mode}.npy")
        assert back.dtype == np.uint8 and back.shape == array.shape
        if mode == "lossless":
            assert np.array_equal(back, array)
        else:  # the reconstruction, as this process decodes it too
            expected = vaekit_api.decompress(vaekit_api.load(tmp_path / "model"), packed.read_bytes()).x
            assert np.abs(back.astype(int) - np.round(expected[:, 0].numpy() * 255)).max() <= 1


def test_conditional_model_from_recipe_to_file_and_back(tmp_path: Path) -> None:
    """The conditional VAE through the command: train on labelled data, draw a class, code images with labels."""
    result = vaekit("train", "--config", str(ROOT / "configs" / "conditional-vae-mnist.yaml"), "name=cvae",
                    f"out_dir={tmp_path}", "train.epochs=1", "data.limit=2000", "data.validation=200",
                    "train.compile=false", "model.hidden=[64]", "evaluate.k=10", "evaluate.limit=20")
    assert result.returncode == 0, result.stderr
    model = str(tmp_path / "cvae" / "model")
    assert Image.open(tmp_path / "cvae" / "samples.png").size[1] > Image.open(tmp_path / "cvae" / "samples.png").size[0]
    assert vaekit("sample", model, "-n", "8", "--class", "7", "-o", str(tmp_path / "seven.png")).returncode == 0
    assert vaekit("reconstruct", model, "-n", "8", "-o", str(tmp_path / "r.png")).returncode == 0
    bad = vaekit("sample", model, "--class", "10", "-o", str(tmp_path / "x.png"))
    assert bad.returncode == 2 and "class '10' is not one of this model's 10 classes (0, 1, 2" in bad.stderr
    np.save(tmp_path / "x.npy", _binarized_test_images(10).astype(np.uint8))
    np.save(tmp_path / "y.npy", np.arange(10))
    unlabelled = vaekit("compress", model, str(tmp_path / "x.npy"), "-o", str(tmp_path / "f.vkz"))
    assert unlabelled.returncode == 2 and "labels" in unlabelled.stderr
    made = vaekit("compress", model, str(tmp_path / "x.npy"), "--labels", str(tmp_path / "y.npy"), "-o",
                  str(tmp_path / "f.vkz"))
    assert made.returncode == 0, made.stderr
    result = vaekit("decompress", str(tmp_path / "f.vkz"), "-o", str(tmp_path / "back.npy"))
    assert result.returncode == 0, result.stderr
    assert np.array_equal(np.load(tmp_path / "back.npy"), np.load(tmp_path / "x.npy"))
    assert np.array_equal(np.load(tmp_path / "back.labels.npy"), np.arange(10))


def test_compress_errors_are_one_line(trained: Path, tmp_path: Path) -> None:
    model = str(trained / "model")
    Image.new("L", (30, 28), 0).save(tmp_path / "wide.png")
    np.save(tmp_path / "grey.npy", np.full((2, 28, 28), 128, dtype=np.uint8))
    (tmp_path / "junk.vkz").write_bytes(b"not a vaekit file at all")
    for args, message in (
        (["compress", model, str(tmp_path / "wide.png"), "-o", str(tmp_path / "f")], "30x28"),
        (["compress", model, str(tmp_path / "grey.npy"), "-o", str(tmp_path / "f")], "binarize"),
        (["compress", model, str(tmp_path / "missing.png"), "-o", str(tmp_path / "f")], "does not exist"),
        (["decompress", str(tmp_path / "junk.vkz"), "-o", str(tmp_path / "o")], "not a vaekit compressed file"),
        (["decompress", str(tmp_path / "nothing.vkz"), "-o", str(tmp_path / "o")], "is not there"),
    ):
        result = vaekit(*args)
        assert result.returncode == 2, result.stderr
        assert message in result.stderr and "Traceback" not in result.stderr


def test_data_commands() -> None:
    listed = vaekit("data", "list")
    assert listed.returncode == 0 and "binarized-mnist" in listed.stdout
    verified = vaekit("data", "verify", "mnist", "fashion-mnist")
    assert verified.returncode == 0 and verified.stdout.count("ok") == 8


@pytest.mark.parametrize("args,message", [
    (["train", "train.lr=-1"], "train.lr"),
    (["train", "model.colour=red"], "vae has no key 'colour'"),
    (["train", "model.likelihood=poisson"], "model.likelihood"),
    (["train", "train.epochs"], "key.sub=value"),
    (["train", "--config", "missing.yaml"], "not found"),
    (["train", "data.name=mnist", "data.limit=100", "model.likelihood=bernoulli"], "does not fit 8bit data"),
    (["sample", "/no/such/model"], "not a saved vaekit model"),
    (["evaluate", "/no/such/model"], "not a saved vaekit model"),
    (["sample", ".", "-n", "-3"], "positive integer"),
    (["interpolate", ".", "--method", "cubic"], "invalid choice"),
    (["frobnicate"], "invalid choice"),
])
def test_bad_input_gives_one_line_and_status_2(args: list[str], message: str, tmp_path: Path) -> None:
    result = vaekit(*args, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_every_command_has_help() -> None:
    for command in ("train", "evaluate", "sample", "reconstruct", "interpolate", "compress", "decompress", "data"):
        result = vaekit(command, "--help")
        assert result.returncode == 0 and "usage: vaekit" in result.stdout


def test_sigterm_checkpoints_and_resume_finishes(tmp_path: Path) -> None:
    import signal
    import time

    args = ["train", "--config", str(ROOT / "configs" / "vae-mnist.yaml"), "name=sig", f"out_dir={tmp_path}",
            "train.epochs=200", "data.limit=2000", "data.validation=200", "train.compile=false",
            "train.early_stopping=null", "model.hidden=[32]", "evaluate.k=5", "evaluate.limit=10"]
    process = subprocess.Popen([VAEKIT, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    checkpoint = tmp_path / "sig" / "checkpoints" / "last.safetensors"
    deadline = time.time() + 120
    while not checkpoint.exists() and time.time() < deadline:
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "continue with --resume" in stderr
    changed = vaekit(*args, "--resume", "model.latent_dim=3")
    assert changed.returncode == 2 and "model.latent_dim" in changed.stderr
    resumed = vaekit(*[a if a != "train.epochs=200" else "train.epochs=2" for a in args], "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert (tmp_path / "sig" / "metrics.json").is_file()
