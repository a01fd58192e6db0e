"""Bad input, everywhere: every command and the public loaders are given broken, missing or foreign input.

Each case must end with one line on stderr naming the problem (exit status 2), or a one-line exception for a
function, and write nothing. The table of what was tried and what happened is docs/reliability.md; this test
renders it and checks the page is current (``VAEKIT_UPDATE_DOCS=1 pytest tests/test_bad_input.py`` rewrites it).
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile
from PIL import Image
from test_cli import ROOT

from vaekit.cli import main

PAGE = ROOT / "docs" / "reliability.md"
TINY = ["data.limit=300", "data.validation=100", "model.hidden=[16]", "model.latent_dim=2", "train.epochs=1",
        "train.progress=false", "evaluate.k=2", "evaluate.limit=20", "evaluate.samples=4"]


@dataclass
class Case:
    """One bad input: ``argv`` for the CLI, or ``call`` for a library function."""

    kind: str  # the family of bad input (the table's sections)
    what: str
    argv: list[str] | None = None
    call: Callable[[], object] | None = None
    accepted: str = ""  # for a sensible input the tool takes: what it does with it


def _write_inputs(tmp: Path) -> None:
    """Broken and foreign files, folders and arrays under ``tmp``."""
    (tmp / "empty").mkdir()
    (tmp / "text-as-image").mkdir()
    (tmp / "text-as-image" / "a.png").write_text("not an image")
    Image.new("L", (28, 28), 200).save(tmp / "text-as-image" / "b.png")
    mixed = tmp / "mixed"
    mixed.mkdir()
    Image.new("L", (28, 28), 10).save(mixed / "grey.png")
    Image.new("RGB", (40, 30), (200, 10, 10)).save(mixed / "rgb.png")
    Image.new("RGBA", (17, 50), (0, 255, 0, 128)).save(mixed / "rgba.png")
    Image.new("P", (28, 28), 3).save(mixed / "palette.png")
    Image.new("1", (64, 64), 1).save(mixed / "bilevel.png")
    Image.new("L", (28, 28), 90).save(mixed / "photo.jpg")
    (mixed / "notes.txt").write_text("a stray file")
    Image.new("1", (28, 28), 1).save(tmp / "binary.png")
    soundfile.write(tmp / "tone.wav", np.sin(np.arange(8000) / 5).astype(np.float32), 16000)
    (tmp / "sentences.txt").write_text("the cat sat on the mat .\nit was late .\n")
    np.save(tmp / "nan.npy", np.full((10, 1, 28, 28), np.nan, dtype=np.float32))
    np.save(tmp / "inf.npy", np.full((10, 1, 28, 28), np.inf, dtype=np.float32))
    np.save(tmp / "strings.npy", np.array([["a", "b"]] * 10))
    np.save(tmp / "complex.npy", np.ones((10, 4), dtype=np.complex64))
    np.save(tmp / "scalar.npy", np.float32(3.0))
    np.save(tmp / "wrong-shape.npy", np.zeros((10, 3, 8, 8), dtype=np.float32))
    np.save(tmp / "labels-float.npy", np.zeros(10, dtype=np.float32))
    np.savez(tmp / "one-based.npz", x=np.zeros((300, 1, 6, 5), dtype=np.uint8), y=np.arange(300) % 3 + 1)
    np.savez(tmp / "partly-labelled.npz", x=np.zeros((300, 1, 6, 5), dtype=np.uint8), y=np.arange(300) % 4 - 1)
    (tmp / "pickle.npy").write_bytes(b"\x80\x04K\x01.")
    (tmp / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    (tmp / "compressed.vkz").write_bytes(b"not a vaekit file at all")
    (tmp / "bad.yaml").write_text("model:\n  name: vae\n  latnt_dim: 4\n")
    (tmp / "wrong-type.yaml").write_text("train:\n  epochs: many\n")
    (tmp / "list.yaml").write_text("- a\n- b\n")
    (tmp / "broken.yaml").write_text("model: {name: vae\n")
    (tmp / "a-file").write_text("plain text")
    os.mkfifo(tmp / "fifo.npy")  # opening it for reading would wait for a writer forever
    with open(tmp / "huge-header.npy", "wb") as f:  # a header claiming 10^11 images, and no data
        np.lib.format.write_array_header_1_0(f, {"descr": "<f4", "fortran_order": False, "shape": (10**11, 784)})
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [" + ", ".join([f"*{chr(97 + i)}"] * 9) + "]\n" for i in range(8))
    (tmp / "alias-bomb.yaml").write_text(bomb)
    (tmp / "deep.yaml").write_text("model:\n  hidden: " + "[" * 5000 + "]" * 5000 + "\n")
    Image.fromarray(np.full((28, 28), 1000, dtype=np.uint16)).save(tmp / "deep.png")
    _png_bomb(tmp / "bomb.png")


def _png_bomb(path: Path) -> None:
    """A PNG of 20,000 x 20,000 one-bit pixels: about 50 KB that decode to 400 megapixels."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = zlib.compress(b"\0" * (20_000 * 2_501), 9)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 20_000, 20_000, 1, 0, 0, 0, 0))
                     + chunk(b"IDAT", rows) + chunk(b"IEND", b""))


