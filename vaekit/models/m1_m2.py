"""M1+M2 of Kingma, Rezende, Mohamed & Welling 2014, "Semi-supervised Learning with Deep Generative Models",
arXiv:1406.5298, section 3.2 "stacked generative semi-supervised model": M2 trained on the latent codes z1 of an
M1 VAE instead of on the data.

Generative:  y ~ Cat(1/C),  z2 ~ N(0, I),  z1 ~ p(z1|y, z2) (Gaussian, M2's decoder),  x ~ p(x|z1) (M1's decoder).
Inference:   q(z1|x) (M1's encoder), then M2's q(y|z1) and q(z2|z1, y).

Kingma et al. train M1 first and then M2 on samples z1 ~ q(z1|x), drawn afresh at every pass, with the latent
dimensions M1 left unused dropped: those whose posterior mean varies over the training set by a standard deviation
under 0.1 (Burda et al.'s inactive units). ``m1: path`` does that: a run loads the M1 (or any VAE of the same
latent size) saved there, freezes it, keeps its active dimensions (``active``, filled in) and trains M2 alone.
Without ``m1`` both train in one run: each step samples z1 ~ q(z1|x) for M1's ELBO and hands the same draw, with
its gradient stopped, to M2's objective (eq. 9), so M2 sees codes of a VAE still learning.

The model's own distributions (``encode``, ``decode``, ``prior``, and so evaluation's ELBO and log p(x), sampling
and the codec) are M1's VAE with its N(0, I) prior; ``classify`` is M2's q(y|z1) at the posterior mean of z1.
"""
from __future__ import annotations

from typing import Literal

import torch

from vaekit import objectives
from vaekit.config import ModelConfig
from vaekit.contract import Batch, Latent, Loss
from vaekit.data import Split
from vaekit.limits import rows_within
from vaekit.model_fields import Labelled, LatentCode, Networks, Observed
from vaekit.models.base import as_batch
from vaekit.models.m2 import M2, M2Config
from vaekit.models.registry import register
from vaekit.models.vae import VAE

INACTIVE_STD = 0.1  # Kingma et al.'s code drops latent dimensions whose posterior mean has a smaller sd


class M1M2Config(Networks, Observed, LatentCode, Labelled):
    """Kingma et al. 2014 (sec. 3.2): M2 on the codes of a pretrained M1 (600-600 hidden units, 50 latents)."""

    name: Literal["m1-m2"] = "m1-m2"
    top: M2Config | None = None  # the m2 on M1's codes (its data_shape, likelihood, classes filled in)
    m1: str | None = None  # a saved M1's directory: M2 trains on its codes, M1 frozen; None: both train here
    active: list[int] | None = None  # the latent dimensions M2 reads (None: all); from m1, filled in by the run


@register("m1-m2", M1M2Config)
class M1M2(VAE):
    """``M1M2(data_shape=(1, 28, 28), num_classes=10, latent_dim=50, hidden=[600, 600],
    top=M2Config(latent_dim=50, hidden=[500], classifier_weight=50))``."""

    data_fills = (*VAE.data_fills, "num_classes")

    def __init__(self, config: ModelConfig | None = None, **options: object) -> None:
        super().__init__(config, **options)
        self.top = self._top()

    def _top(self) -> M2:
        top = self.config.top or M2Config(latent_dim=50, hidden=[500], activation=self.config.activation)
        width = self.config.latent_dim if self.config.active is None else len(self.config.active)
        return M2(top.model_copy(update={"data_shape": (width,), "likelihood": "gaussian", "architecture": "mlp",
                                         "num_classes": self.config.num_classes}))

    def saved_part(self) -> str | None:
        return self.config.m1

    @torch.no_grad()
    def adopt(self, part: object, train: Split) -> None:
        """Take the saved M1's encoder and decoder, frozen, and keep the latent dimensions whose posterior mean has
        a standard deviation of at least 0.1 over ``train``; M2 is rebuilt for them."""
        if not isinstance(part, Latent) or getattr(part, "data_shape", None) != self.data_shape:
            raise ValueError(f"m1: {self.config.m1} must be a model with latent variables on data of shape "
                             f"{self.data_shape}, like this model's")
        for name in ("encoder", "decoder"):
            try:
                getattr(self, name).load_state_dict(getattr(part, name).state_dict())
            except (AttributeError, RuntimeError):
                raise ValueError(f"m1: {self.config.m1} has another {name} than this model's (latent_dim "
                                 f"{self.config.latent_dim}, hidden {self.config.hidden}): make them the same"
                                 ) from None
            getattr(self, name).requires_grad_(False)
        rows = rows_within(1000, train.data_shape)
        means = torch.cat([self.encode(x.to(self.device)).mean for x in train.batches(rows, shuffle=False)])
        active = torch.nonzero(means.std(0) >= INACTIVE_STD).flatten().tolist()
        if not active:
            raise ValueError(f"m1: {self.config.m1} uses none of its latent dimensions (every posterior mean varies "
                             f"by a standard deviation under {INACTIVE_STD}): train it longer")
        self.config = self.config.model_copy(update={"active": active})
        self.top = self._top().to(self.device)

    def codes(self, z1: torch.Tensor) -> torch.Tensor:
        """The dimensions of z1 that M2 reads."""
        return z1 if self.config.active is None else z1[:, self.config.active]

    @property
    def num_classes(self) -> int:
        assert self.config.num_classes is not None
        return self.config.num_classes

    @torch.no_grad()
    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """Class probabilities (B, C): M2's q(y|z1) at the posterior mean of z1 given x."""
        return self.top.classify(self.codes(self.encode(self.check_input(x)).mean))

    def diagnose(self, epoch_means: dict[str, float]) -> str | None:
        """M2's diagnosis of its classifier (:meth:`M2.diagnose`)."""
        return super().diagnose(epoch_means) or self.top.diagnose(epoch_means, prefix="m2_")

    def loss(self, batch: Batch | torch.Tensor) -> Loss:
        """M1's negative ELBO plus M2's -J^alpha on the same draw of z1 (gradient stopped), both batch means; M2's
        alone with a saved M1."""
        batch = as_batch(batch)
        x, kl_weight, y = batch.x, batch.kl_weight, batch.y
        self.check_labels(y)
        if self.config.m1 is not None:  # M1 trained before and frozen: M2 alone, on a fresh draw of z1
            with torch.no_grad():
                z1 = self.encode(x).sample()
            m2 = self.top.loss(Batch(self.codes(z1), y, kl_weight))
            return Loss(m2.value, {f"m2_{name}": v for name, v in m2.terms.items()})
        t = objectives.elbo_terms(self, x)
        m1 = self.loss_of_terms(t, kl_weight)
        m2 = self.top.loss(Batch(self.codes(t.z.detach()), y, kl_weight))
        return Loss(m1.value + m2.value, {**m1.terms, **{f"m2_{name}": v for name, v in m2.terms.items()}})
