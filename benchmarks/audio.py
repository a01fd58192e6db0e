"""Audio: spectrogram VAEs of spoken digits you can listen to, and a sequence VAE of real speech's MFCCs.

Rows (each saved as soon as it ends):
- ``classifier``: configs/classifier-spoken-digits.yaml, a convolutional digit recognizer trained on the real
  (espeak-ng) training clips; its error on the test clips is the yardstick for the next rows.
- ``vae``: configs/vae-spoken-digits.yaml; test ELBO, the log-spectral distance (dB) of test reconstructions, and
  the share of reconstructions of the 300 test clips the recognizer hears as their digit.
- ``conditional-vae``: configs/conditional-vae-spoken-digits.yaml; the same, plus ``--per-digit`` generations
  of each digit from the prior, the share recognized as the intended digit, and the generation speed: seconds
  of audio made per second of wall time (decoder and Griffin-Lim, 2 cores), against real time.
- ``sequence-vae``: configs/sequence-vae-fsdd.yaml on the Free Spoken Digit Dataset's MFCC sequences (real speech,
  6 speakers); few-label digit classification by a linear probe on the posterior means, with 1, 5, 10 and 50
  labels per class, beside the same probe on each sequence's mean and standard deviation of its frames.
"""
from __future__ import annotations

import argparse
import time

import torch
from common import ROOT, save_row, use_shared_data

use_shared_data()

from vaekit.config import load_config  # noqa: E402
from vaekit.contract import Conditional  # noqa: E402
from vaekit.data import keep_labels, load_data  # noqa: E402
from vaekit.data.spectrogram import to_waveform  # noqa: E402
from vaekit.evaluate import latent_probe_error, probe_error  # noqa: E402
from vaekit.generate import samples_per_class  # noqa: E402
from vaekit.run import run  # noqa: E402
from vaekit.saving import load  # noqa: E402

ROWS = ["classifier", "vae", "conditional-vae", "sequence-vae"]
RECIPES = {"classifier": "classifier-spoken-digits.yaml", "vae": "vae-spoken-digits.yaml",
           "conditional-vae": "conditional-vae-spoken-digits.yaml", "sequence-vae": "sequence-vae-fsdd.yaml"}
RUNS = ROOT / "benchmarks" / "runs"
LABELS_PER_CLASS = (1, 5, 10, 50)


def train(name: str, epochs: int | None, extra: list[str]) -> dict:
    overrides = ["train.progress=false", f"name={name}", f"out_dir={RUNS}", *extra]
    if epochs is not None:
        overrides.append(f"train.epochs={epochs}")
    return run(load_config(ROOT / "configs" / RECIPES[name], overrides), overwrite=True).as_dict()


@torch.no_grad()
def recognized(x: torch.Tensor, digits: torch.Tensor) -> float:
    """The share of spectrograms the trained recognizer hears as ``digits``."""
    recognizer = load(RUNS / "classifier" / "model")
    return (recognizer.classify(x).argmax(1) == digits).float().mean().item()


def spectrogram_row(name: str, epochs: int | None, per_digit: int, extra: list[str]) -> dict:
    metrics = train(name, epochs, extra)
    model = load(RUNS / name / "model")
    test = load_data(name="spoken-digits").test
    assert test.y is not None
    with torch.no_grad():
        recon = model.reconstruct(test.x, test.y if isinstance(model, Conditional) else None)
    row = {"row": name, "elbo": metrics["test"]["elbo"], "log_likelihood": metrics["test"]["log_likelihood"],
           "k": metrics["test"]["k"], "lsd_db": metrics["test"]["log_spectral_distance"],
           "reconstructions_recognized": recognized(recon, test.y), "epochs": metrics["train"]["epochs"],
           "train_minutes": round(metrics["train"]["seconds"] / 60, 2), "extra": extra}
    if isinstance(model, Conditional):
        torch.manual_seed(0)
        start = time.perf_counter()
        specs = samples_per_class(model, per_digit, seed=0)
        waves = to_waveform(specs, model.config.audio)
        seconds = time.perf_counter() - start
        audio = model.config.audio
        row |= {"generated": len(specs), "generations_recognized": recognized(
            specs, torch.arange(10).repeat_interleave(per_digit)), "generation_seconds": round(seconds, 2),
            "real_time_factor": len(waves) * audio.seconds / seconds}
    return row


def frame_summary(x: torch.Tensor) -> torch.Tensor:
    """Each sequence's mean and standard deviation of its real frames' features (N, 2D)."""
    flags, frames = x[..., :1], x[..., 1:]
    n = flags.sum(1)
    mean = (frames * flags).sum(1) / n
    var = (((frames - mean[:, None]) ** 2) * flags).sum(1) / n
    return torch.cat([mean, var.sqrt()], 1)


def sequence_row(epochs: int | None, extra: list[str]) -> dict:
    metrics = train("sequence-vae", epochs, extra)
    model = load(RUNS / "sequence-vae" / "model")
    data = load_data(name="fsdd")
    assert data.test.y is not None
    probes = {}
    for per_class in LABELS_PER_CLASS:
        errors, baseline = [], []
        for seed in range(3):
            errors.append(latent_probe_error(model, data.train, data.test, per_class, seed))
            chosen = keep_labels(data.train, per_class, seed)
            assert chosen.y is not None
            keep = chosen.y >= 0
            baseline.append(probe_error(frame_summary(chosen.x[keep]), chosen.y[keep], frame_summary(data.test.x),
                                        data.test.y))
        probes[str(per_class)] = {"latent_error": sum(errors) / 3, "summary_error": sum(baseline) / 3}
    return {"row": "sequence-vae", "elbo": metrics["test"]["elbo"], "log_likelihood": metrics["test"]["log_likelihood"],
            "k": metrics["test"]["k"], "active_units": metrics["test"]["active_units"], "probes": probes,
            "epochs": metrics["train"]["epochs"], "train_minutes": round(metrics["train"]["seconds"] / 60, 2),
            "extra": extra}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", nargs="+", default=ROWS, choices=ROWS)
    parser.add_argument("--epochs", type=int, help="training epochs of each row (default: each recipe's)")
    parser.add_argument("--per-digit", type=int, default=100, help="conditional generations of each digit")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="overrides of every row")
    args = parser.parse_args()
    for name in args.rows:
        if name == "classifier":
            metrics = train("classifier", args.epochs, args.set)
            row = {"row": "classifier", "error": metrics["test"]["error"], "epochs": metrics["train"]["epochs"],
                   "train_minutes": round(metrics["train"]["seconds"] / 60, 2), "extra": args.set}
        elif name == "sequence-vae":
            row = sequence_row(args.epochs, args.set)
        else:
            row = spectrogram_row(name, args.epochs, args.per_digit, args.set)
        print(row, flush=True)
        save_row("audio", row, ROWS, {"recipes": RECIPES})


if __name__ == "__main__":
    main()
