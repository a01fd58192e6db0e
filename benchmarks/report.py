"""Render docs/benchmarks.md from benchmarks/results/*.json (run by every benchmark after it saves)."""
from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
INTRO = ROOT / "benchmarks" / "intro.md"


def _header(r: dict) -> str:
    return f"Command: `{r['command']}` · date: {r['date']} · machine: {r['machine']}\n"


def _table(columns: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def speed(r: dict) -> str:
    peak = f"of matmul peak ({r['matmul_gflops']:.0f} GFLOP/s)"
    table = _table(["configuration", "samples/s", "vs plain loop", peak],
                   [[c["name"], f"{c['samples_per_s']:,.0f}", f"{c['ratio']:.2f}x", f"{c['peak_fraction']:.0%}"]
                    for c in r["configurations"]])
    e = r["eval"]
    return (f"## Training speed\n\n{_header(r)}\n{r['setting']}\n\n{table}\n"
            f"torch.compile warm-up (the Trainer's first epoch less a steady one): {r['compile_warmup_s']:.1f} s "
            "with inductor's on-disk cache already warm; a first compile on a new machine takes longer.\n\n"
            f"## Evaluation speed\n\nk={e['k']} importance samples, {e['images']} MNIST test images: "
            f"**{e['images_per_s']:.1f} images/s** (target 30).\n")


def quality(r: dict) -> str:
    table = _table(["minutes", "epochs", "test images", "-log p(x) (nats)", "-ELBO (nats)", "active units"],
                   [[c["minutes"], c["epochs"], c["test_images"], c["nll"], -c["elbo"], c["active_units"]]
                    for c in r["curve"]])
    return (f"## Quality per CPU-minute\n\n{_header(r)}\n"
            "Binarized MNIST (dynamic binarization for training, test binarized once with seed 0), "
            "the one-stochastic-layer VAE of Burda et al. 2015 (784-200-200-50, tanh), batch 100, Adam, "
            f"cosine lr 1e-3 to 1e-4 over a {r['budget_minutes']}-minute budget ({r['epochs_planned']} epochs "
            f"planned, {r['epoch_seconds']} s/epoch), k={r['k']}; snapshots scored on a seeded random 1,000 "
            "test images, the last row on all 10,000. "
            f"Reference: Burda et al. 2015 Table 1, 86.76 nats after 3,280 epochs.\n\n{table}")


def bits(r: dict) -> str:
    table = _table(["data", "minutes", "epochs", "test images", "k", "bits/dim (log p(x))", "bits/dim (ELBO)"],
                   [[c["data"], c["minutes"], c["epochs"], c["test_images"], c["k"], f"{c['bits_per_dim']:.3f}",
                     f"{c['elbo_bits_per_dim']:.3f}"] for c in r["runs"]])
    return f"## 8-bit bits/dim (discretized logistic mixture)\n\n{_header(r)}\n{r['setting']}\n\n{table}"


SECTIONS = {"speed": speed, "quality": quality, "bits_per_dim": bits}


def main() -> None:
    parts = [INTRO.read_text()] if INTRO.exists() else ["# Benchmarks\n"]
    notes = ROOT / "benchmarks" / "notes.md"
    for name, render in SECTIONS.items():
        path = RESULTS / f"{name}.json"
        if path.exists():
            parts.append(render(json.loads(path.read_text())))
        else:
            parts.append(f"## {name}\n\nNot yet run: `python benchmarks/{name}.py`.\n")
    if notes.exists():
        parts.append(notes.read_text())
    (ROOT / "docs" / "benchmarks.md").write_text("\n".join(parts))


if __name__ == "__main__":
    main()
