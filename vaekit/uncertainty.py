"""How much a classifier knows it does not know: predictive entropy and mutual information, calibration, and
out-of-distribution detection.

From S predictive distributions p_s(y|x) (one per weight draw of a Bayesian network):
  predictive entropy   H[mean_s p_s], the total uncertainty;
  mutual information   H[mean_s p_s] - mean_s H[p_s], the part due to the weights (epistemic; Houlsby et al.
                       2011, "BALD"): zero for a network with one set of weights;
  calibration          the expected calibration error of Naeini et al. 2015 / Guo et al. 2017: the test examples
                       binned by confidence max_y p(y|x), sum over bins of |accuracy - confidence| weighted by
                       the bin's share; the bins draw the reliability diagram;
  OOD AUROC            the chance that an out-of-distribution example gets a higher uncertainty score than an
                       in-distribution one (ties count half): the area under the ROC curve, by the rank
                       statistic of Mann & Whitney.
"""
from __future__ import annotations

from contextlib import nullcontext
from dataclasses import asdict, dataclass

import torch

from vaekit.contract import Classifies, Latent
from vaekit.data import Split
from vaekit.devices import keeps_mode, seeded
from vaekit.limits import rows_within
from vaekit.models import Model


def entropy(probs: torch.Tensor) -> torch.Tensor:
    """H[p] over the last axis, in nats."""
    return -(probs * probs.clamp(min=1e-12).log()).sum(-1)


def predictive_entropy(draws: torch.Tensor) -> torch.Tensor:
    """(S, B, C) -> (B,): the entropy of the averaged predictive."""
    return entropy(draws.mean(0))


def mutual_information(draws: torch.Tensor) -> torch.Tensor:
    """(S, B, C) -> (B,): the information the label would give about the weights, H[mean p] - mean H[p]."""
    return (predictive_entropy(draws) - entropy(draws).mean(0)).clamp(min=0.0)


@dataclass
class Prediction:
    """p(y|x) of a batch with its uncertainty: ``probabilities`` (B, C), the predictive entropy (B,), the mutual
    information (B,) of a classifier over its weight draws (None for a semi-supervised model's q(y|x))."""

    probabilities: torch.Tensor
    entropy: torch.Tensor
    mutual_information: torch.Tensor | None
    draws: int


@torch.no_grad()
def predict(model: Model, x: torch.Tensor, weight_draws: int) -> Prediction:
    """The classes of ``x``: a classifier's averaged over ``weight_draws`` draws of a Bayesian network's weights (one
    for a plain network), or a semi-supervised model's q(y|x)."""
    if (not isinstance(model, Latent) and isinstance(model, Classifies)):
        draws = model.predictive(x, weight_draws)
        return Prediction(draws.mean(0), predictive_entropy(draws), mutual_information(draws), len(draws))
    probs = model.classify(x)
    return Prediction(probs, entropy(probs), None, 1)


def calibration_bins(probs: torch.Tensor, labels: torch.Tensor, bins: int = 15) -> list[dict[str, float]]:
    """Equal-width confidence bins over (0, 1]: each bin's mean confidence, accuracy and example count."""
    confidence, guess = probs.max(1)
    right = (guess == labels).float()
    which = (confidence * bins).ceil().clamp(1, bins).long() - 1
    out = []
    for b in range(bins):
        inside = which == b
        count = int(inside.sum())
        out.append({"low": b / bins, "high": (b + 1) / bins, "count": count,
                    "confidence": confidence[inside].mean().item() if count else 0.0,
                    "accuracy": right[inside].mean().item() if count else 0.0})
    return out


def expected_calibration_error(bins: list[dict[str, float]]) -> float:
    """sum_b (n_b / n) |accuracy_b - confidence_b|."""
    total = sum(b["count"] for b in bins)
    return sum(b["count"] / total * abs(b["accuracy"] - b["confidence"]) for b in bins) if total else 0.0


