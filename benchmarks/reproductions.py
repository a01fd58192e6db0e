"""The applications at their papers' level: each row is a recipe of configs/ trained as a user trains it (``vaekit
train --config ...``, a two-stage recipe one stage after the other), with its time-to-accuracy curve.

Rows:
- ``bbb-400``: configs/bnn-mnist-400.yaml, Bayes by Backprop with 2 x 400 units; the curve is the validation error
  after each epoch (10 weight draws), the headline the test error on all 10,000 test images (100 draws).
- ``sgd-400``: configs/mlp-mnist-400.yaml, the same network with point weights, SGD with momentum, for the same
  epochs: the baseline ``bbb-400`` must beat (it has no target of its own).
- ``m1-m2-100``: configs/m1-vae-mnist.yaml (M1, trained first), then configs/m2-on-m1-mnist-100.yaml (M2 on its
  frozen codes); the curve is the validation classification error after each epoch of M2, the minutes those of
  both stages, the headline the test classification error on all 10,000 test images.
- ``m2-100``: configs/m2-mnist-100.yaml, M2 alone on the pixels; curve and headline as for ``m1-m2-100``.

``--set`` overrides every stage (``train.epochs=...`` for the shorter runs of several seeds); ``--seed`` sets the
data's and the training's seed; ``--from-runs`` tabulates stages already trained (their run directories, in
order) instead of training them. The figure docs/images/reproduction-ROW.png plots the error against training
minutes and against epochs, beside a public reimplementation's figures at equal epochs where one exists.
"""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from common import ROOT, save_row, use_shared_data

use_shared_data()

from vaekit.config import load_config  # noqa: E402
from vaekit.run import run  # noqa: E402

# target and paper (% test error); public: (epochs, % error) of a public reimplementation at equal epochs
ROWS = {
    "bbb-400": {"stages": ["bnn-mnist-400.yaml"], "metric": "error", "target": 1.5, "paper": 1.36,
                "public": None},
    "sgd-400": {"stages": ["mlp-mnist-400.yaml"], "metric": "error", "target": None, "paper": 1.83,
                "public": None},
    "m1-m2-100": {"stages": ["m1-vae-mnist.yaml", "m2-on-m1-mnist-100.yaml"], "metric": "classification_error",
                  "target": 5.0, "paper": 3.33,
                  "public": ("jonemeth/generative-models (M1+M2)",
                             [(10, 22.5), (100, 12.8), (300, 5.1), (500, 3.9), (3000, 2.8)])},
    "m2-100": {"stages": ["m2-mnist-100.yaml"], "metric": "classification_error", "target": 12.0, "paper": 11.97,
               "public": ("jonemeth/generative-models (M2)", [(10, 42.5), (500, 25.5), (2000, 8.6), (3000, 7.15)])},
}
IMAGES = ROOT / "docs" / "images"
BUDGET_MINUTES = 60  # a target counts as met only within this many minutes of training on 2 CPU cores


