"""Compression on the full MNIST and Fashion-MNIST test sets (10,000 images each), all in one run.

Lossless: vaekit's bits-back ANS next to gzip, bz2, lzma (the whole test set as one byte per pixel) and
PNG and lossless WebP (Pillow, one file per image), with the file's overhead over the model's negative
ELBO and the throughput each way. Lossy: vaekit's quantized latents at several steps next to JPEG and
WebP at several qualities, both per image (real files, headers included) and as 10x10 mosaics (headers
shared by 100 images: the setting kindest to JPEG and WebP); bits per pixel against PSNR and SSIM.

Models are trained here within fixed wall-clock budgets and kept in benchmarks/out/models
(``--reuse`` codes with the kept ones instead of training again).
"""
from __future__ import annotations

import argparse
import bz2
import gzip
import io
import json
import lzma
import math
import time

import numpy as np
import torch
from common import ROOT, epochs_for_budget, save_result, use_shared_data
from PIL import Image

use_shared_data()

from vaekit import VAE, DataConfig, TrainConfig, compress, decompress, load, load_data, save  # noqa: E402
from vaekit.data.dataset import Split  # noqa: E402
from vaekit.evaluate import mean_elbo  # noqa: E402
from vaekit.image_quality import psnr, ssim  # noqa: E402
from vaekit.train import Trainer  # noqa: E402

MODELS = ROOT / "benchmarks" / "out" / "models"
FIGURE = ROOT / "docs" / "images" / "rate_distortion.png"
BURDA = dict(latent_dim=50, hidden=[200, 200], activation="tanh", likelihood="bernoulli")
CONV_8BIT = dict(latent_dim=32, architecture="conv", channels=[32, 64], likelihood="logistic-mixture",
                 mixture_components=5)
CONV_GAUSSIAN = dict(latent_dim=64, architecture="conv", channels=[32, 64], likelihood="gaussian")  # for lossy only
# name: (data set, model options, training options, budget argument)
SETUPS = {
    "binarized-mnist": ("binarized-mnist", BURDA, dict(batch_size=100, lr_final=0.1), "minutes_binary"),
    "mnist": ("mnist", CONV_8BIT, dict(batch_size=128), "minutes_8bit"),
    "fashion-mnist": ("fashion-mnist", CONV_8BIT, dict(batch_size=128), "minutes_8bit"),
    "mnist-beta0.1": ("mnist", {**CONV_8BIT, "beta": 0.1}, dict(batch_size=128), "minutes_8bit"),
    "mnist-gaussian": ("mnist", CONV_GAUSSIAN, dict(batch_size=128), "minutes_8bit"),
    "fashion-mnist-gaussian": ("fashion-mnist", CONV_GAUSSIAN, dict(batch_size=128), "minutes_8bit"),
}
LOSSY = {"mnist": ["mnist", "mnist-beta0.1", "mnist-gaussian"],
         "fashion-mnist": ["fashion-mnist", "fashion-mnist-gaussian"]}
STEPS = [2.0, 1.0, 0.5, 0.25, 0.125, 0.0625, 0.03125]
QUALITIES = [1, 5, 10, 20, 30, 50, 70, 90]


_EPOCH_SECONDS: dict[str, float] = {}  # calibrated once per architecture and training set size


def trained(name: str, args: argparse.Namespace) -> tuple[VAE, dict]:
    data_name, options, train_options, budget = SETUPS[name]
    directory = MODELS / name
    if args.reuse and (directory / "training.json").is_file():
        return load(directory), json.loads((directory / "training.json").read_text())  # type: ignore[return-value]
    minutes = getattr(args, budget)
    data = load_data(DataConfig(name=data_name, validation=0))
    config = dict(lr=1e-3, schedule="cosine", compile=True, progress=False, log_every=10**9,
                  checkpoint_every=10**9, **train_options)
    key = f"{options.get('architecture', 'mlp')} {len(data.train)}"
    if key not in _EPOCH_SECONDS:
        _EPOCH_SECONDS[key] = epochs_for_budget(VAE(data_shape=data.data_shape, **options), data, config, 1)[1]
    epochs = max(1, int(minutes * 60 / _EPOCH_SECONDS[key]))
    model = VAE(data_shape=data.data_shape, **options)
    result = Trainer(model, TrainConfig(epochs=epochs, max_minutes=minutes, **config)).fit(data)
    save(model.eval(), directory)
    info = {"minutes": round(result.seconds / 60, 1), "epochs": result.epochs}
    (directory / "training.json").write_text(json.dumps(info) + "\n")
    return model, info


def _encoded(image: np.ndarray, **options: object) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, **options)
    return buffer.getvalue()


