"""A VAE with several stochastic layers, as in Burda, Grosse & Salakhutdinov 2015, arXiv:1509.00519, section 5
(two layers on MNIST: x - 200 - 200 - z1 (100) - 100 - 100 - z2 (50)).

Generative model, top-down:   p(z_L) = N(0, I),  p(z_l | z_{l+1}) = N(mu_l(z_{l+1}), sigma_l(z_{l+1})^2),
                              p(x | z_1) the data likelihood.
Inference model, bottom-up:   q(z_1 | x),  q(z_l | z_{l-1}),  each a diagonal Gaussian from an MLP.

z is the layers concatenated, bottom first (:class:`GaussianChain`). Training maximizes the k-sample bound
of Burda et al. (eq. 8) with k = ``importance_samples``; at k = 1 it is the ELBO with a one-sample KL,
the paper's "VAE" column, and at k > 1 the "IWAE" column. ``config.layers`` lists each stochastic layer,
bottom first: its latent size and the MLP widths between it and the layer below.
"""
from __future__ import annotations

from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from pydantic import Field, model_validator
from torch import nn
from torch.distributions import Distribution

from vaekit import objectives
from vaekit.config import ModelConfig
from vaekit.contract import Batch, Loss
from vaekit.distributions import make_likelihood
from vaekit.distributions.gaussian_chain import GaussianChain
from vaekit.model_fields import LayerConfig, Networks, Observed
from vaekit.models.base import LatentVariableModel, as_batch
from vaekit.models.registry import register
from vaekit.nn import ACTIVATIONS, data_decoder, data_encoder, mlp

_MIN_SCALE = 1e-5
Params = tuple[torch.Tensor, torch.Tensor]


def gaussian_params(h: torch.Tensor) -> Params:
    """(loc, scale) from a network output that holds both; scale = softplus(.) + a floor."""
    loc, pre_scale = h.chunk(2, dim=-1)
    return loc, F.softplus(pre_scale) + _MIN_SCALE


class HierarchicalVAEConfig(Networks, Observed):
    """Burda et al. 2015's two-stochastic-layer architecture: layers [{latent: 100, hidden: [200, 200]},
    {latent: 50, hidden: [100, 100]}], tanh units."""

    name: Literal["hierarchical-vae"] = "hierarchical-vae"
    layers: list[LayerConfig] = Field(min_length=2)  # the stochastic layers, bottom (next to x) first
    importance_samples: int = Field(1, ge=1)  # k of the training bound (eq. 8)
    beta: float = Field(1.0, ge=0.0)  # weight of the KL terms; 1 is the bound

    @model_validator(mode="before")
    @classmethod
    def _needs_layers(cls, tree: Any) -> Any:
        if isinstance(tree, dict) and len(tree.get("layers") or []) < 2:
            raise ValueError(f"{tree.get('name')} needs layers, two or more stochastic layers bottom first, e.g. "
                             "[{latent: 100, hidden: [200, 200]}, {latent: 50, hidden: [100, 100]}]")
        return tree


@register("hierarchical-vae", HierarchicalVAEConfig)
class HierarchicalVAE(LatentVariableModel):
    """``HierarchicalVAE(data_shape=(1, 28, 28), layers=[{"latent": 100, "hidden": [200, 200]},
    {"latent": 50, "hidden": [100, 100]}], importance_samples=1)``."""

    bottom_up_from_features: ClassVar[bool] = False  # layer l reads z_{l-1} (here) or the features below (Ladder)

    def __init__(self, config: ModelConfig | None = None, **options: object) -> None:
        super().__init__()
        config = self._configure(config, options)
        sizes, hidden = [layer.latent for layer in config.layers], [layer.hidden for layer in config.layers]
        self.sizes = sizes
        self.likelihood = make_likelihood(config.likelihood, self.data_shape, config.mixture_components, config.levels)
        act = ACTIVATIONS[config.activation]
        # bottom-up: features of layer l (from x, or from what lies below), then the Gaussian's parameters
        inputs = [hidden[i - 1][-1] if self.bottom_up_from_features else sizes[i - 1] for i in range(1, len(sizes))]
        self.features = nn.ModuleList(
            [nn.Sequential(data_encoder(config, hidden[0][:-1], hidden[0][-1]), act())]
            + [nn.Sequential(mlp(n, h[:-1], h[-1], config.activation), act()) for n, h in zip(inputs, hidden[1:])])
        self.heads = nn.ModuleList(nn.Linear(h[-1], 2 * s) for h, s in zip(hidden, sizes))
        # top-down: p(z_l | z_{l+1}) through layer l+1's widths reversed, and p(x | z_1)
        self.top_down = nn.ModuleList(mlp(sizes[i + 1], hidden[i + 1][::-1], 2 * sizes[i], config.activation)
                                      for i in range(len(sizes) - 1))
        self.decoder = data_decoder(config, sizes[0], hidden[0][::-1], self.likelihood.params_per_element)
        self.top_loc: torch.Tensor
        self.top_scale: torch.Tensor
        self.register_buffer("top_loc", torch.zeros(sizes[-1]))
        self.register_buffer("top_scale", torch.ones(sizes[-1]))

    def prior_params(self, layer: int, above: torch.Tensor | None) -> Params:
        """(loc, scale) of p(z_layer | z_{layer+1}); N(0, I) for the top layer."""
        if layer == len(self.sizes) - 1:
            return self.top_loc, self.top_scale
        assert above is not None
        return gaussian_params(self.top_down[layer](above))

    @property
    def latent_size(self) -> int:
        """Length of z, all layers' codes side by side."""
        return sum(layer.latent for layer in self.config.layers)

    def prior(self) -> Distribution:
        """p(z) = p(z_L) prod_l p(z_l | z_{l+1}), drawn top-down."""
        top = len(self.sizes) - 1
        return GaussianChain(self.sizes, range(top, -1, -1),
                             lambda i, z: self.prior_params(i, z[i + 1] if i < top else None))

    def encode(self, x: torch.Tensor) -> Distribution:
        """q(z|x) = q(z_1|x) prod_l q(z_l|z_{l-1}), drawn bottom-up."""
        bottom = self.features[0](x)

        def conditional(i: int, z: list[torch.Tensor | None]) -> Params:
            below = self.features[i](z[i - 1]) if i > 0 else bottom
            return gaussian_params(self.heads[i](below))

        return GaussianChain(self.sizes, range(len(self.sizes)), conditional, torch.Size([len(x)]))

    def decode(self, z: torch.Tensor) -> Distribution:
        """p(x | z_1): only the bottom layer reaches the data."""
        z1 = z[..., : self.sizes[0]]
        params = self.decoder(z1).view(*z1.shape[:-1], self.likelihood.params_per_element, *self.data_shape)
        return self.likelihood(params)

    def loss(self, batch: Batch | torch.Tensor) -> Loss:
        """The negative k-sample bound (the negative ELBO at k = 1), averaged over the batch."""
        batch = as_batch(batch)
        x, kl_weight = batch.x, batch.kl_weight
        bound, elbo = objectives.importance_weighted_bound(self, x, self.config.importance_samples,
                                                           self.config.beta * kl_weight)
        return Loss(-bound.mean(), {"bound": bound.mean().detach(), "elbo": elbo.mean().detach()})
