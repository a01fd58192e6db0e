"""The VAE family on binarized MNIST, side by side with Pythae on the same model, data and wall-clock budget.

Data: the 60,000 MNIST training images binarized once (a fixed Bernoulli draw, seed 1), because Pythae's
trainer takes a fixed array; the first ``--test-images`` test images binarized once with seed 0 (vaekit's
binarized-mnist test split). Every model: Burda et al.'s one-layer networks 784-200-200-50 (tanh), or their
two-layer 784-200-200-100-100-100-50 (the Ladder VAE with Sonderby et al.'s leaky ReLU: with tanh its
bottom-up path trained far worse, -140 against -115 nats of test ELBO after one minute), Adam at 1e-3,
batch 100, constant rate.

For each model both libraries have (VAE, IWAE k=5, VampPrior with 500 pseudo-inputs), Pythae trains first,
in its own virtual environment (pythae from PyPI, created here on first use), with its own trainer step
for ``--minutes``; vaekit then trains for exactly the seconds Pythae used. Both score log p(x) with k
importance samples on the same test images and their times are compared. vaekit's other models (two
stochastic layers, with k=1 and k=5, and the Ladder VAE) train for ``--minutes`` each.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from common import RESULTS, ROOT, save_result, use_shared_data

use_shared_data()

from vaekit import DataConfig, TrainConfig, load_data  # noqa: E402
from vaekit.data import Data, binarize  # noqa: E402
from vaekit.evaluate import evaluate  # noqa: E402
from vaekit.models import IWAE, VAE, HierarchicalVAE, LadderVAE, VampPriorVAE  # noqa: E402
from vaekit.train import Trainer  # noqa: E402

OUT = ROOT / "benchmarks" / "out" / "family"
PYTHAE_VENV = ROOT / "benchmarks" / "out" / "pythae-venv"
PYTHAE_PINS = ["torch==2.13.0", "pythae==0.1.2"]
ONE_LAYER = dict(latent_dim=50, hidden=[200, 200], activation="tanh", likelihood="bernoulli")
TWO_LAYERS = dict(layers=[{"latent": 100, "hidden": [200, 200]}, {"latent": 50, "hidden": [100, 100]}],
                  activation="tanh", likelihood="bernoulli")
# name: (vaekit model, pythae model or None, Burda et al. 2015 Table 1 k=1/5/50 or another paper's figure)
MODELS = {
    "VAE, 1 layer": (lambda s: VAE(data_shape=s, **ONE_LAYER), "vae", "86.76 (Burda, k=1); Pythae's 89.78"),
    "IWAE k=5, 1 layer": (lambda s: IWAE(data_shape=s, importance_samples=5, **ONE_LAYER), "iwae",
                          "85.54 (Burda, k=5); Pythae's IWAE 86.82"),
    "VampPrior, 1 layer": (lambda s: VampPriorVAE(data_shape=s, prior_components=500, **ONE_LAYER), "vamp",
                           "85.57 (Tomczak & Welling, 40 latents, 300-300); Pythae's 85.79"),
    "VAE, 2 layers": (lambda s: HierarchicalVAE(data_shape=s, **TWO_LAYERS), None, "85.33 (Burda, k=1)"),
    "IWAE k=5, 2 layers": (lambda s: HierarchicalVAE(data_shape=s, importance_samples=5, **TWO_LAYERS), None,
                           "83.89 (Burda, k=5)"),
    "Ladder VAE, 2 layers": (lambda s: LadderVAE(data_shape=s, **{**TWO_LAYERS, "activation": "leaky_relu"}), None,
                             "81.74 (Sonderby et al. 2016, best LVAE: 5 layers, batch norm, warm-up, "
                             "importance-weighted training)"),
}


def pythae_python() -> Path:
    """The Pythae environment's interpreter, created with the pinned packages on first use."""
    python = PYTHAE_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(PYTHAE_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", *PYTHAE_PINS], check=True)
    return python


def fixed_data(test_images: int) -> Data:
    data = load_data(DataConfig(name="binarized-mnist", validation=0))
    train = replace(data.train, x=binarize(data.train.x, 1), dynamic_binarize=False)
    return Data(data.name, train, data.valid, data.test.subset(slice(0, test_images)))


def run_pythae(model: str, data: Data, minutes: float, k: int) -> dict:
    OUT.mkdir(parents=True, exist_ok=True)
    np.save(OUT / "train.npy", data.train.x.numpy())
    np.save(OUT / "test.npy", data.test.x.numpy())
    out = subprocess.run([str(pythae_python()), str(ROOT / "benchmarks" / "pythae_side.py"), model,
                          str(OUT / "train.npy"), str(OUT / "test.npy"), "--minutes", str(minutes), "--k", str(k)],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_vaekit(build, data: Data, seconds: float, k: int) -> dict:  # type: ignore[no-untyped-def]
    model = build(data.data_shape)
    config = TrainConfig(epochs=10**6, max_minutes=seconds / 60, batch_size=100, lr=1e-3, compile=True,
                         progress=False, log_every=10**9, checkpoint_every=10**9)
    result = Trainer(model, config).fit(data)
    start = time.perf_counter()
    report = evaluate(model.eval(), data.test, k=k, batch_size=20, progress=False)
    return {"library": "vaekit", "epochs": result.epochs, "train_seconds": result.seconds,
            "samples_per_s": result.steps * config.batch_size / result.seconds, "nll": report.nll,
            "elbo": report.elbo, "test_images": len(data.test), "k": k, "nll_seconds": time.perf_counter() - start}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--k", type=int, default=5000)
    parser.add_argument("--test-images", type=int, default=500)
    parser.add_argument("--only", nargs="*", default=None, help="model names to run (default: all)")
    args = parser.parse_args()
    data = fixed_data(args.test_images)
    previous = RESULTS / "family.json"
    kept = json.loads(previous.read_text())["rows"] if args.only and previous.exists() else []
    rows = [row for row in kept if row["model"] not in args.only]  # --only re-runs those rows, keeps the rest
    for name, (build, pythae_name, reference) in MODELS.items():
        if args.only and name not in args.only:
            continue
        row: dict = {"model": name, "reference": reference}
        if pythae_name is not None:
            row["pythae"] = run_pythae(pythae_name, data, args.minutes, args.k)
            print(name, row["pythae"], flush=True)
        row["vaekit"] = run_vaekit(build, data, row.get("pythae", {}).get("train_seconds", 60 * args.minutes), args.k)
        print(name, row["vaekit"], flush=True)
        rows.append(row)
    rows.sort(key=lambda row: list(MODELS).index(row["model"]))
    save_result("family", {"minutes": args.minutes, "k": args.k, "test_images": args.test_images, "rows": rows})


if __name__ == "__main__":
    main()
