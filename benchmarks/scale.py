"""Training throughput with 1 and 2 processes, and peak memory, for MNIST in memory and a data set 10x its size.

Every row trains the 784-400-20-400-784 MLP VAE of configs/vae-mnist.yaml on binary images (eager, global batch 128)
for one epoch with ``vaekit train`` in a subprocess, so 2 processes are the real ``--nproc 2`` launch (torchrun,
gloo). Samples/s come from the run's metrics.jsonl: training steps times 128 over the seconds between log lines of
the same epoch, so start-up, validation and evaluation are left out. Peak memory: the resident set (VmRSS) of every
process of the run, polled every 0.1 s; "largest process" is the highest of one process, "all processes" the
highest sum (the launcher and torchrun's agent included).

Rows: ``mnist`` (binarized MNIST, 60,000 images, in memory), ``conv`` (the same with the convolutional
encoder and decoder, where computing outweighs the averaging of gradients), ``x10-stream`` (600,000 images:
MNIST's training images 10 times, each copy shifted by up to 2 pixels and binarized, a uint8 .npy of 470 MB read
from disk with ``data.stream``) and ``x10-memory`` (the same file loaded into memory, float32: what streaming
saves); ``folder-stream`` and ``folder-memory``: a folder of 50,000 64x64 RGB JPEGs (MNIST and Fashion-MNIST
training images upscaled, shifted, flipped and coloured, 10 class folders, :func:`write_image_folder`) with the
convolutional VAE (channels 32, 64, 128, the logistic mixture of 8-bit data), 100 steps, decoded batch by batch in
DataLoader workers (the default for a folder this size) or decoded into memory first; ``folder-stream-b32`` streams
it in batches of 32, where the model's step is small beside the data path; the suffix is the number of processes.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
from common import ROOT, save_row, use_shared_data

use_shared_data()

ROWS = ["mnist-1", "mnist-2", "conv-1", "conv-2", "x10-stream-1", "x10-stream-2", "x10-memory-1", "folder-stream-1",
        "folder-memory-1", "folder-stream-b32-1"]
RUNS = ROOT / "benchmarks" / "runs"
BIG, BIG_LABELS = RUNS / "mnist-x10.npy", RUNS / "mnist-x10-labels.npy"
FOLDER = RUNS / "colour-digits-64"
BATCH = 128
BATCHES = {"folder-stream-b32": 32}  # rows at another batch size: the data path's memory with a small model step


def write_big_set(copies: int = 10, seed: int = 0) -> None:
    """MNIST's 60,000 training images ``copies`` times, each copy shifted by a seeded (dy, dx) in [-2, 2] and
    binarized by its own seeded draw (0/1 as uint8), written a copy at a time (never all in memory)."""
    if BIG.exists() and BIG_LABELS.exists():
        return
    from vaekit import load_data

    mnist = load_data(name="mnist", validation=0).train  # the whole training set, in its file order
    images = (mnist.x * 255).round().byte().numpy()
    RUNS.mkdir(parents=True, exist_ok=True)
    rows = np.lib.format.open_memmap(BIG.with_suffix(".tmp.npy"), mode="w+", dtype=np.uint8,
                                     shape=(copies * len(images), *images.shape[1:]))
    rng = np.random.default_rng(seed)
    for c in range(copies):
        dy, dx = rng.integers(-2, 3, 2) if c else (0, 0)
        shifted = np.roll(images, (int(dy), int(dx)), axis=(2, 3))
        rows[c * len(images):(c + 1) * len(images)] = rng.integers(0, 255, shifted.shape, dtype=np.uint8) < shifted
    rows.flush()
    del rows
    BIG.with_suffix(".tmp.npy").rename(BIG)
    np.save(BIG_LABELS, np.tile(mnist.y.numpy(), copies))


def write_image_folder(count: int = 50_000, seed: int = 0) -> None:
    """``count`` 64x64 RGB JPEGs (quality 90): MNIST and Fashion-MNIST training images in turn, upscaled
    bilinearly, shifted by up to 6 pixels, flipped at random, ink and paper each a seeded random colour; the class
    folders are the digits' and garments' labels (0-9)."""
    if FOLDER.exists():
        return
    from PIL import Image

    from vaekit import load_data

    sets = [(load_data(name=n, validation=0).train) for n in ("mnist", "fashion-mnist")]
    rng = np.random.default_rng(seed)
    staging = FOLDER.with_suffix(".tmp")
    for label in range(10):
        (staging / str(label)).mkdir(parents=True, exist_ok=True)
    for i in range(count):
        split = sets[i % 2]
        grey = (split.x[i // 2, 0].numpy() * 255).astype(np.uint8)
        image = Image.fromarray(grey).resize((64, 64), Image.Resampling.BILINEAR)
        ink = np.asarray(image, dtype=np.float32)[..., None] / 255
        ink = np.roll(ink, tuple(int(v) for v in rng.integers(-6, 7, 2)), axis=(0, 1))
        if rng.random() < 0.5:
            ink = ink[:, ::-1]
        paper, colour = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
        pixels = (paper * (1 - ink) + colour * ink).round().astype(np.uint8)
        Image.fromarray(pixels).save(staging / str(int(split.y[i // 2])) / f"{i:05d}.jpg", quality=90)
    staging.rename(FOLDER)


def _tree(pid: int) -> list[int]:
    """``pid`` and all its descendants."""
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        for task in Path(f"/proc/{p}/task").glob("*"):
            try:
                todo += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                pass
    return found


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


FOLDER_MODEL = ["model.architecture=conv", "model.channels=[32,64,128]", "model.likelihood=logistic-mixture",
                "train.steps=100", "train.log_every=10", "evaluate.limit=20"]


def run_row(name: str, epochs: int) -> dict:
    data, nproc = name.rsplit("-", 1)
    source = {"mnist": ["data.name=binarized-mnist"],
              "conv": ["data.name=binarized-mnist", "model.architecture=conv"],
              "x10-stream": [f"data.name={BIG}", f"data.labels={BIG_LABELS}", "data.stream=true"],
              "x10-memory": [f"data.name={BIG}", f"data.labels={BIG_LABELS}"],
              "folder-stream": [f"data.name={FOLDER}", *FOLDER_MODEL],
              "folder-memory": [f"data.name={FOLDER}", "data.stream=false", *FOLDER_MODEL],
              "folder-stream-b32": [f"data.name={FOLDER}", *FOLDER_MODEL]}[data]
    batch = BATCHES.get(data, BATCH)
    command = [sys.executable, "-m", "vaekit.cli", "train", "--nproc", nproc, "--config",
               str(ROOT / "configs" / "vae-mnist.yaml"), *source, f"train.batch_size={batch}", f"train.epochs={epochs}",
               "train.compile=false", "train.progress=false", "evaluate.k=10", "evaluate.limit=100", f"out_dir={RUNS}",
               f"name=scale-{name}", "--overwrite"]
    peaks = {"largest": 0.0, "total": 0.0}
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def poll() -> None:
        while process.poll() is None:
            sizes = [_rss_mb(p) for p in _tree(process.pid)]
            peaks["largest"] = max(peaks["largest"], *sizes)
            peaks["total"] = max(peaks["total"], sum(sizes))
            time.sleep(0.1)

    watcher = threading.Thread(target=poll)
    watcher.start()
    _, stderr = process.communicate()
    watcher.join()
    if process.returncode:
        raise SystemExit(f"{name} failed:\n{stderr[-3000:]}")
    records = [json.loads(line) for line in (RUNS / f"scale-{name}" / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in records if r["split"] == "train"]
    steps = seconds = 0.0
    for a, b in zip(train, train[1:]):
        if a["epoch"] == b["epoch"]:
            steps, seconds = steps + b["step"] - a["step"], seconds + b["seconds"] - a["seconds"]
    metrics = json.loads((RUNS / f"scale-{name}" / "metrics.json").read_text())
    return {"row": name, "processes": int(nproc), "data": data, "batch": batch,
            "samples_per_second": round(steps * batch / seconds, 1),
            "peak_rss_mb_largest": round(peaks["largest"]), "peak_rss_mb_total": round(peaks["total"]),
            "steps": metrics["train"]["steps"], "epochs": epochs, "test_elbo": metrics["test"]["elbo"]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", nargs="+", default=ROWS, choices=ROWS)
    parser.add_argument("--epochs", type=int, default=1)
    args = parser.parse_args()
    if any(row.startswith("x10") for row in args.rows):
        write_big_set()
    if any(row.startswith("folder") for row in args.rows):
        write_image_folder()
    for name in args.rows:  # each row is saved as soon as it ends
        row = run_row(name, args.epochs)
        print(row, flush=True)
        save_row("scale", row, ROWS, {"batch": BATCH})


if __name__ == "__main__":
    main()
