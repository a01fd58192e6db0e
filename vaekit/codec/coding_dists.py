"""The coding distributions, computed identically by the encoder and the decoder.

An entropy coder decodes only if both ends use bit-identical probabilities. Network outputs differ
in their last bits between processes and machines (CompressAI issue 279) unless computed as in
:mod:`vaekit.codec.exact`; every parameter is then snapped to a fixed grid, and all later arithmetic is
elementwise float64 in the fixed operations of :mod:`vaekit.codec.portable_math`. A difference that survives
(a value within a float64 rounding of a grid boundary) is caught by the container's content checksum.
"""
from __future__ import annotations

import constriction
import numpy as np
import torch
from torch.distributions import Bernoulli, Distribution, Independent, Normal

from vaekit.codec import portable_math as pm
from vaekit.codec.container import CodecError
from vaekit.codec.digits import Masses
from vaekit.contract import Latent, given
from vaekit.data.levels import level_values
from vaekit.distributions.discretized_logistic import DiscretizedLogisticMixture
from vaekit.models.base import LatentVariableModel

GRID = 2.0**-10


def snap(t: torch.Tensor) -> torch.Tensor:
    """``t`` in float64, rounded to the grid."""
    return torch.round(t.detach().double() / GRID) * GRID


def _factors(d: Distribution) -> Distribution:
    return d.base_dist if isinstance(d, Independent) else d


def snap_scale(scale: torch.Tensor) -> torch.Tensor:
    """A positive scale, snapped on the log scale (the grid's relative precision at every size)."""
    return pm.exp(snap(pm.log(scale)))


def is_diagonal_gaussian(d: Distribution) -> bool:
    return isinstance(_factors(d), Normal) and len(d.event_shape) == 1


def diagonal_gaussian(d: Distribution) -> tuple[torch.Tensor, torch.Tensor]:
    """Snapped (loc, scale) of a diagonal Gaussian over a latent vector."""
    base = _factors(d)
    assert isinstance(base, Normal)
    loc, scale = torch.broadcast_tensors(base.loc, base.scale)
    return snap(loc), snap_scale(scale)


def prior_reference(prior: Distribution) -> tuple[torch.Tensor, torch.Tensor]:
    """Snapped per-dimension (loc, scale) of the prior where it is a diagonal Gaussian; otherwise its mean and
    standard deviation (a mixture's), or its mean and 1 where torch has no standard deviation for it (a chain)."""
    if is_diagonal_gaussian(prior):
        return diagonal_gaussian(prior)
    loc = prior.mean.detach()
    try:
        scale = prior.stddev.detach()
    except NotImplementedError:
        scale = torch.ones_like(loc)
    return snap(loc), snap_scale(scale)


def likelihood_masses(likelihood: Distribution) -> tuple[int, Masses]:
    """(values per data element, masses) of p(x|z) for :class:`TwoDigits`; rows are the data elements in C order."""
    base = _factors(likelihood)
    if isinstance(base, Bernoulli):
        p0 = pm.sigmoid(-snap(base.logits)).reshape(-1, 1)  # P(x = 0)

        def bernoulli_cdf(edge: torch.Tensor) -> torch.Tensor:
            return torch.where(edge <= 0, 0.0, torch.where(edge == 1, p0, 1.0))

        return 2, _differences(bernoulli_cdf)
    if isinstance(base, DiscretizedLogisticMixture):
        k = base.loc.shape[-1]
        logits, loc, log_scale = (snap(t).reshape(-1, k) for t in (base.logits, base.loc, base.log_scale))
        snapped = DiscretizedLogisticMixture(logits, loc, log_scale, bins=base.bins)
        return base.bins + 1, _differences(snapped.edge_cdf)
    raise CodecError(f"lossless coding needs a discrete p(x|z) (bernoulli or logistic-mixture); "
                     f"this model's is {type(base).__name__}, a density on continuous values")


def values_of(symbols: np.ndarray, levels: int) -> torch.Tensor:
    """The data values of symbols in [0, levels): level i's 8-bit value (:func:`vaekit.data.levels.level_values`)
    over 255, so 2 levels are 0 and 1, and 256 every multiple of 1/255."""
    return torch.from_numpy(level_values(levels)[symbols]).float() / 255.0  # in float32, as the loaders divide


def symbols_of(x: torch.Tensor, levels: int) -> np.ndarray:
    """The symbol of each value in [0, 1]: its level; refused unless every value is one of :func:`values_of`."""
    pixels = x.double().numpy() * 255
    symbol_of = np.full(256, -1, dtype=np.int32)
    symbol_of[level_values(levels)] = np.arange(levels, dtype=np.int32)
    nearest = np.round(pixels).astype(np.int64).clip(0, 255)
    symbols = symbol_of[nearest]
    if not (np.abs(pixels - nearest).max(initial=0) <= 1e-3 and (symbols >= 0).all()):
        kind = {2: "binary data (0 or 1)", 256: "8-bit data (multiples of 1/255)"}.get(
            levels, f"8-bit data on the {levels} grey levels it was trained on")
        raise CodecError(f"lossless coding with this model needs {kind}; the input has other values"
                         + (": binarize it, or use a model with an 8-bit likelihood" if levels == 2 else ""))
    return symbols


def _differences(cdf: Masses) -> Masses:
    return lambda edge: torch.diff(cdf(edge), dim=-1).clamp_(min=0.0)


def given_rows(model: LatentVariableModel, labels: np.ndarray | None, rows: slice) -> Latent:
    """The distributions for the items ``rows``: given their labels for a conditional model, else the model's."""
    return given(model, None if labels is None else torch.from_numpy(labels[rows]).long())


def label_code(classes: int) -> constriction.stream.model.Uniform:
    """A conditional model's labels are coded uniformly over its classes: log2(classes) bits each."""
    return constriction.stream.model.Uniform(classes)
