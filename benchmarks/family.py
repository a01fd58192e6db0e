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
stochastic layers, with k=1 and k=5, the Ladder VAE, a Gaussian-mixture prior, an IAF posterior, the
beta-TC-VAE, the conditional VAE and VQ-VAE) train for ``--minutes`` each. The conditional VAE's
-log p(x|y) uses the true labels; its -log p(x) averages p(x|y) over the ten classes.
"""
from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from common import RESULTS, ROOT, save_result, use_shared_data

use_shared_data()

from vaekit import (  # noqa: E402
    DataConfig,
    TrainConfig,
    load_data,
    objectives,  # noqa: E402
)
from vaekit.contract import Conditional, given  # noqa: E402
from vaekit.data import Data, binarize  # noqa: E402
from vaekit.evaluate import evaluate  # noqa: E402
from vaekit.models import (  # noqa: E402
    IAFVAE,
    IWAE,
    VAE,
    VQVAE,
    BetaTCVAE,
    ConditionalVAE,
    HierarchicalVAE,
    LadderVAE,
    MixturePriorVAE,
    VampPriorVAE,
)
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
    "Gaussian-mixture prior (10), 1 layer": (lambda s: MixturePriorVAE(data_shape=s, prior_components=10,
                                                                       **ONE_LAYER), None, "-"),
    "IAF posterior (2 steps), 1 layer": (lambda s: IAFVAE(data_shape=s, flow_steps=2, **ONE_LAYER), None,
                                         "79.10 (Kingma et al. 2016, a convolutional ResNet VAE with IAF)"),
    "beta-TC-VAE (beta 6), 1 layer": (lambda s: BetaTCVAE(data_shape=s, beta=6.0, dataset_size=60000, **ONE_LAYER),
                                      None, "- (made for disentangling, not likelihood)"),
    "Conditional VAE, 1 layer": (lambda s: ConditionalVAE(data_shape=s, num_classes=10, **ONE_LAYER), None,
                                 "- (-log p(x|y); its -log p(x) = -log mean_y p(x|y) in the note)"),
    "VQ-VAE, conv, K=128": (lambda s: VQVAE(data_shape=s, channels=[32, 64], latent_dim=16, codebook_size=128), None,
                            "- (point-mass q: the bound itself; the paper reports no MNIST likelihood)"),
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
    row = {"library": "vaekit", "epochs": result.epochs, "train_seconds": result.seconds,
           "samples_per_s": result.steps * config.batch_size / result.seconds, "nll": report.nll,
           "elbo": report.elbo, "test_images": len(data.test), "k": k, "nll_seconds": time.perf_counter() - start}
    if isinstance(model, Conditional):
        row["marginal_nll"] = marginal_nll(model, data, k)
    return row


@torch.no_grad()
def marginal_nll(model, data: Data, k: int) -> float:  # type: ignore[no-untyped-def]
    """-log p(x) of a conditional model, p(x) = mean over the classes y of p(x|y) (uniform p(y)), each
    log p(x|y) estimated with k importance samples."""
    classes = model.config.num_classes
    torch.manual_seed(0)
    total = 0.0
    for x in data.test.batches(20, shuffle=False):
        per_class = torch.stack([objectives.log_likelihood(given(model, torch.full((len(x),), c)), x, k)
                                 for c in range(classes)])
        total += (torch.logsumexp(per_class, 0) - math.log(classes)).sum().item()
    return -total / len(data.test)


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
