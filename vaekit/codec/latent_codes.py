"""How a distribution over z codes the bucket indices of a latent, for bits-back coding with any prior.

A distribution codes the indices (B, D) in steps, each a set of dimensions whose bucket masses depend only
on the steps before it: the decoder pops the steps in order and can compute every table the encoder
pushed (in reverse). The encoder, knowing all of z, computes each step's table from the same earlier
values, so both ends evaluate the same networks on the same inputs.

* a diagonal Gaussian: one step, all dimensions (the VAE's posterior and prior);
* a :class:`GaussianChain`: one step per layer, in the chain's order (hierarchical and ladder models;
  hierarchical latents by bits-back as in Bit-Swap, Kingma, Abbeel & Ho 2019, here with fixed buckets);
* a mixture of diagonal Gaussians: one step per dimension, p(z_d | z_<d) the mixture whose weights are the
  components' posterior given the earlier dimensions (the Gaussian-mixture prior, the VampPrior);
* the prior whose own quantiles cut the buckets: uniform, one symbol per dimension;
* any other distribution with a mean and a standard deviation (a flow posterior): the diagonal Gaussian with those
  moments stands in for it. Bits-back works with any q, so the round trip stays exact; the file costs
  the ELBO of the stand-in rather than the flow's.
"""
from __future__ import annotations

import constriction
import numpy as np
import torch
from torch.distributions import Distribution, Independent, MixtureSameFamily

from vaekit.codec import portable_math as pm
from vaekit.codec.coding_dists import diagonal_gaussian, is_diagonal_gaussian, snap, snap_scale
from vaekit.codec.container import CodecError
from vaekit.codec.digits import Masses
from vaekit.codec.latent_buckets import LatentBuckets, normal_bucket_masses
from vaekit.distributions.gaussian_chain import GaussianChain

_ROWS_PER_PASS = 64  # mixture tables: rows x components x edges at a time


class LatentCode:
    """Push and pop bucket indices (B, D) under one distribution, step by step."""

    def __init__(self, buckets: LatentBuckets, steps: list[slice]) -> None:
        self.buckets, self.steps = buckets, steps

    def masses(self, step: int, z: torch.Tensor) -> Masses:
        """The table of ``step`` given the bucket centres z (B, D), read only at earlier steps' dimensions."""
        raise NotImplementedError

    def pop(self, coder: constriction.stream.stack.AnsCoder, batch: int) -> np.ndarray:
        index = np.zeros((batch, self.buckets.dims), dtype=np.int32)
        z = torch.zeros(batch, self.buckets.dims)
        for step, dims in enumerate(self.steps):
            index[:, dims] = self.buckets.digits.decode(coder, self.masses(step, z)).reshape(batch, -1)
            z[:, dims] = self.buckets.centres(index[:, dims], dims)
        return index

    def push(self, coder: constriction.stream.stack.AnsCoder, index: np.ndarray) -> None:
        z = self.buckets.centres(index)
        for step in reversed(range(len(self.steps))):
            self.buckets.digits.encode(coder, index[:, self.steps[step]].reshape(-1), self.masses(step, z))


class UniformCode(LatentCode):
    """The distribution whose quantiles cut the buckets: every bucket has mass 2^-precision."""

    def __init__(self, buckets: LatentBuckets) -> None:
        super().__init__(buckets, [slice(None)])
        self.uniform = constriction.stream.model.Uniform(buckets.size)

    def pop(self, coder: constriction.stream.stack.AnsCoder, batch: int) -> np.ndarray:
        return coder.decode(self.uniform, batch * self.buckets.dims).reshape(batch, -1)

    def push(self, coder: constriction.stream.stack.AnsCoder, index: np.ndarray) -> None:
        coder.encode_reverse(index.reshape(-1), self.uniform)


class DiagonalGaussianCode(LatentCode):
    def __init__(self, buckets: LatentBuckets, loc: torch.Tensor, scale: torch.Tensor, batch: int) -> None:
        super().__init__(buckets, [slice(None)])
        self.loc, self.scale = loc.expand(batch, -1), scale.expand(batch, -1)

    def masses(self, step: int, z: torch.Tensor) -> Masses:
        return self.buckets.gaussian_masses(self.loc, self.scale)


class ChainCode(LatentCode):
    def __init__(self, buckets: LatentBuckets, chain: GaussianChain) -> None:
        starts = np.cumsum([0, *chain.sizes])
        self.groups = [slice(int(starts[i]), int(starts[i + 1])) for i in range(len(chain.sizes))]
        super().__init__(buckets, [self.groups[layer] for layer in chain.order])
        self.chain = chain

    def masses(self, step: int, z: torch.Tensor) -> Masses:
        layer = self.chain.order[step]
        earlier = set(self.chain.order[:step])
        groups = [z[:, g] if i in earlier else None for i, g in enumerate(self.groups)]
        loc, scale = self.chain.conditional(layer, groups)
        shape = (len(z), self.chain.sizes[layer])
        return self.buckets.gaussian_masses(snap(loc).expand(shape), snap_scale(scale).expand(shape), self.steps[step])


class MixtureCode(LatentCode):
    def __init__(self, buckets: LatentBuckets, mixture: MixtureSameFamily) -> None:
        super().__init__(buckets, [slice(d, d + 1) for d in range(buckets.dims)])
        components = mixture.component_distribution
        self.loc, self.scale = diagonal_gaussian(components)  # (K, D)
        self.log_weights = pm.log_softmax(snap(mixture.mixture_distribution.logits), -1)  # (K,)
        self.log_scale = pm.log(self.scale)

    def masses(self, step: int, z: torch.Tensor) -> Masses:
        standard = (z[:, None, :step].double() - self.loc[:, :step]) / self.scale[:, :step]  # (B, K, step)
        earlier = pm.ordered_sum(-0.5 * (standard * standard) - self.log_scale[:, :step], -1)  # log N, less a constant
        weights = pm.softmax(self.log_weights + earlier, -1)  # (B, K): the components given z_<d
        loc, scale, edges = self.loc[:, step], self.scale[:, step], self.buckets.edges[step]

        def masses(edge: torch.Tensor) -> torch.Tensor:
            out = []
            for rows in range(0, len(weights), _ROWS_PER_PASS):
                w = weights[rows:rows + _ROWS_PER_PASS]
                e = edges[edge if len(edge) == 1 else edge[rows:rows + _ROWS_PER_PASS]]  # (rows or 1, E)
                t = (e[:, None, :] - loc[None, :, None]) / scale[None, :, None]  # (rows, K, E)
                out.append(pm.ordered_sum(w[:, :, None] * normal_bucket_masses(t), 1))
            return torch.cat(out)

        return masses


def latent_code(d: Distribution, buckets: LatentBuckets, batch: int, what: str) -> LatentCode:
    """The code of ``d`` (a posterior with ``batch`` rows, or the prior) over ``buckets``."""
    if is_diagonal_gaussian(d):
        return DiagonalGaussianCode(buckets, *diagonal_gaussian(d), batch)
    if isinstance(d, GaussianChain):
        return ChainCode(buckets, d)
    if isinstance(d, MixtureSameFamily) and isinstance(d.component_distribution, Independent) \
            and is_diagonal_gaussian(d.component_distribution):
        return MixtureCode(buckets, d)
    try:
        return DiagonalGaussianCode(buckets, snap(d.mean.detach()), snap_scale(d.stddev.detach()), batch)
    except NotImplementedError:
        pass
    raise CodecError(f"coding needs a diagonal Gaussian, a Gaussian chain or a mixture of diagonal Gaussians "
                     f"as {what}; this model gives {type(d).__name__}")
