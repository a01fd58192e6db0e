"""The conditional VAE of Sohn, Lee & Yan 2015, "Learning Structured Output Representation using Deep
Conditional Generative Models", NeurIPS, for generation per class.

Generative story given a label c:   z ~ p(z) = N(0, I),   x ~ p(x|z, c) = likelihood(decoder([z, onehot(c)])).
Inference model:                     q(z|x, c) = N(mu(x, c), diag sigma(x, c)^2).

Objective: the conditional ELBO (Sohn et al. eq. 4) of log p(x|c),
    L(x; c) = E_q(z|x,c)[log p(x|z, c)] - KL(q(z|x, c) || p(z)),
with the VAE's beta, warm-up and free bits. Sohn et al. also learn a prior network p(z|c); with a label
as the only input, this model keeps p(z) = N(0, I), as Kingma et al. 2014's M2 does, so that the label
carries the class and z the style, and samples per class come from one prior.

The contract's three distributions exist for given labels: ``model.given(c)`` (c integers (B,) or
rows of class probabilities (B, C), which interpolation uses). ``encode`` and ``decode`` without labels refuse.
"""
from __future__ import annotations

from typing import ClassVar, Literal

import torch
import torch.nn.functional as F
from torch.distributions import Distribution

from vaekit.contract import UNLABELLED
from vaekit.model_fields import FreeBits, Labelled, LatentCode, Networks, Observed
from vaekit.models.registry import register
from vaekit.models.vae import VAE


class Given:
    """The conditional VAE's distributions for the labels (one-hot or probability rows) ``onehot`` (B, C)."""

    def __init__(self, model: "ConditionalVAE", onehot: torch.Tensor) -> None:
        self.model, self.onehot = model, onehot

    def encode(self, x: torch.Tensor) -> Distribution:
        """q(z|x, c)."""
        return self.model.encode_given(x, self.onehot)

    def decode(self, z: torch.Tensor) -> Distribution:
        """p(x|z, c), z (B, latent) or (k, B, latent): each datum's label broadcasts over the k samples."""
        labels = self.onehot.expand(*z.shape[:-1], self.onehot.shape[-1])
        return VAE.decode(self.model, torch.cat([z, labels], dim=-1))

    def prior(self) -> Distribution:
        return self.model.prior()


class ConditionalVAEConfig(Networks, Observed, LatentCode, FreeBits, Labelled):

    name: Literal["conditional-vae"] = "conditional-vae"


@register("conditional-vae", ConditionalVAEConfig)
class ConditionalVAE(VAE):
    """``ConditionalVAE(data_shape=(1, 28, 28), num_classes=10)``; train on labelled data, sample per class."""

    data_fills = (*VAE.data_fills, "num_classes")

    @property
    def num_classes(self) -> int:
        assert self.config.num_classes is not None
        return self.config.num_classes

    def label_features(self) -> int:
        return self.num_classes

    every_label: ClassVar[bool] = True  # q(z|x, c) and p(x|z, c) read each example's label; M2 infers the unknown

    def check_label_values(self, y: torch.Tensor) -> None:
        """Refuse unknown labels too (Sohn et al. 2015 train on labelled pairs)."""
        super().check_label_values(y)
        unknown = int((y == UNLABELLED).sum())
        if unknown and self.every_label:
            raise ValueError(f"conditional-vae reads every example's label, but {unknown} of {len(y)} have none (-1: a "
                             "file outside the class sub-folders, or -1 in an .npz): label them, or train m2, which "
                             "learns from partly labelled data")

    def given(self, y: torch.Tensor | None) -> Given:
        """The distributions for labels y: integers in 0..C-1 (B,), or probability rows (B, C)."""
        if y is None:
            raise ValueError("conditional-vae needs the labels of its data: give y (class indices 0.."
                             f"{self.num_classes - 1}), e.g. model.given(y).encode(x) or model.sample(n, y=3)")
        y = torch.as_tensor(y, device=self.device)
        if y.is_floating_point() and y.dim() == 2 and y.shape[1] == self.num_classes:
            if (y < 0).any() or not torch.allclose(y.sum(1), torch.ones(len(y), device=y.device), atol=1e-4):
                raise ValueError("label probabilities must be non-negative rows summing to 1")
            return Given(self, y.float())
        if y.is_floating_point() or y.dim() != 1:
            raise ValueError(f"labels must be integer class indices of shape (B,) or probabilities (B, "
                             f"{self.num_classes}), got {y.dtype} {tuple(y.shape)}")
        if len(y) and (y.min() < 0 or y.max() >= self.num_classes):
            raise ValueError(f"labels must lie in 0..{self.num_classes - 1}, got values from {int(y.min())} "
                             f"to {int(y.max())}")
        return Given(self, F.one_hot(y.long(), self.num_classes).float())

    def encode_given(self, x: torch.Tensor, onehot: torch.Tensor) -> Distribution:
        """q(z|x, c) for one-hot (or probability) rows c."""
        return self.posterior(self.encoder(x, onehot))

    def encode(self, x: torch.Tensor) -> Distribution:
        return self.given(None).encode(x)

    def decode(self, z: torch.Tensor) -> Distribution:
        return self.given(None).decode(z)