def auroc(in_scores: torch.Tensor, out_scores: torch.Tensor) -> float:
    """P(score of an OOD example > score of an in-distribution one), ties half: the ROC curve's area."""
    scores = torch.cat([in_scores, out_scores]).double()
    order = scores.argsort()
    ranks = torch.empty_like(scores)
    ranks[order] = torch.arange(1, len(scores) + 1, dtype=torch.float64)
    for value in scores.unique()[torch.unique(scores, return_counts=True)[1] > 1]:  # ties share their mean rank
        tied = scores == value
        ranks[tied] = ranks[tied].mean()
    n_in, n_out = len(in_scores), len(out_scores)
    return float((ranks[n_in:].sum() - n_out * (n_out + 1) / 2) / (n_in * n_out))


@dataclass
class ClassifierReport:
    """Test figures of a classifier: error and mean -log p(y|x), calibration, uncertainty and OOD detection."""

    examples: int
    weight_draws: int
    error: float
    nll: float
    expected_calibration_error: float
    predictive_entropy: float  # mean over test examples, nats
    mutual_information: float  # mean over test examples, nats
    reliability: list[dict[str, float]]
    ood: str | None = None  # the data set scored as out of distribution
    ood_auroc_entropy: float | None = None
    ood_auroc_mutual_information: float | None = None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@keeps_mode
@torch.no_grad()
def draws_over(model: Classifies, split: Split, samples: int, batch_size: int = 1000,
               seed: int | None = None) -> torch.Tensor:
    """The model's predictive under ``samples`` weight draws for every example of a split: (S, N, C); the draws
    seeded by ``seed`` (the caller's random state untouched), or from the global generator if it is None."""
    model.eval()
    with nullcontext() if seed is None else seeded(seed, model.device):  # type: ignore[attr-defined]
        return torch.cat([model.predictive(x, samples)
                          for x, _ in split.labelled_batches(rows_within(batch_size, split.data_shape),
                                                             shuffle=False)], dim=1)


def classifier_report(model: Classifies, test: Split, ood: tuple[str, Split] | None = None,
                      samples: int = 10, bins: int = 15, seed: int = 0) -> ClassifierReport:
    """Evaluate a classifier (``model.predictive``) on labelled ``test`` data, and, given ``ood`` (its name and
    a split of other data), how well its uncertainty tells the two apart; the weight draws seeded by ``seed``."""
    if test.y is None or len(test) == 0:
        raise ValueError("a classifier is evaluated on labelled test data")
    with seeded(seed, model.device):  # type: ignore[attr-defined]
        return _report(model, test, ood, samples, bins)


def _report(model: Classifies, test: Split, ood: tuple[str, Split] | None, samples: int,
            bins: int) -> ClassifierReport:
    draws = draws_over(model, test, samples)
    probs, labels = draws.mean(0), test.y
    table = calibration_bins(probs, labels, bins)
    entropies, informations = predictive_entropy(draws), mutual_information(draws)
    report = ClassifierReport(
        examples=len(test), weight_draws=len(draws), error=(probs.argmax(1) != labels).float().mean().item(),
        nll=-probs.gather(1, labels[:, None]).clamp(min=1e-12).log().mean().item(),
        expected_calibration_error=expected_calibration_error(table), predictive_entropy=entropies.mean().item(),
        mutual_information=informations.mean().item(), reliability=table)
    if ood is not None:
        name, other = ood
        if other.x.shape[1:] != test.x.shape[1:]:
            raise ValueError(f"the out-of-distribution data '{name}' has examples of shape "
                             f"{tuple(other.x.shape[1:])}, the test data {tuple(test.x.shape[1:])}")
        other_draws = draws_over(model, other, samples)
        report.ood = name
        report.ood_auroc_entropy = auroc(entropies, predictive_entropy(other_draws))
        report.ood_auroc_mutual_information = auroc(informations, mutual_information(other_draws))
    return report
