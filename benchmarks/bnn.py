"""Bayes by Backprop on MNIST next to Blundell et al. 2015, Table 1: test error of MLPs with two hidden layers
of 400 or 1200 ReLU units, trained by Bayes by Backprop (scale-mixture prior), plain SGD and SGD with dropout.

Each row is configs/bnn-mnist.yaml (50,000 training and 10,000 validation images of MNIST in [0, 1]) with the
row's overrides below, trained for ``--epochs`` epochs with the time recorded. The test figures are those of the
run's report (vaekit.uncertainty): error on the 10,000 test images (a Bayesian prediction averages 10 weight
draws), expected calibration error (15 bins) and the AUROC with which the predictive entropy (and, for the
Bayesian net, the mutual information) tells Fashion-MNIST's 10,000 test images from MNIST's. The SGD nets run
in the same session, so their errors and calibration are the baseline the targets refer to.
"""
from __future__ import annotations

import argparse
import tempfile

from common import ROOT, save_row, use_shared_data

use_shared_data()

from vaekit.config import load_config  # noqa: E402
from vaekit.run import run  # noqa: E402

PAPER = {"bbb": {400: 1.36, 1200: 1.32}, "sgd": {400: 1.83, 1200: 1.88}, "dropout": {400: 1.51, 1200: 1.36}}
SGD = ["model.name=classifier", "train.optimizer=sgd", "train.lr=0.05", "train.momentum=0.9"]
ROWS = {f"{kind}-{width}": [f"model.hidden=[{width}, {width}]", *extra]
        for width in (400, 1200)
        for kind, extra in (("bbb", []), ("sgd", SGD), ("dropout", [*SGD, "model.dropout=0.5"]))}


def run_row(name: str, epochs: int, seed: int, extra: list[str]) -> dict:
    overrides = [*ROWS[name], f"train.epochs={epochs}", f"train.seed={seed}", f"data.seed={seed}",
                 "train.progress=false", f"name={name}", *extra]
    with tempfile.TemporaryDirectory() as out:
        config = load_config(ROOT / "configs" / "bnn-mnist.yaml", [*overrides, f"out_dir={out}"])
        metrics = run(config).as_dict()
    test, train = metrics["test"], metrics["train"]
    kind, width = name.split("-")
    return {"row": name, "paper_error": PAPER[kind][int(width)], "error": 100 * test["error"],
            "ece": test["expected_calibration_error"], "nll": test["nll"],
            "auroc_entropy": test["ood_auroc_entropy"],
            "auroc_mutual_information": test["ood_auroc_mutual_information"],
            "epochs": train["epochs"], "minutes": round(train["seconds"] / 60, 2), "seed": seed, "extra": extra}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", nargs="+", default=list(ROWS), choices=list(ROWS))
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="overrides of every row")
    args = parser.parse_args()
    for name in args.rows:  # each row is saved as soon as it ends
        row = run_row(name, args.epochs, args.seed, args.set)
        print(row, flush=True)
        save_row("bnn", row, list(ROWS), {"overrides": ROWS})


if __name__ == "__main__":
    main()
