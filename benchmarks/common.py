"""Shared by the benchmarks: the machine's description, the data directory, result files."""
from __future__ import annotations

import json
import os
import platform
import shlex
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

from vaekit.devices import cpu_bf16_units

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"


def use_shared_data() -> None:
    """Point VAEKIT_DATA at ../shared/data when present (benchmarks never download)."""
    shared = ROOT.parent / "shared" / "data"
    if "VAEKIT_DATA" not in os.environ and shared.is_dir():
        os.environ["VAEKIT_DATA"] = str(shared)


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{os.cpu_count()} cores ({cpu}; bf16 units: {bf16_units()}), torch {torch.__version__}, "
            f"{torch.get_num_threads()} threads, Python {platform.python_version()}")


def bf16_units() -> str:
    """The CPU's bf16 instructions, as /proc/cpuinfo lists them (without them autocast's bf16 is emulated)."""
    units = cpu_bf16_units()
    if units is None:
        return "unknown"
    return ", ".join(units) or "none (no AMX, no AVX-512 BF16)"


def matmul_gflops(n: int = 2048, repeats: int = 20) -> float:
    """The machine's measured float32 matmul rate (GFLOP/s), the peak the training fraction refers to."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(3):
        a @ b
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * n**3 * repeats / (time.perf_counter() - start) / 1e9


def epochs_for_budget(model: "torch.nn.Module", data: object, config: dict, minutes: float) -> tuple[int, float]:
    """(epochs that fit in ``minutes``, seconds per epoch) from 3 calibration epochs of a throw-away model,
    timed after torch.compile's warm-up (the first epoch)."""
    from vaekit import TrainConfig
    from vaekit.train import Trainer

    marks: list[float] = []
    Trainer(model, TrainConfig(epochs=3, **config), on_epoch_end=[lambda t, c: marks.append(time.perf_counter())]
            ).fit(data)  # type: ignore[arg-type]
    epoch_seconds = (marks[-1] - marks[0]) / (len(marks) - 1)
    return max(1, int(minutes * 60 / epoch_seconds)), epoch_seconds


def save_result(name: str, result: dict) -> Path:
    """Write a benchmark's result with its command, date and machine into benchmarks/results/NAME.json."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    date = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    result = {"command": shlex.join(["python"] + sys.argv), "date": date, "machine": machine(), **result}
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "report.py")], check=True)
    return path


def save_row(name: str, row: dict, order: list[str], header: dict) -> Path:
    """Put ``row`` (keyed by row["row"]) into results/NAME.json with its own command, date and machine, replacing
    that row's earlier run and keeping the others (rows run at different times, each by its own command)."""
    previous = RESULTS / f"{name}.json"
    earlier = json.loads(previous.read_text()) if previous.exists() else {"rows": []}
    rows = [{"machine": earlier["machine"], **r} for r in earlier["rows"]]  # a row keeps the machine it ran on
    row = {**row, "command": shlex.join(["python", *sys.argv]),
           "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "machine": machine()}
    rank = {name: i for i, name in enumerate(order)}  # a row not named there (a variant's tag) goes last
    rows = sorted([r for r in rows if r["row"] != row["row"]] + [row], key=lambda r: rank.get(r["row"], len(order)))
    return save_result(name, {**header, "rows": rows})
