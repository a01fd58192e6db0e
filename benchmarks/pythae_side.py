"""Pythae's half of the side-by-side in family.py. Runs in its own virtual environment with pythae from PyPI,
never imports vaekit: trains one Pythae model with Pythae's own trainer step for a wall-clock budget, then
times Pythae's ``get_nll`` on the test images. Prints one JSON line.

    python pythae_side.py vae TRAIN.npy TEST.npy --minutes 5 --k 5000
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time

import numpy as np
import torch
from pythae.data.datasets import BaseDataset
from pythae.models import IWAE, VAE, VAMP, IWAEConfig, VAEConfig, VAMPConfig
from pythae.models.base.base_utils import ModelOutput
from pythae.models.nn import BaseDecoder, BaseEncoder
from pythae.trainers import BaseTrainer, BaseTrainerConfig


class Encoder(BaseEncoder):
    """Burda et al.'s 784-200-200-(50, 50), tanh; Pythae wants the log-variance."""

    def __init__(self, latent: int, hidden: list[int]) -> None:
        super().__init__()
        layers, width = [torch.nn.Flatten()], 784
        for h in hidden:
            layers += [torch.nn.Linear(width, h), torch.nn.Tanh()]
            width = h
        self.body = torch.nn.Sequential(*layers)
        self.mu, self.log_var = torch.nn.Linear(width, latent), torch.nn.Linear(width, latent)

    def forward(self, x: torch.Tensor) -> ModelOutput:
        h = self.body(x)
        return ModelOutput(embedding=self.mu(h), log_covariance=self.log_var(h))


class Decoder(BaseDecoder):
    """50-200-200-784, tanh, sigmoid output: Pythae's BCE reads probabilities."""

    def __init__(self, latent: int, hidden: list[int]) -> None:
        super().__init__()
        layers, width = [], latent
        for h in hidden:
            layers += [torch.nn.Linear(width, h), torch.nn.Tanh()]
            width = h
        self.body = torch.nn.Sequential(*layers, torch.nn.Linear(width, 784), torch.nn.Sigmoid())

    def forward(self, z: torch.Tensor) -> ModelOutput:
        return ModelOutput(reconstruction=self.body(z).view(-1, 1, 28, 28))


def build(name: str, latent: int, hidden: list[int], k: int, components: int) -> torch.nn.Module:
    common = dict(input_dim=(1, 28, 28), latent_dim=latent, reconstruction_loss="bce")
    encoder, decoder = Encoder(latent, hidden), Decoder(latent, list(reversed(hidden)))
    if name == "vae":
        return VAE(VAEConfig(**common), encoder=encoder, decoder=decoder)
    if name == "iwae":
        return IWAE(IWAEConfig(**common, number_samples=k), encoder=encoder, decoder=decoder)
    return VAMP(VAMPConfig(**common, number_components=components), encoder=encoder, decoder=decoder)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("model", choices=["vae", "iwae", "vamp"])
    parser.add_argument("train")
    parser.add_argument("test")
    parser.add_argument("--minutes", type=float, required=True)
    parser.add_argument("--k", type=int, default=5000)
    parser.add_argument("--latent", type=int, default=50)
    parser.add_argument("--hidden", type=int, nargs="+", default=[200, 200])
    parser.add_argument("--train-samples", type=int, default=5)
    parser.add_argument("--components", type=int, default=500)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--batch-size", type=int, default=100)
    args = parser.parse_args()
    torch.manual_seed(0)
    train = torch.from_numpy(np.load(args.train))
    test = torch.from_numpy(np.load(args.test))
    model = build(args.model, args.latent, args.hidden, args.train_samples, args.components)
    with tempfile.TemporaryDirectory() as out:
        config = BaseTrainerConfig(output_dir=out, learning_rate=args.lr, per_device_train_batch_size=args.batch_size,
                                   num_epochs=10**6, optimizer_cls="Adam")
        trainer = BaseTrainer(model=model, train_dataset=BaseDataset(train, torch.zeros(len(train))),
                              training_config=config)
        trainer.prepare_training()
        start, epochs = time.perf_counter(), 0
        while time.perf_counter() - start < 60 * args.minutes:  # Pythae's own epoch step, no per-epoch copies
            epochs += 1
            trainer.train_step(epochs)
        train_seconds = time.perf_counter() - start
    model.eval()
    start = time.perf_counter()
    with torch.no_grad():
        nll = -float(model.get_nll(test, n_samples=args.k, batch_size=100))  # get_nll returns mean log p(x)
    print(json.dumps({"library": "pythae", "model": args.model, "epochs": epochs, "train_seconds": train_seconds,
                      "samples_per_s": epochs * len(train) / train_seconds, "nll": nll, "test_images": len(test),
                      "k": args.k, "nll_seconds": time.perf_counter() - start}))


if __name__ == "__main__":
    main()
