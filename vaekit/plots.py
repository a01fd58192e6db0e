"""Plots of a run: loss curves from metrics.jsonl."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from vaekit.train.metrics_log import read_metrics  # noqa: E402


def loss_curves(metrics_path: str | Path, out: str | Path) -> Path:
    """Training and validation ELBO, reconstruction and KL against steps, as one PNG."""
    records = read_metrics(Path(metrics_path))
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for ax, key, title in zip(axes, ("elbo", "reconstruction", "kl"),
                              ("ELBO (nats)", "log p(x|z) (nats)", "KL(q(z|x) || p(z)) (nats)")):
        later: list[float] = []
        for split, style in (("train", "-"), ("valid", "o-")):
            points = [(r["step"], r[key]) for r in records if r["split"] == split and key in r]
            if points:
                ax.plot(*zip(*points), style, label=split, markersize=3)
                later += [v for _, v in points[len(points) // 10:]]
        if len(later) > 1 and max(later) > min(later):  # zoom past the first tenth, where values change fastest
            margin = 0.1 * (max(later) - min(later))
            ax.set_ylim(min(later) - margin, max(later) + margin)
        ax.set_title(title)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    out = Path(out)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
