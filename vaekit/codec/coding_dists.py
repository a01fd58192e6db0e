"""The coding distributions, computed identically by the encoder and the decoder.

An entropy coder decodes only if both ends use bit-identical probabilities. Network outputs can differ
in their last bits between processes and machines (CompressAI issue 279), so every parameter is first
snapped to a fixed grid and all later arithmetic is elementwise float64. A difference that survives
(a value within float noise of a grid boundary) is caught by the container's content checksum.
"""
from __future__ import annotations

import numpy as np
import torch
from torch.distributions import Bernoulli, Distribution, Independent, Normal

from vaekit.codec.container import CodecError
from vaekit.distributions.discretized_logistic import DiscretizedLogisticMixture

GRID = 2.0**-10
_TABLE_ROWS = 1 << 12  # 8-bit tables are built in chunks of this many data elements


def snap(t: torch.Tensor) -> torch.Tensor:
    """``t`` in float64, rounded to the grid."""
    return torch.round(t.detach().double() / GRID) * GRID


def _factors(d: Distribution) -> Distribution:
    return d.base_dist if isinstance(d, Independent) else d


def diagonal_gaussian(d: Distribution, what: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Snapped (loc, scale) of a diagonal Gaussian over a latent vector."""
    base = _factors(d)
    if not isinstance(base, Normal) or len(d.event_shape) != 1:
        raise CodecError(f"coding needs a diagonal Gaussian {what}; this model gives {type(base).__name__}")
    loc, scale = torch.broadcast_tensors(base.loc, base.scale)
    return snap(loc), torch.exp(snap(torch.log(scale)))


def alphabet_size(likelihood: Distribution) -> int:
    """How many values each data element takes under p(x|z): 2 (binary) or 256 (8-bit)."""
    base = _factors(likelihood)
    if isinstance(base, Bernoulli):
        return 2
    if isinstance(base, DiscretizedLogisticMixture):
        return 256
    raise CodecError(f"lossless coding needs a discrete p(x|z) (bernoulli or logistic-mixture); "
                     f"this model's is {type(base).__name__}, a density on continuous values")


def symbol_probabilities(likelihood: Distribution) -> np.ndarray:
    """p(x|z) as a table (data elements in C order, alphabet) of probabilities (float64 binary, float32 8-bit)."""
    base = _factors(likelihood)
    if isinstance(base, Bernoulli):
        p1 = torch.sigmoid(snap(base.logits)).reshape(-1, 1)
        return torch.cat([1.0 - p1, p1], dim=1).numpy()
    if isinstance(base, DiscretizedLogisticMixture):
        k = base.loc.shape[-1]
        logits, loc, log_scale = (snap(t).float().reshape(-1, k) for t in (base.logits, base.loc, base.log_scale))
        rows = [DiscretizedLogisticMixture(logits[i:i + _TABLE_ROWS], loc[i:i + _TABLE_ROWS],
                                           log_scale[i:i + _TABLE_ROWS]).bin_masses()
                for i in range(0, len(loc), _TABLE_ROWS)]  # the grid's values are exact in float32
        return torch.cat(rows).numpy()
    alphabet_size(likelihood)  # raises the explanation
    raise AssertionError("unreachable")