def lossless(name: str, model: VAE, test: torch.Tensor) -> dict:
    """vaekit against the standard codecs on one test set (N, 1, 28, 28) of 0/1 or k/255 values."""
    binary = name == "binarized-mnist"
    pixels = test.numel()
    start = time.perf_counter()
    blob = compress(model, test, batch_size=1000)
    encode_s = time.perf_counter() - start
    start = time.perf_counter()
    back = decompress(model, blob).x
    decode_s = time.perf_counter() - start
    assert torch.equal(back, test), "the lossless round trip is not exact"
    with torch.no_grad():
        elbo = mean_elbo(model, Split(test, None, "binary" if binary else "8bit"))["elbo"]
    neg_elbo_bits = -elbo / (math.prod(test.shape[1:]) * math.log(2))
    raw = np.round(test.numpy() * (1 if binary else 255)).astype(np.uint8)
    images = raw[:, 0] * (255 if binary else 1)
    sizes = {
        "vaekit": len(blob),
        "gzip": len(gzip.compress(raw.tobytes(), 9)),
        "bz2": len(bz2.compress(raw.tobytes(), 9)),
        "lzma": len(lzma.compress(raw.tobytes(), preset=9 | lzma.PRESET_EXTREME)),
        "PNG": sum(len(_encoded(im > 127 if binary else im, format="PNG", optimize=True)) for im in images),
        "WebP": sum(len(_encoded(im, format="WEBP", lossless=True, quality=100, method=6)) for im in images),
    }
    return {"data": name, "images": len(test), "bits_per_dim": {k: 8 * v / pixels for k, v in sizes.items()},
            "neg_elbo_bits_per_dim": neg_elbo_bits, "overhead": 8 * len(blob) / pixels / neg_elbo_bits - 1,
            "encode_images_per_s": len(test) / encode_s, "decode_images_per_s": len(test) / decode_s}


def _quality(x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    y = torch.round(y * 255) / 255  # what a user gets: 8-bit images
    return psnr(x, y), ssim(x, y)


def vaekit_curve(model: VAE, test: torch.Tensor) -> list[dict]:
    points = []
    for step in STEPS:
        blob = compress(model, test, "lossy", step=step)
        p, s = _quality(test, decompress(model, blob).x)
        points.append({"step": step, "bpp": 8 * len(blob) / test[:, 0].numel(), "psnr": p, "ssim": s})
    return points


def _mosaics(images: np.ndarray, side: int = 10) -> list[np.ndarray]:
    n, h, w = images.shape
    groups = images[: n - n % (side * side)].reshape(-1, side, side, h, w)
    return [g.transpose(0, 2, 1, 3).reshape(side * h, side * w) for g in groups]


def _unmosaic(tiles: list[np.ndarray], h: int, w: int, side: int = 10) -> np.ndarray:
    return np.concatenate([t.reshape(side, h, side, w).transpose(0, 2, 1, 3).reshape(-1, h, w) for t in tiles])


def standard_curves(test: torch.Tensor) -> dict[str, list[dict]]:
    images = np.round(test[:, 0].numpy() * 255).astype(np.uint8)
    curves: dict[str, list[dict]] = {}
    for codec, options in (("JPEG", dict(format="JPEG", optimize=True)), ("WebP", dict(format="WEBP", method=6))):
        for layout in ("per image", "10x10 mosaics"):
            units = list(images) if layout == "per image" else _mosaics(images)
            points = []
            for q in QUALITIES:
                blobs = [_encoded(u, quality=q, **options) for u in units]
                decoded = [np.asarray(Image.open(io.BytesIO(b)).convert("L")) for b in blobs]
                back = np.stack(decoded) if layout == "per image" else _unmosaic(decoded, *images.shape[1:])
                y = torch.from_numpy(back).float().div(255).unsqueeze(1)
                x = test[: len(y)]
                p, s = _quality(x, y)
                points.append({"quality": q, "bpp": 8 * sum(map(len, blobs)) / x[:, 0].numel(), "psnr": p, "ssim": s})
            curves[f"{codec} ({layout})"] = points
    return curves


def plot(lossy: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(lossy), figsize=(6 * len(lossy), 4.5))
    for ax, (data, entry) in zip(np.atleast_1d(axes), lossy.items()):
        for label, points in {**{f"vaekit {m}": p for m, p in entry["vaekit"].items()}, **entry["standard"]}.items():
            style = "-o" if label.startswith("vaekit") else ("--" if "per image" in label else ":s")
            ax.plot([p["bpp"] for p in points], [p["psnr"] for p in points], style, label=label, markersize=3)
        ax.set(xscale="log", xlabel="bits per pixel", ylabel="PSNR (dB)", title=f"{data} test set (10,000 images)")
        ax.axvline(1.0, color="grey", lw=0.5)
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    FIGURE.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(FIGURE, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes-binary", type=float, default=28.0)
    parser.add_argument("--minutes-8bit", type=float, default=6.0)
    parser.add_argument("--reuse", action="store_true",
                        help="code with the models an earlier run kept (train only those missing)")
    args = parser.parse_args()
    torch.manual_seed(0)
    models = {name: trained(name, args) for name in SETUPS}
    for name, (_, info) in models.items():
        print(name, info, flush=True)
    tests = {name: load_data(DataConfig(name=name, validation=0)).test.x
             for name in ("binarized-mnist", "mnist", "fashion-mnist")}
    lossless_rows = [lossless(name, models[name][0], tests[name]) for name in tests]
    for row in lossless_rows:
        print(row, flush=True)
    lossy = {}
    for data, names in LOSSY.items():
        curves = {name: vaekit_curve(models[name][0], tests[data]) for name in names}
        standard = standard_curves(tests[data])
        lossy[data] = {"vaekit": curves, "standard": standard}
        print(data, curves, flush=True)
    plot(lossy)
    save_result("compression", {
        "setting": {name: {"data": SETUPS[name][0], "model": SETUPS[name][1], "training": info}
                    for name, (_, info) in models.items()},
        "lossless": lossless_rows, "lossy": lossy, "figure": str(FIGURE.relative_to(ROOT))})


if __name__ == "__main__":
    main()
