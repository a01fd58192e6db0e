"""Evaluation of any model on the contract: ELBO terms, importance-weighted log p(x), bits/dim, active units.

Active units follow Burda et al. 2015 (arXiv:1509.00519, sec. 5.2): latent u is active when
Cov_x(E_{q(z|x)}[z_u]) > 0.01.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass

import torch

from vaekit import objectives
from vaekit.contract import Batch, Classifies, Clusters, Density, Latent, Trainable, given
from vaekit.data import SequenceSplit, Split
from vaekit.devices import fork_rng_devices, keeps_mode
from vaekit.limits import rows_within
from vaekit.models import LatentVariableModel, Model
from vaekit.progress import progress as progress_bar

ACTIVE_UNIT_THRESHOLD = 0.01


@torch.no_grad()
def mean_elbo(model: LatentVariableModel, split: Split, batch_size: int = 1000) -> dict[str, float]:
    """Mean ELBO, reconstruction and KL (nats per datum) over a split, one z sample per datum."""
    was_training = model.training
    model.eval()
    sums = {"elbo": 0.0, "reconstruction": 0.0, "kl": 0.0}
    device = model.device
    for x, y in split.labelled_batches(rows_within(batch_size, split.data_shape), shuffle=False):
        x, y = x.to(device), None if y is None else y.to(device)
        t = objectives.elbo_terms(given(model, y), x)
        sums["elbo"] += t.elbo.sum().item()
        sums["reconstruction"] += t.reconstruction.sum().item()
        sums["kl"] += t.kl.sum().item()
    model.train(was_training)
    return {k: v / max(1, len(split)) for k, v in sums.items()}


@torch.no_grad()
def mean_log_likelihood(model: Density, split: Split, batch_size: int = 1000) -> dict[str, float]:
    """The mean exact log p(x) (nats per datum) of a model without latent variables (a language model)."""
    was_training = model.training
    model.eval()
    rows = rows_within(batch_size, split.data_shape)
    total = sum(model.log_likelihood(x).sum().item() for x in split.batches(rows, shuffle=False))
    model.train(was_training)
    return {"log_likelihood": total / max(1, len(split))}


@torch.no_grad()
def validation_scores(model: Trainable, split: Split, batch_size: int = 1000) -> tuple[str, dict[str, float]]:
    """The means of ``model.scores`` over a split, in evaluation mode, and the name of the first (higher is
    better), which picks the best epoch: the ELBO, the reconstruction term of a model without a bound, a
    classifier's log predictive, a language model's exact log p(x)."""
    was_training = model.training
    model.eval()
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}  # a score that needs labels has one value per labelled example
    device = next(model.parameters()).device  # a Trainable need not be a vaekit Model
    for x, y in split.labelled_batches(rows_within(batch_size, split.data_shape), shuffle=False):
        y = None if y is None else y.to(device)
        for name, values in model.scores(Batch(x.to(device), y)).items():
            sums[name] = sums.get(name, 0.0) + values.sum().item()
            counts[name] = counts.get(name, 0) + values.numel()
    model.train(was_training)
    key = next(iter(sums), None)
    if key is None or counts[key] == 0:
        raise ValueError(f"no validation example has a {key or 'validation'} score (are its labels unknown?): "
                         "label some, or set data.validation: 0")
    return key, {k: v / counts[k] for k, v in sums.items() if counts[k]}


@torch.no_grad()
def cluster_error(model: Clusters, reference: Split, test: Split, batch_size: int = 1000) -> float:
    """Makhzani et al. 2015, sec. 6: each cluster takes the label of the labelled ``reference`` example it is surest
    of (highest q(cluster|x)); each test example takes its cluster's label; the share of test labels missed.
    Examples whose label is unknown (-1, a user's partly labelled file) neither name a cluster nor count."""
    if not (reference.has_known_labels and test.has_known_labels):
        raise ValueError("the clustering error needs labelled reference and test data")
    reference, test = reference.with_known_labels(), test.with_known_labels()
    rows = rows_within(batch_size, test.data_shape)
    q = torch.cat([model.cluster_probabilities(x) for x in reference.batches(rows, shuffle=False)])  # (N, K)
    label_of = reference.y[q.argmax(0)]  # (clusters,)
    clusters = torch.cat([model.cluster_probabilities(x).argmax(1) for x in test.batches(rows, shuffle=False)])
    return (label_of[clusters] != test.y).float().mean().item()


@dataclass
class EvalReport:
    """Test-set figures, all in nats per datum unless named otherwise."""

    examples: int
    k: int
    elbo: float | None         # None: a model without a bound on log p(x) (an adversarial autoencoder)
    reconstruction: float      # E_q[log p(x|z)]; without a bound, log p(x|z) at the posterior mean
    kl: float | None
    log_likelihood: float | None  # importance-weighted estimate with k samples
    nll: float | None          # -log_likelihood
    bits_per_dim: float | None  # nll / (D ln 2); D: the real elements of a sequence (tokens, frames x features)
    elbo_bits_per_dim: float | None
    kl_per_dim: list[float]
    active_units: int
    seconds: float
    classification_error: float | None = None  # models with a classifier: share of test labels it gets wrong
    parzen: dict[str, float] | None = None  # models without a bound: the Parzen-window estimate (vaekit.parzen)
    cluster_error: float | None = None  # clustering models: see cluster_error
    tokens: int | None = None  # text: tokens in the split, </s> included; bits_per_dim is then bits per token
    nll_per_token: float | None = None  # text: -log p(x) summed over sentences / tokens
    perplexity: float | None = None  # text: exp(nll_per_token)
    elbo_perplexity: float | None = None  # text: exp(-ELBO summed over sentences / tokens), a bound on perplexity
    log_spectral_distance: float | None = None  # audio: mean dB distance of reconstructions (vaekit.sounds)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@keeps_mode
@torch.no_grad()
def evaluate(model: Model, split: Split, k: int = 5000, batch_size: int = 32,
             seed: int = 0, progress: bool = True) -> EvalReport:
    """Evaluate ``model`` on ``split``: ELBO terms, log p(x) with k importance samples, active units. A model
    without a bound on log p(x) gets its reconstruction term and active units only; a language model, its exact
    log p(x). Text gets figures per token and perplexities too."""
    if len(split) == 0:
        raise ValueError("cannot evaluate on an empty split")
    if split.data_shape != model.data_shape:
        raise ValueError(f"the data's shape {split.data_shape} differs from the model's {model.data_shape}")
    if not isinstance(model, Latent):
        return _language_model_report(model, split, time.perf_counter())
    bounded, classifies = isinstance(model, Density), isinstance(model, Classifies)
    start = time.perf_counter()
    model.eval()
    tokens = split.elements if split.kind == "tokens" and isinstance(split, SequenceSplit) else None
    dims = split.elements / len(split) if isinstance(split, SequenceSplit) else math.prod(split.data_shape)
    sums = {"elbo": 0.0, "reconstruction": 0.0, "kl": 0.0, "log_likelihood": 0.0}
    kl_dims: torch.Tensor | None = None
    means = []
    wrong = labelled = 0  # a classifier's mistakes on the labelled examples, and how many those are
    device = model.device
    with torch.random.fork_rng(devices=fork_rng_devices(device)):
        torch.manual_seed(seed)
        bar = progress_bar(len(split), f"log p(x), k={k}" if bounded else "evaluating", "item", progress)
        for x, y in split.labelled_batches(batch_size, shuffle=False):  # one pass: ELBO terms, means, log p(x)
            x, y = x.to(device), None if y is None else y.to(device)
            dists = given(model, y)  # a conditional model's figures are of log p(x|y)
            means.append(dists.encode(x).mean)
            if not bounded:
                sums["reconstruction"] += dists.decode(means[-1]).log_prob(x).sum().item()
            else:
                t = objectives.elbo_terms(dists, x)
                sums["elbo"] += t.elbo.sum().item()
                sums["reconstruction"] += t.reconstruction.sum().item()
                sums["kl"] += t.kl.sum().item()
                if t.kl_per_dim is not None:
                    kl_dims = t.kl_per_dim.sum(0) if kl_dims is None else kl_dims + t.kl_per_dim.sum(0)
                sums["log_likelihood"] += objectives.log_likelihood(dists, x, k).sum().item()
            if classifies and y is not None:  # an unknown label (-1) is neither right nor wrong
                known = y >= 0
                wrong += int(((model.classify(x).argmax(1) != y) & known).sum())
                labelled += int(known.sum())
            bar.update(len(x))
        bar.close()
    error = wrong / labelled if labelled else None
    mean_z = torch.cat(means).flatten(1)
    active = int((mean_z.var(0) > ACTIVE_UNIT_THRESHOLD).sum()) if len(mean_z) > 1 else 0
    m = {key: value / len(split) for key, value in sums.items()}
    if not bounded:
        return EvalReport(examples=len(split), k=0, elbo=None, reconstruction=m["reconstruction"], kl=None,
                          log_likelihood=None, nll=None, bits_per_dim=None, elbo_bits_per_dim=None, kl_per_dim=[],
                          active_units=active, seconds=time.perf_counter() - start, classification_error=error)
    report = EvalReport(
        examples=len(split), k=k, elbo=m["elbo"], reconstruction=m["reconstruction"], kl=m["kl"],
        log_likelihood=m["log_likelihood"], nll=-m["log_likelihood"],
        bits_per_dim=-m["log_likelihood"] / (dims * math.log(2)),
        elbo_bits_per_dim=-m["elbo"] / (dims * math.log(2)),
        kl_per_dim=[] if kl_dims is None else (kl_dims / len(split)).tolist(),
        active_units=active, seconds=time.perf_counter() - start, classification_error=error)
    if tokens is not None:
        report.tokens, report.nll_per_token = tokens, -sums["log_likelihood"] / tokens
        report.perplexity, report.elbo_perplexity = math.exp(report.nll_per_token), math.exp(-sums["elbo"] / tokens)
    return report


def _language_model_report(model: Density, split: Split, start: float) -> EvalReport:
    """A language model's exact test figures: its ELBO is log p(x), with no KL and no latent units."""
    assert isinstance(split, SequenceSplit), "a language model's data are sentences"
    log_p = mean_log_likelihood(model, split)["log_likelihood"]
    tokens = split.elements
    nll_per_token = -log_p * len(split) / tokens
    return EvalReport(examples=len(split), k=0, elbo=log_p, reconstruction=log_p, kl=0.0, log_likelihood=log_p,
                      nll=-log_p, bits_per_dim=nll_per_token / math.log(2),
                      elbo_bits_per_dim=nll_per_token / math.log(2),
                      kl_per_dim=[], active_units=0, seconds=time.perf_counter() - start, tokens=tokens,
                      nll_per_token=nll_per_token, perplexity=math.exp(nll_per_token),
                      elbo_perplexity=math.exp(nll_per_token))


def probe_error(train_features: torch.Tensor, train_labels: torch.Tensor, test_features: torch.Tensor,
                test_labels: torch.Tensor, weight_decay: float = 1e-3) -> float:
    """A linear probe: multinomial logistic regression (L-BFGS, L2 penalty) on standardized features, fitted to
    the labelled training rows; its error on the test rows."""
    mean, std = train_features.mean(0), train_features.std(0).clamp(min=1e-6)
    a, b = (train_features - mean) / std, (test_features - mean) / std
    classes = int(max(train_labels.max(), test_labels.max())) + 1
    weights = torch.zeros(a.shape[1], classes, requires_grad=True)
    bias = torch.zeros(classes, requires_grad=True)
    optimizer = torch.optim.LBFGS([weights, bias], max_iter=500, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(a @ weights + bias, train_labels) + weight_decay * weights.pow(2).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        optimizer.step(closure)
    with torch.no_grad():
        return (torch.argmax(b @ weights + bias, 1) != test_labels).float().mean().item()


@keeps_mode
@torch.no_grad()
def latent_probe_error(model: LatentVariableModel, train: Split, test: Split, per_class: int, seed: int = 0) -> float:
    """Few-label classification from the latent codes: a linear probe (:func:`probe_error`) on the posterior means
    of ``per_class`` labelled training examples of each class (chosen by seed), tested on every test example."""
    from vaekit.data import keep_labels

    labelled = keep_labels(train, per_class, seed)
    assert labelled.y is not None and test.y is not None
    chosen = labelled.subset(torch.nonzero(labelled.y >= 0).squeeze(1))
    model.eval()

    def codes(split: Split) -> torch.Tensor:
        return torch.cat([model.encode(x).mean for x in split.batches(500, shuffle=False)])

    assert chosen.y is not None
    return probe_error(codes(chosen), chosen.y, codes(test), test.y)
