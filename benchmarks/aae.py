"""Adversarial autoencoders next to Makhzani et al. 2015: the Parzen-window log-likelihood on MNIST (Table 1),
semi-supervised error with 100 / 1000 / all labels (Table 2) and clustering error with 16 / 30 clusters (Table 3).

Each row is configs/aae-mnist.yaml (two hidden layers of 1000 ReLU units in encoder, decoder and adversaries,
Adam) with the row's overrides below, trained for ``--epochs`` epochs; the time each took is recorded.
- parzen: 8-bit MNIST in [0, 1] with a Gaussian likelihood, 8-D codes matched to N(0, I); 10,000 samples, the
  width chosen on the 10,000 validation images, the mean log-density of the 10,000 test images (after
  Goodfellow et al. 2014, as the paper measures it).
- semi-N: dynamically binarized MNIST, N labels (N/10 per class, seeded; "all": every label), 100 labelled
  examples in every batch; 10 classes beside 10 style dimensions; error on the 10,000 test images.
- cluster-K: dynamically binarized MNIST without labels, K clusters beside 5 style dimensions, adversarial
  learning rates 3e-4; the clustering error on the test images, each cluster labelled by the validation image it
  is surest of.
"""
from __future__ import annotations

import argparse
import time

import torch
from common import ROOT, save_row, use_shared_data

use_shared_data()

from vaekit import TrainConfig  # noqa: E402
from vaekit.config import load_config  # noqa: E402
from vaekit.data import load_data  # noqa: E402
from vaekit.evaluate import cluster_error  # noqa: E402
from vaekit.models import build_model  # noqa: E402
from vaekit.parzen import parzen_of_model  # noqa: E402
from vaekit.run import model_config_for  # noqa: E402
from vaekit.train import Trainer, TrainingFailed  # noqa: E402

PAPER = {"parzen": "340 ± 2 nats", "semi-100": "1.90 ± 0.10 %", "semi-1000": "1.60 ± 0.08 %",
         "semi-all": "0.85 ± 0.02 %", "cluster-16": "9.55 %", "cluster-30": "4.10 %"}
ADVERSARIAL_LR = ["train.phase_lr={discriminator: 3.0e-4, generator: 3.0e-4}"]
ROWS = {
    "parzen": ["model.latent_dim=8"],
    "semi-100": ["model.name=semi-supervised-aae", "data.name=binarized-mnist", "model.likelihood=bernoulli",
                 "model.latent_dim=10", "data.labels_per_class=10", "train.labelled_per_batch=100"],
    "semi-1000": ["model.name=semi-supervised-aae", "data.name=binarized-mnist", "model.likelihood=bernoulli",
                  "model.latent_dim=10", "data.labels_per_class=100", "train.labelled_per_batch=100"],
    "semi-all": ["model.name=semi-supervised-aae", "data.name=binarized-mnist", "model.likelihood=bernoulli",
                 "model.latent_dim=10", "train.labelled_per_batch=100"],
    "cluster-16": ["model.name=clustering-aae", "data.name=binarized-mnist", "model.likelihood=bernoulli",
                   "model.latent_dim=5", "model.num_classes=16", *ADVERSARIAL_LR],
    "cluster-30": ["model.name=clustering-aae", "data.name=binarized-mnist", "model.likelihood=bernoulli",
                   "model.latent_dim=5", "model.num_classes=30", *ADVERSARIAL_LR],
}


def run_row(name: str, epochs: int, seed: int, limit: int | None, extra: list[str]) -> dict:
    recipe = load_config(ROOT / "configs" / "aae-mnist.yaml", [*ROWS[name], f"data.seed={seed}", *extra])
    data = load_data(recipe.data.model_copy(update={"limit": limit}))
    torch.manual_seed(seed)
    model = build_model(model_config_for(recipe.model, data))
    train = TrainConfig(**{**recipe.train.model_dump(), "epochs": epochs, "seed": seed, "progress": False})
    start = time.perf_counter()
    try:
        result = Trainer(model, train).fit(data)
    except TrainingFailed as failure:  # recorded as it is: a stopped run has no figure
        return {"row": name, "epochs": epochs, "minutes": round((time.perf_counter() - start) / 60, 2),
                "seed": seed, "value": None, "failed": str(failure)}
    model.eval()
    row: dict = {"row": name, "epochs": result.epochs, "minutes": round(result.seconds / 60, 2), "seed": seed}
    start = time.perf_counter()
    if name == "parzen":
        report = parzen_of_model(model, data.valid.x, data.test.x, seed)
        row |= {"value": report.log_likelihood, "spread": report.standard_error, "sigma": report.sigma}
    elif name.startswith("semi"):
        batches = data.test.labelled_batches(1000, shuffle=False)
        wrong = sum(int((model.classify(x).argmax(1) != y).sum()) for x, y in batches)
        row |= {"value": 100.0 * wrong / len(data.test)}
    else:
        row |= {"value": 100.0 * cluster_error(model, data.valid, data.test)}
    row["evaluation_seconds"] = round(time.perf_counter() - start, 1)
    return row


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", nargs="+", default=list(ROWS), choices=list(ROWS))
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=None, help="training images (a smoke test; not for results)")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="overrides of every row")
    args = parser.parse_args()
    for name in args.rows:  # each row is saved as soon as it ends
        row = run_row(name, args.epochs, args.seed, args.limit, args.set)
        print(row, flush=True)
        if args.limit is None:
            save_row("aae", {**row, "extra": args.set}, list(ROWS), {"paper": PAPER, "overrides": ROWS})


if __name__ == "__main__":
    main()
