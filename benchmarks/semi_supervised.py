"""Semi-supervised classification (Kingma et al. 2014, Table 1): test error with N labels, over seeds, beside a
baseline classifier trained on the N labelled examples alone in the same run.

Data: dynamically binarized MNIST (or ``--data``, e.g. binarized-fashion-mnist); N labels, N/10 per class, chosen
by ``data.seed`` = the run's seed; 10,000 training images held out for validation (unused for model choice), the
other 50,000 unlabelled. Models: the recipes configs/{m1-m2,m2,m1}-mnist-100.yaml with the ``--set`` overrides,
each for ``--epochs`` epochs (the time each took is recorded). Baseline: an MLP of the classifier's widths
(784-500-10 beside M2 and M1+M2, 784-600-600-10 beside M1, softplus) trained by Adam on the labelled examples
alone, 2,000 steps of batch 100 drawn with replacement and binarized afresh. Error on all 10,000 test images.
"""
from __future__ import annotations

import argparse
import time

import torch
from common import ROOT, save_result, use_shared_data

use_shared_data()

from vaekit import TrainConfig  # noqa: E402
from vaekit.config import load_config  # noqa: E402
from vaekit.data import Data, load_data  # noqa: E402
from vaekit.models import build_model  # noqa: E402
from vaekit.nn import data_encoder  # noqa: E402
from vaekit.run import model_config_for  # noqa: E402
from vaekit.train import Trainer  # noqa: E402

PAPER = {"m2": {100: 11.97, 600: 4.94, 1000: 3.60, 3000: 3.92}, "m1-m2": {100: 3.33, 600: 2.59, 1000: 2.40, 3000: 2.18}}


def test_error(classify, data: Data) -> float:  # type: ignore[no-untyped-def]
    predicted = torch.cat([classify(x).argmax(1) for x in data.test.batches(1000, shuffle=False)])
    return 100.0 * (predicted != data.test.y).float().mean().item()


def baseline(data: Data, seed: int, config) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """(test error %, seconds) of the classifier network trained on the labelled examples alone."""
    torch.manual_seed(seed)
    hidden = config.top.hidden if config.top is not None else config.hidden  # M1+M2's classifier is M2's
    net = data_encoder(config, hidden, config.num_classes)
    labelled = data.train.y >= 0
    x, y = data.train.x[labelled], data.train.y[labelled]
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    start = time.perf_counter()
    generator = torch.Generator().manual_seed(seed)
    for _ in range(2000):
        batch = torch.randint(len(x), (100,), generator=generator)
        loss = torch.nn.functional.cross_entropy(net(torch.bernoulli(x[batch], generator=generator)), y[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    net.eval()
    with torch.no_grad():
        return test_error(lambda t: net(t), data), time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--labels", type=int, nargs="+", default=[100, 600, 1000, 3000])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--models", nargs="+", default=["m1-m2", "m2"], help="any of m1-m2, m2, m1")
    parser.add_argument("--epochs", type=int, default=10, help="epochs of training per run")
    parser.add_argument("--data", default="binarized-mnist", help="a labelled named data set, e.g. "
                        "binarized-fashion-mnist")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                        help="overrides of every recipe, e.g. model.top.classifier_weight=100")
    args = parser.parse_args()
    rows = []
    for n in args.labels:
        for seed in args.seeds:
            for name in args.models:
                recipe = load_config(ROOT / "configs" / f"{name}-mnist-100.yaml", args.set)
                data = load_data(recipe.data.model_copy(update={"name": args.data, "labels_per_class": n // 10,
                                                                "seed": seed}))
                config = model_config_for(recipe.model, data)
                torch.manual_seed(seed)
                model = build_model(config)
                train = TrainConfig(**{**recipe.train.model_dump(), "epochs": args.epochs, "seed": seed,
                                       "progress": False, "early_stopping": None})
                result = Trainer(model, train).fit(data)
                model.eval()
                row = {"labels": n, "seed": seed, "model": name, "error": test_error(model.classify, data),
                       "epochs": result.epochs, "minutes": round(result.seconds / 60, 2)}
                row["baseline_error"], row["baseline_seconds"] = baseline(data, seed, config)
                print(row, flush=True)
                rows.append(row)
    save_result(f"semi_supervised_{args.data}", {"data": args.data, "epochs": args.epochs, "overrides": args.set,
                                                 "paper": PAPER, "rows": rows})


if __name__ == "__main__":
    main()
