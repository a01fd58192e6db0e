"""A VAE of variable-length sequences of feature frames (the MFCCs of spoken digits): a recurrent encoder to a
Gaussian z and an autoregressive recurrent decoder with a Gaussian per frame (the sentence VAE of Bowman et al. 2016,
arXiv:1511.06349, for continuous frames; the decoder also sees z at every step). The ELBO, free bits and KL annealing
are the VAE's.

Data: (B, L, 1 + D) frames with a presence flag first (:mod:`vaekit.data.sequences`); log p(x|z) is of the
frames given the sequence's length.
"""
from __future__ import annotations

from typing import Literal

import torch
from torch.distributions import Distribution

from vaekit.config import ModelConfig
from vaekit.distributions.frame_sequence import FrameSequence
from vaekit.model_fields import FreeBits, LatentCode, Observed, Recurrent
from vaekit.models.base import LatentVariableModel
from vaekit.models.registry import register
from vaekit.models.vae import VAE
from vaekit.nn.recurrent import FrameDecoder, FrameEncoder


class SequenceVAEConfig(Recurrent, Observed, LatentCode, FreeBits):

    name: Literal["sequence-vae"] = "sequence-vae"


@register("sequence-vae", SequenceVAEConfig)
class SequenceVAE(VAE):
    """``SequenceVAE(data_shape=(92, 14), latent_dim=16, hidden=[128], likelihood="gaussian")``."""

    decoder: FrameDecoder

    def __init__(self, config: ModelConfig | None = None, **options: object) -> None:
        LatentVariableModel.__init__(self)
        config = self._configure(config, options)
        if len(self.data_shape) != 2 or self.data_shape[1] < 2:
            raise ValueError(f"sequence-vae models frames (L, 1 + D) with a presence flag first; got {self.data_shape}")
        features, width = self.data_shape[1] - 1, config.hidden[0]
        self.encoder = FrameEncoder(features, config.rnn, width, 2 * config.latent_dim)
        self.decoder = FrameDecoder(features, config.rnn, width, config.latent_dim)
        self.register_buffer("prior_loc", torch.zeros(config.latent_dim))
        self.register_buffer("prior_scale", torch.ones(config.latent_dim))

    def check_input(self, x: torch.Tensor) -> torch.Tensor:
        """Frames (B, L, 1 + D), L at most the data's, flags 0/1 with each sequence's real frames first."""
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"expected a torch.Tensor, got {type(x).__name__}")
        if x.dim() == 2:
            x = x[None]
        if x.dim() != 3 or x.shape[2] != self.data_shape[1] or not 1 <= x.shape[1] <= self.data_shape[0]:
            raise ValueError(f"expected frames (B, L <= {self.data_shape[0]}, {self.data_shape[1]}), "
                             f"got {tuple(x.shape)}")
        flags = x[..., 0]
        if not torch.isfinite(x).all() or not ((flags == 0) | (flags == 1)).all() or (flags[:, 0] != 1).any() \
                or (flags[:, 1:] > flags[:, :-1]).any():
            raise ValueError("frames must be finite, with column 0 flagging each sequence's real frames (1) before "
                             "its padding (0)")
        return x.to(self.device, torch.float32)

    def decode(self, z: torch.Tensor) -> Distribution:
        return FrameSequence(self.decoder, z, self.data_shape[0])
