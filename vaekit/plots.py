"""Plots: loss curves from metrics.jsonl, the latent space beside the prior, reliability diagrams, a regression
band."""
from __future__ import annotations

from pathlib import Path

import torch
from matplotlib.figure import Figure  # no pyplot: no backend chosen, no global figure state

from vaekit.train.metrics_log import read_metrics  # noqa: E402


def _save(fig: Figure, out: str | Path) -> Path:
    """Lay out and write ``fig`` as PNG."""
    fig.tight_layout()
    out = Path(out)
    fig.savefig(out, dpi=100)
    return out


CLASSIFIER_PANELS = {"nll": "-log p(y|x, w) (nats)", "complexity": "KL(q(w) || p(w)) / N (nats)",
                     "error": "validation error"}
ELBO_PANELS = {"elbo": "ELBO (nats)", "reconstruction": "log p(x|z) (nats)", "kl": "KL(q(z|x) || p(z)) (nats)"}


def adversarial_panels(adversaries: tuple[str, ...] = ("",)) -> dict[str, str]:
    """An adversarial autoencoder's panels: the reconstruction term, then each adversary's accuracy and its
    generator loss (``adversaries``: the prefixes of their logged terms, as ``AAE.adversaries``)."""
    panels = {"reconstruction": "log p(x|z) (nats)"}
    for name in adversaries:
        who = f"{name.rstrip('_')} " if name else ""
        panels |= {f"{name}discriminator_accuracy": f"{who}discriminator accuracy",
                   f"{name}generator_loss": f"{who}generator loss, -log D(z)"}
    return panels


def loss_curves(metrics_path: str | Path, out: str | Path, panels: dict[str, str] = ELBO_PANELS) -> Path:
    """The logged terms ``panels`` (key: title; the ELBO's by default) against steps, training and validation,
    as one PNG."""
    records = read_metrics(Path(metrics_path))
    fig = Figure(figsize=(4.3 * len(panels), 3.8))
    axes = fig.subplots(1, len(panels), squeeze=False)
    for ax, (key, title) in zip(axes[0], panels.items()):
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
        if ax.lines:  # a term this model does not log leaves its panel empty
            ax.legend()
    return _save(fig, out)


def latent_space(codes: torch.Tensor, labels: torch.Tensor | None, prior_samples: torch.Tensor,
                 out: str | Path) -> Path:
    """The codes of data (coloured by label) beside samples of the prior, on the same axes (Makhzani et al. 2015,
    fig. 2). Codes of more than two dimensions are shown on their first two principal axes, the prior projected
    on the same axes."""
    codes, prior_samples = codes.detach().flatten(1).float(), prior_samples.detach().flatten(1).float()
    axes_names = ("z1", "z2")
    if codes.shape[1] > 2:
        centre = codes.mean(0)
        _, _, v = torch.pca_lowrank(codes - centre, q=2, center=False)
        codes, prior_samples = (codes - centre) @ v, (prior_samples - centre) @ v
        axes_names = ("first principal axis", "second principal axis")
    elif codes.shape[1] == 1:
        codes, prior_samples = torch.cat([codes, torch.zeros_like(codes)], 1), torch.cat(
            [prior_samples, torch.zeros_like(prior_samples)], 1)
    fig = Figure(figsize=(10, 4.6))
    left, right = fig.subplots(1, 2, sharex=True, sharey=True)
    known = torch.zeros(len(codes), dtype=torch.bool) if labels is None else labels >= 0  # -1: label unknown
    if not known.all():
        left.scatter(codes[~known, 0], codes[~known, 1], s=3, alpha=0.5, color="grey",
                     label="label unknown" if known.any() else None)
    if known.any():
        assert labels is not None
        points = left.scatter(codes[known, 0], codes[known, 1], c=labels[known].numpy(), cmap="tab10", s=3,
                              alpha=0.7)
        fig.colorbar(points, ax=left, label="label")
        if not known.all():
            left.legend(loc="upper right", fontsize=8)
    left.set_title("codes of test data, q(z)")
    right.scatter(prior_samples[:, 0], prior_samples[:, 1], s=3, alpha=0.5, color="grey")
    right.set_title("samples of the prior, p(z)")
    for ax in (left, right):
        ax.set_xlabel(axes_names[0])
        ax.set_ylabel(axes_names[1])
        ax.grid(alpha=0.3)
    return _save(fig, out)


def reliability_diagram(bins: list[dict[str, float]], out: str | Path, title: str = "") -> Path:
    """Accuracy against confidence per bin (Guo et al. 2017, fig. 1), the diagonal being perfect calibration;
    below, how many test examples each bin holds."""
    fig = Figure(figsize=(4.8, 6.2))
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    width = bins[0]["high"] - bins[0]["low"]
    lows = [b["low"] for b in bins]
    top.bar(lows, [b["accuracy"] for b in bins], width=width, align="edge", edgecolor="black", label="accuracy")
    top.bar(lows, [b["confidence"] - b["accuracy"] for b in bins], bottom=[b["accuracy"] for b in bins],
            width=width, align="edge", color="tab:red", alpha=0.3, label="gap to confidence")
    top.plot([0, 1], [0, 1], "k--", label="perfect calibration")
    top.set_ylabel("accuracy")
    top.set_title(title or "reliability diagram")
    top.legend(loc="upper left")
    bottom.bar(lows, [b["count"] for b in bins], width=width, align="edge", color="grey")
    bottom.set_yscale("symlog")
    bottom.set_xlabel("confidence, max p(y|x)")
    bottom.set_ylabel("examples")
    return _save(fig, out)


def regression_band(x: torch.Tensor, y: torch.Tensor, grid: torch.Tensor, draws: torch.Tensor, out: str | Path) -> Path:
    """The training points, the median prediction and its interquartile band (Blundell et al. fig. 5)."""
    low, median, high = torch.quantile(draws, torch.tensor([0.25, 0.5, 0.75]), dim=0)
    fig = Figure(figsize=(6.4, 4))
    ax = fig.subplots()
    ax.fill_between(grid, low, high, color="tab:red", alpha=0.3, label="interquartile range")
    ax.plot(grid, median, color="tab:red", label="median")
    ax.scatter(x.view(-1), y.view(-1), s=8, color="black", label="training data")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_ylim(float(y.min()) - 1.0, float(y.max()) + 1.0)
    ax.legend(loc="upper left")
    ax.grid(alpha=0.3)
    return _save(fig, out)


def spectrograms(images: torch.Tensor, out: str | Path, titles: list[str], ncols: int = 8) -> Path:
    """Log-mel spectrograms (N, 1, n_mels, frames) side by side, low frequencies at the bottom, one colour scale."""
    rows = (len(images) + ncols - 1) // ncols
    fig = Figure(figsize=(1.6 * ncols, 1.8 * rows))
    axes = fig.subplots(rows, ncols, squeeze=False)
    low, high = float(images.min()), float(images.max())
    for ax, image, title in zip(axes.flat, images, titles):
        ax.imshow(image[0].detach().numpy(), origin="lower", aspect="auto", cmap="magma", vmin=low, vmax=high)
        ax.set_title(title, fontsize=8)
    for i, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_visible(i < len(images))
    return _save(fig, out)
