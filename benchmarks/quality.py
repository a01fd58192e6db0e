"""Quality per CPU-minute: binarized MNIST test log p(x) (k=5000) against minutes of training on this machine,
of the one-stochastic-layer VAE of Burda et al. 2015 (784-200-200-50, tanh, Bernoulli; ``--model vae``,
results/quality.json) or of their two-stochastic-layer IWAE (784-200-200-100-100-100-50, k=5 in training;
``--model iwae-2-layers``, results/quality_iwae-2-layers.json), the candidate for the best vaekit model.

Training: dynamic binarization of all 60,000 training images, Adam, batch 100, cosine learning rate
from 1e-3 to 1e-4 over the budget (epochs sized by a calibration run), torch.compile.
Snapshots at fixed minutes are scored on a seeded random 1,000 of the test images (the first 1,000
are easier than the rest); the last, at the end of the budget, on all 10,000.
"""
from __future__ import annotations

import argparse
import copy

import torch
from common import epochs_for_budget, save_result, use_shared_data

use_shared_data()

from vaekit import VAE, DataConfig, TrainConfig, load_data  # noqa: E402
from vaekit.evaluate import evaluate  # noqa: E402
from vaekit.models import HierarchicalVAE  # noqa: E402
from vaekit.train import Trainer  # noqa: E402

TWO_LAYERS = [{"latent": 100, "hidden": [200, 200]}, {"latent": 50, "hidden": [100, 100]}]
MODELS = {
    "vae": lambda shape: VAE(data_shape=shape, latent_dim=50, hidden=[200, 200], activation="tanh"),
    "iwae-2-layers": lambda shape: HierarchicalVAE(data_shape=shape, layers=TWO_LAYERS, importance_samples=5,
                                                   activation="tanh"),
}
REFERENCES = {"vae": "Burda et al. 2015 Table 1, 86.76 nats after 3,280 epochs",
              "iwae-2-layers": "Burda et al. 2015 Table 1, 83.89 nats (k=5) after 3,280 epochs"}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--k", type=int, default=5000)
    parser.add_argument("--snapshot-every", type=float, default=5.0)
    parser.add_argument("--model", choices=list(MODELS), default="vae")
    args = parser.parse_args()
    build = MODELS[args.model]
    data = load_data(DataConfig(name="binarized-mnist", validation=0))
    train_cfg = dict(batch_size=100, lr=1e-3, schedule="cosine", lr_final=0.1, compile=True, progress=False,
                     log_every=10**9, checkpoint_every=10**9)

    epochs, epoch_seconds = epochs_for_budget(build(data.data_shape), data, train_cfg, args.minutes)

    model = build(data.data_shape)
    snapshots: list[tuple[float, int, dict]] = []
    marks = [args.snapshot_every * (i + 1) for i in range(int(args.minutes / args.snapshot_every))]

    def snapshot(trainer: Trainer, counters: dict) -> None:
        if marks and counters["elapsed"] >= 60 * marks[0]:
            marks.pop(0)
            snapshots.append((counters["elapsed"] / 60, counters["epoch"], copy.deepcopy(trainer.model.state_dict())))

    result = Trainer(model, TrainConfig(epochs=epochs, max_minutes=args.minutes, **train_cfg),
                     on_epoch_end=[snapshot]).fit(data)
    snapshots.append((result.seconds / 60, result.epochs, copy.deepcopy(model.state_dict())))

    curve = []
    for minutes, epoch, state in snapshots:
        model.load_state_dict(state)
        final = (minutes, epoch) == snapshots[-1][:2]
        test = data.test if final else data.test.subset(torch.randperm(len(data.test),
                                                                       generator=torch.Generator().manual_seed(0))[:1000])
        report = evaluate(model, test, k=args.k, batch_size=20, progress=False)
        curve.append({"minutes": round(minutes, 2), "epochs": epoch, "test_images": len(test),
                      "nll": round(report.nll, 2), "elbo": round(report.elbo, 2),
                      "active_units": report.active_units, "eval_seconds": round(report.seconds, 1)})
        print(curve[-1], flush=True)
    save_result("quality" if args.model == "vae" else f"quality_{args.model}",
                {"model": args.model, "reference": REFERENCES[args.model], "k": args.k, "budget_minutes": args.minutes,
                 "epochs_planned": epochs, "epoch_seconds": round(epoch_seconds, 3), "curve": curve})


if __name__ == "__main__":
    main()
