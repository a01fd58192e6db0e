"""Data-parallel training: 2 processes (gloo) reach the weights of 1 process with the same global batch and seed."""
from __future__ import annotations

import json
from pathlib import Path

from safetensors.torch import load_file
from test_cli import ROOT, vaekit

RECIPE = ["--config", str(ROOT / "configs" / "bnn-mnist.yaml"), "model.name=classifier", "model.hidden=[64]",
          "data.limit=2000", "data.validation=500", "train.epochs=2", "train.batch_size=64", "evaluate.ood=null",
          "train.progress=false"]


def test_two_processes_match_one(tmp_path: Path) -> None:
    one = vaekit("train", *RECIPE, f"out_dir={tmp_path}", "name=one")
    assert one.returncode == 0, one.stderr
    two = vaekit("train", "--nproc", "2", *RECIPE, f"out_dir={tmp_path}", "name=two")
    assert two.returncode == 0, two.stderr
    a = load_file(str(tmp_path / "one" / "model" / "model.safetensors"))
    b = load_file(str(tmp_path / "two" / "model" / "model.safetensors"))
    assert a.keys() == b.keys()
    worst = max(float((a[k] - b[k]).abs().max()) for k in a)
    assert worst < 1e-4  # the same steps, summed in another order (measured below 1e-6)
    metrics = json.loads((tmp_path / "two" / "metrics.json").read_text())
    assert metrics["train"]["steps"] == json.loads((tmp_path / "one" / "metrics.json").read_text())["train"]["steps"]
    assert len((tmp_path / "two" / "metrics.jsonl").read_text().splitlines()) > 0  # written once, by rank 0
