"""p(x|z) over sequences of feature frames: prod_t N(x_t | mu(x_<t, z), diag sigma^2) over the real frames.

The sequence's length is given (the presence flags of x), not modelled. ``mean`` rolls the decoder out for
``frames`` steps, each frame the mean given the means before it, flagged present.
"""
from __future__ import annotations

import torch
from torch.distributions import Distribution, Normal, constraints

from vaekit.nn.recurrent import FrameDecoder


class FrameSequence(Distribution):
    arg_constraints: dict[str, constraints.Constraint] = {}

    def __init__(self, decoder: FrameDecoder, z: torch.Tensor, frames: int) -> None:
        self.decoder, self.z, self.frames = decoder, z, frames
        super().__init__(z.shape[:-1], torch.Size([frames, decoder.out.out_features + 1]), validate_args=False)

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        """log p(x|z) per sequence; x (…, L, 1 + D) broadcast against the batch shape."""
        x = value.expand(*self.batch_shape, *value.shape[-2:]).reshape(-1, *value.shape[-2:])
        z = self.z.reshape(-1, self.z.shape[-1])
        present, frames = x[..., 0], x[..., 1:]
        density = Normal(self.decoder.means(frames, z), self.decoder.log_scale.exp(), validate_args=False)
        return (density.log_prob(frames).sum(-1) * present).sum(-1).reshape(self.batch_shape)

    @property
    def mean(self) -> torch.Tensor:
        z = self.z.reshape(-1, self.z.shape[-1])
        frames = self.decoder.rollout(z, self.frames)
        out = torch.cat([torch.ones_like(frames[..., :1]), frames], -1)
        return out.reshape(*self.batch_shape, *out.shape[1:])

    def sample(self, sample_shape: torch.Size | list[int] | tuple[int, ...] = torch.Size()) -> torch.Tensor:
        raise NotImplementedError("frame sequences are decoded by their mean (vaekit uses .mean)")