def _damaged_models(tmp: Path, vae: Path) -> None:
    """Copies of a saved model with truncated, foreign or missing parts."""
    for name in ("truncated", "foreign", "no-weights", "bad-config", "no-config"):
        (tmp / name).mkdir()
        for f in vae.iterdir():
            (tmp / name / f.name).write_bytes(f.read_bytes())
    weights = (tmp / "truncated" / "model.safetensors")
    weights.write_bytes(weights.read_bytes()[:100])
    from safetensors.numpy import save_file

    foreign = tmp / "foreign" / "model.safetensors"
    save_file({"w": np.zeros(3, dtype=np.float32)}, str(foreign))
    config = json.loads((tmp / "foreign" / "config.json").read_text())
    config["weights_sha256"] = hashlib.sha256(foreign.read_bytes()).hexdigest()  # passes the checksum
    (tmp / "foreign" / "config.json").write_text(json.dumps(config))
    run = tmp / "cut-run" / "vae"
    shutil.copytree(vae.parent, run)
    checkpoint = run / "checkpoints" / "last.safetensors"
    checkpoint.write_bytes(checkpoint.read_bytes()[:1000])
    assert main(["compress", str(vae), str(tmp / "binary.png"), "-o", str(tmp / "whole.vkz")]) == 0
    whole = (tmp / "whole.vkz").read_bytes()
    (tmp / "cut.vkz").write_bytes(whole[:len(whole) // 2])
    (tmp / "no-weights" / "model.safetensors").unlink()
    (tmp / "bad-config" / "config.json").write_text("{not json")
    config = json.loads((vae / "config.json").read_text())
    for name in ("nested-config", "huge-shape", "nan-weights"):
        shutil.copytree(vae, tmp / name)
    (tmp / "nested-config" / "config.json").write_text('{"model": ' + "[" * 5000 + "]" * 5000 + "}")
    huge = {**config, "model": {**config["model"], "data_shape": [1, 10**6, 10**6]}}
    (tmp / "huge-shape" / "config.json").write_text(json.dumps(huge))
    from safetensors.torch import load_file
    from safetensors.torch import save_file as save_torch

    weights = load_file(str(vae / "model.safetensors"))
    weights[next(iter(weights))].fill_(float("nan"))
    save_torch(weights, str(tmp / "nan-weights" / "model.safetensors"))
    config["weights_sha256"] = hashlib.sha256((tmp / "nan-weights" / "model.safetensors").read_bytes()).hexdigest()
    (tmp / "nan-weights" / "config.json").write_text(json.dumps(config))
    _forged_checkpoints(tmp, vae)


def _forged_checkpoints(tmp: Path, vae: Path) -> None:
    """Runs whose checkpoint holds a state that does not fit: a missing tensor, counters past the run's end, a
    negative batch (each with the tensors' checksum recomputed, as a forger would)."""
    from safetensors import safe_open
    from safetensors.torch import save_file as save_torch

    from vaekit.train.checkpoint import _digest

    source = vae.parent / "checkpoints" / "last.safetensors"
    with safe_open(str(source), framework="pt") as f:
        metadata, tensors = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}
    for name, edit in [("missing-tensor", None), ("epoch-past-end", ("epoch", 10**6)), ("negative-batch",
                                                                                         ("batch", -5))]:
        run = tmp / name / "vae"
        shutil.copytree(vae.parent, run)
        state, forged = json.loads(metadata["state"]), dict(tensors)
        if edit is None:
            forged.pop(next(iter(forged)))
        else:
            counters = next(v for k, v in state["__dict__"] if k == "counters")["__dict__"]
            next(pair for pair in counters if pair[0] == edit[0])[1] = edit[1]
        save_torch(forged, str(run / "checkpoints" / "last.safetensors"),
                   metadata={**metadata, "state": json.dumps(state), "sha256": _digest(forged)})
    (tmp / "no-config" / "config.json").unlink()


def _cases(t: Path, vae: Path, cls: Path) -> list[Case]:
    import torch

    import vaekit
    from vaekit.codec import compress, decompress
    from vaekit.codec.text import compress_text
    from vaekit.config import load_config
    from vaekit.data import Split
    from vaekit.data.tokenizer import load_tokenizer
    from vaekit.evaluate import evaluate
    from vaekit.generate import interpolate, save_grid

    out = t / "out"
    o = str(out / "result")
    x = torch.zeros(2, 1, 28, 28)
    return [
        Case("missing files", "a recipe that does not exist", ["train", "--config", f"{t}/missing.yaml"]),
        Case("missing files", "a data set that does not exist", ["train", *TINY, f"data.name={t}/missing",
                                                                  f"out_dir={out}"]),
        Case("missing files", "a model folder that does not exist", ["evaluate", f"{t}/missing"]),
        Case("missing files", "an input image that does not exist", ["reconstruct", str(vae), f"{t}/missing.png",
                                                                     "-o", f"{o}.png"]),
        Case("missing files", "a file to compress that does not exist", ["compress", str(vae), f"{t}/missing.png",
                                                                         "-o", f"{o}.vkz"]),
        Case("missing files", "a compressed file that does not exist", ["decompress", f"{t}/missing.vkz", "-o", o]),
        Case("missing files", "an image to classify that does not exist", ["classify", str(cls), f"{t}/none.png"]),
        Case("missing files", "a model folder to serve that does not exist", ["serve", f"{t}/missing"]),
        Case("missing files", "a data set that is not known", ["data", "verify", "imagenet"]),
        Case("missing files", "vaekit.load_data of a path that does not exist",
             call=lambda: vaekit.load_data(name=f"{t}/missing")),
        Case("missing files", "vaekit.fit on a data folder that does not exist",
             call=lambda: vaekit.fit(vaekit.load(vae), f"{t}/missing", epochs=1, progress=False)),
        Case("missing files", "vaekit.load of a folder that does not exist", call=lambda: vaekit.load(f"{t}/missing")),
        Case("directories for files", "a folder as the recipe", ["train", "--config", str(t / "empty")]),
        Case("directories for files", "a folder as the compressed file", ["decompress", str(t / "empty"), "-o", o]),
        Case("directories for files", "a folder as an image to reconstruct", ["reconstruct", str(vae), str(t / "mixed"),
                                                                              "-o", f"{o}.png"]),
        Case("directories for files", "a folder as the labels of compress",
             ["compress", str(vae), str(t / "mixed" / "grey.png"), "--labels", str(t / "empty"), "-o", f"{o}.vkz"]),
        Case("directories for files", "a file as the model folder", ["sample", str(t / "a-file"), "-o", f"{o}.png"]),
        Case("directories for files", "a file as the run folder", ["train", *TINY, f"out_dir={t}/a-file"]),
        Case("empty folders", "an empty folder as the data", ["train", *TINY, f"data.name={t}/empty",
                                                             f"out_dir={out}"]),
        Case("empty folders", "an empty folder to compress", ["compress", str(vae), str(t / "empty"),
                                                              "-o", f"{o}.vkz"]),
        Case("empty folders", "an empty folder as the model", ["evaluate", str(t / "empty")]),
        Case("non-image files", "a text file named .png in the data folder",
             ["train", *TINY, f"data.name={t}/text-as-image", f"out_dir={out}"]),
        Case("non-image files", "a truncated PNG to reconstruct", ["reconstruct", str(vae), str(t / "image.png"),
                                                                   "-o", f"{o}.png"]),
        Case("non-image files", "a truncated PNG to compress", ["compress", str(vae), str(t / "image.png"),
                                                                "-o", f"{o}.vkz"]),
        Case("non-image files", "vaekit.load_data of a folder with a text file named .png",
             call=lambda: vaekit.load_data(name=str(t / "text-as-image"))),
        Case("mixed sizes and modes", "grey, RGB, RGBA, palette and 1-bit images of 4 sizes, PNG and JPEG",
             ["reconstruct", str(vae), *[str(p) for p in sorted((t / "mixed").glob("*.*g"))], "-o",
              str(t / "mixed-reconstructions.png")],
             accepted="each image converted to grey and resized to the model's 28x28"),
        Case("mixed sizes and modes", "the same folder as training data (data.channels=1, data.image_size=[28,28])",
             ["train", *TINY, f"data.name={t}/mixed", "data.channels=1", "data.image_size=[28,28]",
              "model.likelihood=logistic-mixture",
              "data.validation=1", f"out_dir={t}/mixed-run"],
             accepted="trained on the 6 images, each converted to grey and resized to 28x28; the .txt skipped"),
        Case("NaN and infinity", "an array of NaN as training data", ["train", *TINY, f"data.name={t}/nan.npy",
                                                                     f"out_dir={out}"]),
        Case("NaN and infinity", "an array of infinity, streamed from disk",
             ["train", *TINY, f"data.name={t}/inf.npy", "data.stream=true", f"out_dir={out}"]),
        Case("NaN and infinity", "an array of NaN to compress", ["compress", str(vae), str(t / "nan.npy"),
                                                                 "-o", f"{o}.vkz"]),
        Case("NaN and infinity", "vaekit.codec.compress of a batch with infinity",
             call=lambda: compress(vaekit.load(vae), torch.full((2, 1, 28, 28), float("inf")))),
        Case("NaN and infinity", "a model's ELBO of a NaN batch",
             call=lambda: vaekit.load(vae).elbo(torch.full((2, 1, 28, 28), float("nan")))),
        Case("wrong dimensions or dtype", "an array of strings as data", ["train", *TINY,
                                                                          f"data.name={t}/strings.npy",
                                                                          f"out_dir={out}"]),
        Case("wrong dimensions or dtype", "an array of complex numbers as data",
             ["train", *TINY, f"data.name={t}/complex.npy", f"out_dir={out}"]),
        Case("wrong dimensions or dtype", "a 0-dimensional array as data", ["train", *TINY,
                                                                            f"data.name={t}/scalar.npy",
                                                                            f"out_dir={out}"]),
        Case("wrong dimensions or dtype", "a pickle named .npy", ["train", *TINY, f"data.name={t}/pickle.npy",
                                                                  f"out_dir={out}"]),
        Case("wrong dimensions or dtype", "float labels for a .npy", ["train", *TINY,
                                                                      f"data.name={t}/wrong-shape.npy",
                                                                      f"data.labels={t}/labels-float.npy",
                                                                      f"out_dir={out}"]),
        Case("wrong dimensions or dtype", "labels numbered from 1 for a model that learns from labels",
             ["train", *TINY, "model.name=m2", f"data.name={t}/one-based.npz", f"out_dir={out}"]),
        Case("wrong dimensions or dtype", "unknown labels (-1) for a conditional VAE",
             ["train", *TINY, "model.name=conditional-vae", f"data.name={t}/partly-labelled.npz", f"out_dir={out}"]),
        Case("wrong dimensions or dtype", "an array of another shape to compress",
             ["compress", str(vae), str(t / "wrong-shape.npy"), "-o", f"{o}.vkz"]),
        Case("wrong dimensions or dtype", "a model's ELBO of a batch of another shape",
             call=lambda: vaekit.load(vae).elbo(torch.zeros(2, 3, 8, 8))),
        Case("wrong dimensions or dtype", "vaekit.codec.compress of a batch of another shape",
             call=lambda: compress(vaekit.load(vae), torch.zeros(3, 28, 28, 1))),
        Case("wrong dimensions or dtype", "a model's sample of -2 images", call=lambda: vaekit.load(vae).sample(-2)),
        Case("wrong dimensions or dtype", "a model's log-likelihood with k=0 samples",
             call=lambda: vaekit.load(vae).log_likelihood(x, k=0)),
        Case("wrong dimensions or dtype", "vaekit.evaluate.evaluate of a split of another shape",
             call=lambda: evaluate(vaekit.load(vae), Split(torch.zeros(4, 3, 8, 8)), k=2, progress=False)),
        Case("wrong dimensions or dtype", "vaekit.generate.interpolate with 1 step",
             call=lambda: interpolate(vaekit.load(vae), x[:1], x[1:], steps=1)),
        Case("wrong dimensions or dtype", "vaekit.generate.save_grid of a 2-D tensor",
             call=lambda: save_grid(torch.zeros(28, 28), out / "grid.png")),
        Case("wrong dimensions or dtype", "a model's ELBO of a NumPy array", call=lambda: vaekit.load(vae).elbo(
            np.zeros((2, 1, 28, 28)))),  # type: ignore[arg-type]
        Case("wrong dimensions or dtype", "a negative sample count", ["sample", str(vae), "-n", "-3",
                                                                      "-o", f"{o}.png"]),
        Case("wrong dimensions or dtype", "a sample count that is not a number", ["sample", str(vae), "-n", "many",
                                                                                  "-o", f"{o}.png"]),
        Case("wrong dimensions or dtype", "a port out of range", ["serve", str(vae), "--port", "70000"]),
        Case("wrong dimensions or dtype", "one image to interpolate",
             ["interpolate", str(vae), str(t / "mixed" / "grey.png"), "-o", f"{o}.png"]),
        Case("truncated or foreign safetensors", "truncated weights", ["sample", str(t / "truncated"),
                                                                       "-o", f"{o}.png"]),
        Case("truncated or foreign safetensors", "weights of another model (checksum matched to them)",
             ["evaluate", str(t / "foreign")]),
        Case("truncated or foreign safetensors", "weights missing", ["reconstruct", str(t / "no-weights"),
                                                                     "-o", f"{o}.png"]),
        Case("truncated or foreign safetensors", "config.json that is not JSON", ["sample", str(t / "bad-config"),
                                                                                 "-o", f"{o}.png"]),
        Case("truncated or foreign safetensors", "config.json missing", ["sample", str(t / "no-config"),
                                                                        "-o", f"{o}.png"]),
        Case("truncated or foreign safetensors", "a file that is not a vaekit compressed file",
             ["decompress", str(t / "compressed.vkz"), "-o", o, "--model", str(vae)]),
        Case("truncated or foreign safetensors", "a compressed file cut in half",
             ["decompress", str(t / "cut.vkz"), "-o", o, "--model", str(vae)]),
        Case("truncated or foreign safetensors", "--resume from a truncated checkpoint",
             ["train", *TINY, f"out_dir={t}/cut-run", "name=vae", "--resume"]),
        Case("truncated or foreign safetensors", "load_tokenizer of a file that is not a tokenizer",
             call=lambda: load_tokenizer(t / "bad.yaml")),
        Case("truncated or foreign safetensors", "vaekit.codec.decompress of foreign bytes",
             call=lambda: decompress(vaekit.load(vae), b"\x00" * 64).x),
        Case("configs", "an unknown key in a recipe", ["train", "--config", str(t / "bad.yaml"), f"out_dir={out}"]),
        Case("configs", "a wrong type in a recipe", ["train", "--config", str(t / "wrong-type.yaml"),
                                                     f"out_dir={out}"]),
        Case("configs", "a recipe that is a YAML list", ["train", "--config", str(t / "list.yaml"), f"out_dir={out}"]),
        Case("configs", "a recipe that is not valid YAML", ["train", "--config", str(t / "broken.yaml"),
                                                            f"out_dir={out}"]),
        Case("configs", "an unknown override key", ["train", *TINY, "model.latnt_dim=3", f"out_dir={out}"]),
        Case("configs", "an override of the wrong type", ["train", *TINY, "train.lr=fast", f"out_dir={out}"]),
        Case("configs", "an override that is not key=value", ["train", *TINY, "epochs", f"out_dir={out}"]),
        Case("configs", "load_config with an unknown key", call=lambda: load_config(t / "bad.yaml")),
        Case("hostile and huge input", "a FIFO as the data .npy", ["train", *TINY, f"data.name={t}/fifo.npy",
                                                                   f"out_dir={out}"]),
        Case("hostile and huge input", "a FIFO as the labels of compress",
             ["compress", str(vae), str(t / "mixed" / "grey.png"), "--labels", str(t / "fifo.npy"), "-o", f"{o}.vkz"]),
        Case("hostile and huge input", "a FIFO to compress", ["compress", str(vae), str(t / "fifo.npy"),
                                                              "-o", f"{o}.vkz"]),
        Case("hostile and huge input", "a .npy header claiming 10^11 images", ["train", *TINY,
                                                                               f"data.name={t}/huge-header.npy",
                                                                               f"out_dir={out}"]),
        Case("hostile and huge input", "a 400-megapixel PNG of 50 KB to reconstruct",
             ["reconstruct", str(vae), str(t / "bomb.png"), "-o", f"{o}.png"]),
        Case("hostile and huge input", "a 400-megapixel PNG of 50 KB to compress",
             ["compress", str(vae), str(t / "bomb.png"), "-o", f"{o}.vkz"]),
        Case("hostile and huge input", "a 16-bit PNG to compress losslessly",
             ["compress", str(vae), str(t / "deep.png"), "-o", f"{o}.vkz"]),
        Case("hostile and huge input", "a recipe that is a YAML alias bomb", ["train", "--config",
                                                                              str(t / "alias-bomb.yaml")]),
        Case("hostile and huge input", "a recipe nested 5,000 deep", ["train", "--config", str(t / "deep.yaml")]),
        Case("hostile and huge input", "an override that is not valid YAML", ["train", *TINY,
                                                                              "model.hidden=[200,200"]),
        Case("hostile and huge input", "a seed of 2^70", ["train", *TINY, f"train.seed={2**70}", f"out_dir={out}"]),
        Case("hostile and huge input", "a latent of 10^9 dimensions", ["train", *TINY, "model.latent_dim=1000000000",
                                                                       f"out_dir={out}"]),
        Case("hostile and huge input", "hidden layers of 10^6 units", ["train", *TINY, "model.hidden=[1000000,1000000]",
                                                                       f"out_dir={out}"]),
        Case("hostile and huge input", "a saved config.json nested 5,000 deep",
             ["sample", str(t / "nested-config"), "-o", f"{o}.png"]),
        Case("hostile and huge input", "a saved config.json with data_shape [1, 10^6, 10^6]",
             ["sample", str(t / "huge-shape"), "-o", f"{o}.png"]),
        Case("hostile and huge input", "NaN weights in a valid file", ["evaluate", str(t / "nan-weights")]),
        Case("hostile and huge input", "a sample count of 10^9", ["sample", str(vae), "-n", "1000000000",
                                                                  "-o", f"{o}.png"]),
        Case("hostile and huge input", "--nrow 10^9", ["sample", str(vae), "--nrow", "1000000000", "-o", f"{o}.png"]),
        Case("hostile and huge input", "interpolate --steps 10^7", ["interpolate", str(vae), "--steps", "10000000",
                                                                    "-o", f"{o}.png"]),
        Case("hostile and huge input", "evaluate --k 10^9", ["evaluate", str(vae), "--k", "1000000000"]),
        Case("hostile and huge input", "--resume from a checkpoint missing a tensor",
             ["train", *TINY, f"out_dir={t}/missing-tensor", "name=vae", "--resume"]),
        Case("hostile and huge input", "--resume from a checkpoint at epoch 10^6",
             ["train", *TINY, f"out_dir={t}/epoch-past-end", "name=vae", "--resume"]),
        Case("hostile and huge input", "--resume from a checkpoint at batch -5",
             ["train", *TINY, f"out_dir={t}/negative-batch", "name=vae", "--resume"]),
        Case("another kind of model", "classify with a VAE", ["classify", str(vae), "-n", "3"]),
        Case("another kind of model", "--class with an unconditional VAE", ["sample", str(vae), "--class", "3",
                                                                            "-o", f"{o}.png"]),
        Case("another kind of model", "a WAV file to an image model", ["reconstruct", str(vae), str(t / "tone.wav"),
                                                                       "-o", f"{o}.png"]),
        Case("another kind of model", "a text file to compress with an image model",
             ["compress", str(vae), str(t / "sentences.txt"), "-o", f"{o}.vkz"]),
        Case("another kind of model", "sample from a classifier", ["sample", str(cls), "-o", f"{o}.png"]),
        Case("another kind of model", "reconstruct with a classifier", ["reconstruct", str(cls), "-o", f"{o}.png"]),
        Case("another kind of model", "interpolate with a classifier", ["interpolate", str(cls), "-o", f"{o}.png"]),
        Case("another kind of model", "compress with a classifier", ["compress", str(cls),
                                                                     str(t / "mixed" / "grey.png"), "-o", f"{o}.vkz"]),
        Case("another kind of model", "a VAE's ELBO of text data", ["evaluate", str(vae), "--data", "brown",
                                                                   "--limit", "3"]),
        Case("another kind of model", "--resume a run made by another recipe",
             ["train", *TINY, "model.latent_dim=3", f"out_dir={vae.parent.parent}", "name=vae", "--resume"]),
        Case("another kind of model", "a classifier's ELBO", call=lambda: vaekit.load(cls).elbo(x)),
        Case("another kind of model", "vaekit.codec.text.compress_text with an image model",
             call=lambda: compress_text(vaekit.load(vae), "a line of text\n")),
    ]


def _run(case: Case, out: Path) -> tuple[str, str]:
    """(outcome, message) of one case."""
    stderr = io.StringIO()
    if case.argv is not None:
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
            try:
                code = main(case.argv)
            except SystemExit as exit_:  # argparse's own refusals
                code = int(exit_.code or 0)
        return f"exit {code}", stderr.getvalue().strip()
    assert case.call is not None
    try:
        case.call()
    except Exception as error:  # noqa: BLE001 - what any exception looks like is what is being recorded
        return type(error).__name__, str(error)
    return "returned", ""


def test_bad_input_everywhere(tmp_path: Path) -> None:
    from vaekit.limits import gigabytes, physical_memory

    t = tmp_path
    _write_inputs(t)
    runs = t / "runs"
    assert main(["train", *TINY, f"out_dir={runs}", "name=vae"]) == 0
    assert main(["train", *[o for o in TINY if not o.startswith("model.latent_dim")], "model.name=classifier",
                 f"out_dir={runs}", "name=cls"]) == 0  # a classifier has no latent_dim
    vae, cls = runs / "vae" / "model", runs / "cls" / "model"
    _damaged_models(t, vae)
    rows, problems = {}, []
    for case in _cases(t, vae, cls):
        out = t / "out"
        out.mkdir(exist_ok=True)
        outcome, message = _run(case, out)
        lines = message.splitlines()
        command = f"`vaekit {case.argv[0]}`" if case.argv else "Python API"
        expected = "exit 0" if case.accepted else "exit 2"
        if case.argv is None:
            good = outcome not in ("returned", "RuntimeError", "KeyError", "AttributeError", "IndexError")
        else:
            good = outcome == expected and (case.accepted or (len(lines) == 1 and "error:" in lines[0]))
        if not good or (len(lines) > 1 and not case.accepted):
            problems.append(f"{case.what}: {outcome}: {message[-500:]}")
        if any(out.iterdir()):
            problems.append(f"{case.what}: wrote {sorted(p.name for p in out.iterdir())}")
        if case.accepted:
            outcome, message = f"{outcome}: {case.accepted}", message.splitlines()[-1] if message else ""
        shown = message.replace(str(t), "<tmp>").replace(gigabytes(physical_memory()), "<memory>")
        rows.setdefault(case.kind, []).append((case.what, command, outcome, shown))
        for p in sorted(out.rglob("*"), reverse=True):
            p.rmdir() if p.is_dir() else p.unlink()
    assert not problems, "\n".join(problems)
    page = _render(rows)
    if os.environ.get("VAEKIT_UPDATE_DOCS"):
        PAGE.write_text(page)
    assert PAGE.read_text() == page, "docs/reliability.md is out of date: VAEKIT_UPDATE_DOCS=1 pytest " + __file__


def _render(rows: dict[str, list[tuple[str, str, str, str]]]) -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ") or "-"

    parts = ["# Reliability: bad input\n",
             "Every command and the public loaders were given the inputs below by `tests/test_bad_input.py`, which "
             "writes this page and fails when it is out of date. Each refusal is one line on stderr with exit status "
             "2 (a function raises one exception with a one-line message), and nothing is left in the output "
             "folder. `<tmp>` stands for the test's temporary folder and `<memory>` for the machine's memory. "
             "Kills, full disks and non-finite losses are in [training](training.md).\n"]
    for kind, entries in rows.items():
        parts.append(f"## {kind[0].upper() + kind[1:]}\n\n| input | where | outcome | message |\n|---|---|---|---|")
        parts += [f"| {cell(what)} | {command} | {outcome} | {cell(message)} |" for what, command, outcome, message
                  in entries]
        parts.append("")
    return "\n".join(parts + [_portability_and_bounds()])


def _portability_and_bounds() -> str:
    """The measured portability matrix and fuzz (from benchmarks/results) and the bounds, read from the code."""
    from vaekit.codec.container import MAX_BATCH_ELEMENTS, MAX_HEADER_BYTES, MAX_SYMBOLS
    from vaekit.codec.files import MAX_NAMES_BYTES
    from vaekit.config import MAX_DEPTH, MAX_RECIPE_BYTES
    from vaekit.data.user_files import MAX_PIXELS

    results = ROOT / "benchmarks" / "results"
    portable = json.loads((results / "portability.json").read_text())
    fuzz = json.loads((results / "hostile_files.json").read_text())
    lines = ["## Portability\n", f"Measured by `{portable['command']}` ({portable['date']}): {portable['setting']}.\n",
             "| model | files the 4 encoders wrote | decodes exact |", "|---|---|---|"]
    for r in portable["rows"]:
        files = "the same bytes" if r["files"] == 1 else f"{r['files']} different files"
        lines.append(f"| {r['model']} | {files} | {r['exact']} / {r['decodes']} |")
    outcomes = ", ".join(f"{name} {count:,}" for name, count in sorted(fuzz["outcomes"].items()))
    lines += ["", "Guarantees and their limits: [compression](compression.md#the-same-file-on-every-machine).\n",
              "## Hostile files\n", f"Measured by `{fuzz['command']}` ({fuzz['date']}): {fuzz['setting']}. "
              f"{fuzz['mutants']:,} mutants: {outcomes}; the slowest decode took {fuzz['worst_seconds']:.2f} s and a "
              f"worker's peak memory was {fuzz['peak_mb']:,.0f} MB.\n",
              "## Bounds\n", "| what | bound |", "|---|---|",
              "| memory one request may take (a file's decoded items, an array, a model's training state) | half of "
              "the machine's |",
              f"| data elements per network pass while coding | {MAX_BATCH_ELEMENTS:,} |",
              f"| a lossy file's range of latent symbols | {MAX_SYMBOLS:,} |",
              f"| a compressed file's header | {MAX_HEADER_BYTES >> 20} MiB |",
              f"| a compressed file's names, unpacked | {MAX_NAMES_BYTES >> 20} MiB |",
              f"| an image's pixels, read from its header before decoding | {MAX_PIXELS:,} |",
              f"| a recipe | {MAX_RECIPE_BYTES >> 20} MiB, nested at most {MAX_DEPTH} deep, no YAML aliases |",
              "| JSON nested too deeply, numbers of thousands of digits (headers, configs, checkpoints, tokenizers) "
              "| one error |",
              "| a text file's lines and spelled-out words while decoding | the longest its header records |",
              "| `sample -n`, `reconstruct -n`; `--nrow`, `interpolate --steps`; `evaluate --k` | 10,000; 1,000; "
              "1,000,000 |", ""]
    return "\n".join(lines)

