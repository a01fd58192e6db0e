"""Surviving kills: a run killed with SIGKILL at random moments and resumed each time ends with the very weights of
an uninterrupted run."""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from test_cli import ROOT, VAEKIT

from vaekit.train import load_checkpoint

RECIPE = [str(ROOT / "configs" / "vae-mnist.yaml"), "data.limit=3000", "data.validation=500", "model.hidden=[64]",
          "train.epochs=12", "train.batch_size=32", "train.checkpoint_every=7", "train.compile=false",
          "train.schedule=cosine", "train.early_stopping=null", "evaluate.k=5", "evaluate.limit=20"]


def _train(out: Path, name: str, resume: bool) -> subprocess.Popen:
    command = [VAEKIT, "train", "--config", *RECIPE[:1], *RECIPE[1:], f"out_dir={out}", f"name={name}"]
    return subprocess.Popen([*command, "--resume" if resume else "--overwrite"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, env=os.environ.copy())


def start_and_await_checkpoint(start: Callable[[], subprocess.Popen], checkpoint: Path) -> subprocess.Popen:
    """The process ``start()`` makes, once it has written a fresh ``checkpoint`` (or ended, or 300 s passed)."""
    before = checkpoint.stat().st_mtime_ns if checkpoint.exists() else 0
    process = start()
    deadline = time.monotonic() + 300
    while process.poll() is None and time.monotonic() < deadline and \
            not (checkpoint.exists() and checkpoint.stat().st_mtime_ns != before):
        time.sleep(0.01)
    return process


def _weights_sha(run_dir: Path) -> str:
    return json.loads((run_dir / "model" / "config.json").read_text())["weights_sha256"]


def test_sigkill_ten_times_then_resume_gives_the_uninterrupted_weights(tmp_path: Path) -> None:
    whole = _train(tmp_path, "whole", resume=False)  # the reference, uninterrupted
    assert whole.wait(timeout=600) == 0, whole.stderr.read() if whole.stderr else ""
    rng = random.Random(0)
    checkpoint = tmp_path / "killed" / "checkpoints" / "last.safetensors"
    steps_seen = []
    for _ in range(10):  # start (or resume), wait for a fresh checkpoint, kill a moment later
        process = start_and_await_checkpoint(lambda: _train(tmp_path, "killed", resume=checkpoint.exists()),
                                             checkpoint)
        time.sleep(rng.uniform(0.0, 0.2))
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
        steps_seen.append(load_checkpoint(checkpoint)["counters"]["step"])
    total = 12 * 94  # 12 epochs of 3,000 images in batches of 32
    assert len({s for s in steps_seen if 0 < s < total}) >= 5, steps_seen  # killed in mid-training, repeatedly
    last = _train(tmp_path, "killed", resume=checkpoint.exists())
    assert last.wait(timeout=600) == 0, last.stderr.read() if last.stderr else ""
    assert _weights_sha(tmp_path / "killed") == _weights_sha(tmp_path / "whole")
    assert [p.name for p in checkpoint.parent.iterdir()] == ["last.safetensors"]  # no half-written file left
