"""bf16 against fp32 training on this machine's CPU, through the Trainer's
``train.precision`` (torch.autocast), and what the lower precision costs in the ELBO.

    python benchmarks/precision.py [--epochs 2] [--rounds 3]

Alternating rounds of each setting on the same data; the median samples/s of each, the ratio bf16/fp32 measured in
the same run, and the validation ELBO each reaches (eval in fp32, so the bound is comparable).
"""
from __future__ import annotations

import argparse
import time

import torch
from common import bf16_units, save_result, use_shared_data

use_shared_data()

from vaekit import VAE, DataConfig, TrainConfig, load_data  # noqa: E402
from vaekit.evaluate import mean_elbo  # noqa: E402
from vaekit.train import Trainer  # noqa: E402

MODELS = {"mlp": dict(latent_dim=20, hidden=[400]),
          "conv": dict(latent_dim=32, architecture="conv", channels=[32, 64], hidden=[256])}


def one_run(kind: str, precision: str, data: object, epochs: int) -> tuple[float, float]:
    """(samples/s after the first epoch, validation ELBO)."""
    torch.manual_seed(0)
    model = VAE(data_shape=(1, 28, 28), **MODELS[kind])
    marks: list[float] = []
    config = TrainConfig(epochs=epochs + 1, batch_size=128, precision=precision, progress=False, expected_steps=0)
    Trainer(model, config, on_epoch_end=[lambda t, c: marks.append(time.perf_counter())]).fit(data)  # type: ignore
    rate = epochs * len(data.train) / (marks[-1] - marks[0])  # type: ignore[attr-defined]
    return rate, mean_elbo(model, data.valid)["elbo"]  # type: ignore[attr-defined]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=1, help="timed epochs per run (after one warm-up epoch)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--limit", type=int, default=20000, help="training images")
    args = parser.parse_args()
    data = load_data(DataConfig(name="binarized-mnist", limit=args.limit, validation=2000))
    rows = []
    for kind in MODELS:
        rates: dict[str, list[float]] = {"fp32": [], "bf16": []}
        elbos: dict[str, float] = {}
        for _ in range(args.rounds):
            for precision in ("fp32", "bf16"):
                rate, elbo = one_run(kind, precision, data, args.epochs)
                rates[precision].append(rate)
                elbos[precision] = elbo
                print(kind, precision, f"{rate:,.0f} samples/s, ELBO {elbo:.2f}", flush=True)
        median = {p: sorted(v)[len(v) // 2] for p, v in rates.items()}
        rows.append({"model": kind, "fp32": median["fp32"], "bf16": median["bf16"],
                     "ratio": median["bf16"] / median["fp32"], "elbo_fp32": elbos["fp32"],
                     "elbo_bf16": elbos["bf16"], "all": rates})
    save_result("precision", {
        "setting": (f"VAE on dynamically binarized MNIST ({args.limit:,} training images, 2,000 validation), batch "
                    f"128, Adam lr 1e-3, eager; {args.epochs + 1} epochs per run, the first (warm-up) untimed; "
                    f"median of {args.rounds} alternating rounds. mlp: 784-400-20; conv: channels 32, 64, hidden "
                    "256, latent 32. bf16 is torch.autocast(cpu, bfloat16) around the forward pass and loss; "
                    "weights, optimizer and the validation ELBO stay fp32."),
        "bf16_units": bf16_units(), "rows": rows})


if __name__ == "__main__":
    main()
