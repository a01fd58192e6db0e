"""Training and evaluation speed.

Training: samples/s of vaekit's Trainer on the 784-400-20-400-784 MLP VAE (batch 128, Adam,
Bernoulli likelihood, dynamically binarized MNIST) against a plain hand-written PyTorch loop of
the same model and data as in pytorch/examples (eager, default Adam, tensor slicing), measured
in the same run, alternating, so machine noise hits both alike.
Evaluation: images/s of the k=5000 importance-weighted log-likelihood on MNIST test images.
"""
from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F
from common import matmul_gflops, save_result, use_shared_data
from torch import nn

use_shared_data()

from vaekit import VAE, DataConfig, TrainConfig, load_data  # noqa: E402
from vaekit.data import Data, Split  # noqa: E402
from vaekit.train import Trainer  # noqa: E402

# forward multiply-adds of 784-400-(2x20)-400-784, times 2 flops, times 3 for forward + backward
FLOPS_PER_SAMPLE = 3 * 2 * (784 * 400 + 400 * 40 + 20 * 400 + 400 * 784)


class PlainVAE(nn.Module):
    """The model of pytorch/examples vae/main.py, written out by hand."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1, self.fc21, self.fc22 = nn.Linear(784, 400), nn.Linear(400, 20), nn.Linear(400, 20)
        self.fc3, self.fc4 = nn.Linear(20, 400), nn.Linear(400, 784)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.fc1(x))
        mu, logvar = self.fc21(h), self.fc22(h)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        logits = self.fc4(F.relu(self.fc3(z)))
        bce = F.binary_cross_entropy_with_logits(logits, x, reduction="sum")
        return bce - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())


def plain_loop(split: Split, epochs: int, batch_size: int = 128) -> float:
    """Samples/s of the hand-written loop over ``epochs`` epochs: shuffled slices, torch.bernoulli."""
    torch.manual_seed(0)
    model = PlainVAE()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    start = time.perf_counter()
    for _ in range(epochs):
        order = torch.randperm(len(split))
        for i in range(0, len(split), batch_size):
            x = torch.bernoulli(split.x[order[i:i + batch_size]])
            opt.zero_grad()
            loss = model(x.view(-1, 784))
            loss.backward()
            opt.step()
    return epochs * len(split) / (time.perf_counter() - start)


def _train_only(split: Split) -> Data:
    empty = split.subset(slice(0, 0))
    return Data("binarized-mnist", split, empty, empty)


def vaekit_trainer(split: Split, epochs: int, compile: bool, batch_size: int = 128) -> tuple[float, float]:
    """(steady-state samples/s, seconds of the first epoch) of the Trainer."""
    model = VAE(data_shape=(1, 28, 28), latent_dim=20, hidden=[400])
    marks = [time.perf_counter()]
    data = _train_only(split)
    Trainer(model, TrainConfig(epochs=epochs + 1, batch_size=batch_size, compile=compile, progress=False,
                               checkpoint_every=10**9, log_every=10**9),
            on_epoch_end=[lambda t, c: marks.append(time.perf_counter())]).fit(data)
    steady = epochs * len(split) / (marks[-1] - marks[1])
    return steady, marks[1] - marks[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--eval-images", type=int, default=300)
    args = parser.parse_args()
    data = load_data(DataConfig(name="binarized-mnist", validation=0))
    peak = matmul_gflops()
    rates: dict[str, list[float]] = {"plain loop": [], "vaekit eager (fused Adam)": [], "vaekit compiled (default)": []}
    warmup = []
    for _ in range(args.rounds):
        rates["plain loop"].append(plain_loop(data.train, args.epochs))
        rates["vaekit eager (fused Adam)"].append(vaekit_trainer(data.train, args.epochs, False)[0])
        rate, first = vaekit_trainer(data.train, args.epochs, True)
        rates["vaekit compiled (default)"].append(rate)
        warmup.append(first - len(data.train) / rate)
    base = sorted(rates["plain loop"])[len(rates["plain loop"]) // 2]
    configurations = []
    for name, values in rates.items():
        median = sorted(values)[len(values) // 2]
        configurations.append({"name": name, "samples_per_s": median, "ratio": median / base,
                               "peak_fraction": median * FLOPS_PER_SAMPLE / (peak * 1e9), "all": values})
        print(configurations[-1], flush=True)

    model = VAE(data_shape=(1, 28, 28), latent_dim=20, hidden=[400])
    Trainer(model, TrainConfig(epochs=1, compile=True, progress=False)).fit(_train_only(data.train))
    model.eval()
    start = time.perf_counter()
    for x in data.test.subset(slice(0, args.eval_images)).batches(32, shuffle=False):
        model.log_likelihood(x, k=5000)
    evaluation = {"k": 5000, "images": args.eval_images,
                  "images_per_s": args.eval_images / (time.perf_counter() - start)}
    print(evaluation)
    save_result("speed", {
        "setting": ("784-400-20-400-784 MLP VAE, Bernoulli, batch 128, Adam lr 1e-3, all 60,000 MNIST "
                    f"training images dynamically binarized; median of {args.rounds} alternating rounds of "
                    f"{args.epochs} epochs each (the Trainer's first epoch, holding torch.compile's warm-up, "
                    "excluded from its rate)."),
        "matmul_gflops": peak, "configurations": configurations,
        "compile_warmup_s": sorted(warmup)[len(warmup) // 2], "eval": evaluation})


if __name__ == "__main__":
    main()