def _records(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def curve(run_dir: Path, metric: str, offset: float) -> list[dict]:
    """(epoch, minutes, % error) after each epoch: the validation ``metric``, the minutes those of the last
    training line of the epoch plus ``offset`` seconds (the stages before)."""
    records = _records(run_dir)
    seconds: dict[int, float] = {}
    for r in records:
        if r["split"] == "train":
            seconds[r["epoch"]] = r["seconds"]
    return [{"epoch": r["epoch"], "minutes": round((offset + seconds.get(r["epoch"] - 1, 0.0)) / 60, 2),
             "error": round(100 * r[metric], 3)} for r in records if r["split"] == "valid" and metric in r]


def figure(name: str, spec: dict, points: list[dict]) -> Path:
    import matplotlib
    import matplotlib.ticker
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (by_time, by_epoch) = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    for axis, key in ((by_time, "minutes"), (by_epoch, "epoch")):
        axis.plot([p[key] for p in points], [p["error"] for p in points], label="vaekit (validation)")
        if spec["target"] is not None:
            axis.axhline(spec["target"], color="tab:red", linestyle="--", linewidth=1,
                         label=f"target {spec['target']}%")
        axis.axhline(spec["paper"], color="grey", linestyle=":", linewidth=1, label=f"paper {spec['paper']}%")
        axis.set_xlabel("training minutes (2 CPU cores)" if key == "minutes" else "epochs")
        axis.set_yscale("log")
        axis.yaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
        axis.yaxis.set_minor_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
        axis.grid(True, which="both", alpha=0.3)
    if spec["public"] is not None:
        label, public = spec["public"]
        by_epoch.plot(*zip(*public), "o", color="tab:green", label=label)
        by_epoch.set_xscale("log")
    by_time.set_ylabel("% error")
    by_epoch.legend(fontsize=8)
    fig.suptitle(f"{name}: error against training time")
    fig.tight_layout()
    IMAGES.mkdir(parents=True, exist_ok=True)
    path = IMAGES / f"reproduction-{name}.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def train_stages(spec: dict, seed: int, extra: list[str], out: Path) -> list[Path]:
    """Each stage as ``vaekit train`` would run it; a later stage reads the earlier one's saved model."""
    dirs: list[Path] = []
    for stage in spec["stages"]:
        overrides = [f"train.seed={seed}", f"data.seed={seed}", "train.progress=false", f"out_dir={out}", *extra]
        if dirs:
            overrides.append(f"model.m1={dirs[-1] / 'model'}")
        config = load_config(ROOT / "configs" / stage, overrides)
        run(config, overwrite=True)
        dirs.append(config.run_dir)
    return dirs


def tabulate(name: str, spec: dict, dirs: list[Path], seed: int, extra: list[str]) -> dict:
    offset, points = 0.0, []
    for stage in dirs:
        points = curve(stage, spec["metric"], offset)  # the last stage's curve, after the earlier stages' time
        offset += json.loads((stage / "metrics.json").read_text())["train"]["seconds"]
    test = json.loads((dirs[-1] / "metrics.json").read_text())["test"]
    error = 100 * test[spec["metric"]]
    epochs = [json.loads((stage / "metrics.json").read_text())["train"]["epochs"] for stage in dirs]
    minutes = round(offset / 60, 1)
    row = {"row": name, "error": round(error, 2), "target": spec["target"], "paper": spec["paper"],
           "met": None if spec["target"] is None else error <= spec["target"] and minutes <= BUDGET_MINUTES,
           "epochs": epochs, "minutes": minutes, "seed": seed, "extra": extra, "curve": points}
    if "expected_calibration_error" in test:  # a classifier's calibration and out-of-distribution columns
        row |= {"ece": round(test["expected_calibration_error"], 4), "ood_auroc": round(test["ood_auroc_entropy"], 3)}
    if not extra:  # the full recipe draws the figure
        row["figure"] = str(figure(name, spec, points).relative_to(ROOT))
    return row


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", nargs="+", default=list(ROWS), choices=list(ROWS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="overrides of every stage")
    parser.add_argument("--from-runs", nargs="*", type=Path, help="the stages' run directories, already trained")
    parser.add_argument("--tag", default="", help="a suffix of the row's name (a seed's shorter run): --tag=-seed1")
    args = parser.parse_args()
    for name in args.rows:
        spec = ROWS[name]
        with tempfile.TemporaryDirectory() as out:
            dirs = args.from_runs or train_stages(spec, args.seed, args.set, Path(out))
            row = tabulate(name + args.tag, spec, dirs, args.seed, args.set)
        print({k: v for k, v in row.items() if k != "curve"}, flush=True)
        save_row("reproductions", row, [n + t for n in ROWS for t in ("", "-seed0", "-seed1", "-seed2")],
                 {"budget_minutes": BUDGET_MINUTES,
                  "rows_spec": {n: {k: v for k, v in s.items() if k != "stages"} | {"stages": s["stages"]}
                                for n, s in ROWS.items()}})


if __name__ == "__main__":
    main()
