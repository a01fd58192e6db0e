"""A recurrent language model, p(x) = prod_t Cat(x_t | x_<t): the sentence VAE's decoder without z.

The baseline of Bowman et al. 2016 (arXiv:1511.06349, Table 2): a VAE of sentences earns its latent code when its
bound on log p(x) comes close to this model's exact log p(x) while its KL stays above zero.
"""
from __future__ import annotations

from typing import Literal

import torch
from torch.distributions import Distribution

from vaekit.config import ModelConfig
from vaekit.contract import Batch, Loss
from vaekit.distributions.token_sequence import TokenSequence
from vaekit.model_fields import Tokens
from vaekit.models.base import as_batch
from vaekit.models.registry import register
from vaekit.models.sentence_vae import TextModel
from vaekit.nn.recurrent import SentenceDecoder


class RNNLanguageModelConfig(Tokens):

    name: Literal["rnn-lm"] = "rnn-lm"


@register("rnn-lm", RNNLanguageModelConfig)
class RNNLanguageModel(TextModel):
    """``RNNLanguageModel(data_shape=(50,), vocab_size=10000, hidden=[256], likelihood="categorical")``."""

    decoder: SentenceDecoder

    def __init__(self, config: ModelConfig | None = None, **options: object) -> None:
        super().__init__()
        config = self._configure(config, options)
        assert config.vocab_size is not None  # checked by _configure
        self.decoder = SentenceDecoder(config.vocab_size, config.embedding_dim, config.rnn, config.hidden[0], 0)

    def sentences(self, n: int = 1) -> Distribution:
        """p(x) as a distribution over n sentences."""
        return TokenSequence(self.decoder, None, (n,), max_length=self.max_length)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """The exact log p(x) per sentence [B] in nats."""
        x = self.check_input(x)
        return self.sentences(len(x)).log_prob(x)

    def loss(self, batch: Batch | torch.Tensor) -> Loss:
        log_p = self.log_prob(as_batch(batch).x).mean()
        return Loss(-log_p, {"log_likelihood": log_p.detach()})

    def scores(self, batch: Batch) -> dict[str, torch.Tensor]:
        return {"log_likelihood": self.log_prob(batch.x)}

    def log_likelihood(self, x: torch.Tensor, k: int = 1, y: torch.Tensor | None = None) -> torch.Tensor:
        """The exact log p(x) per sentence (``k`` and ``y`` are unused: there are no latent variables)."""
        return self.log_prob(x)

    @torch.no_grad()
    def sample(self, n: int, seed: int | None = None, mean: bool = True,
               y: torch.Tensor | int | None = None) -> torch.Tensor:
        """n sentences: greedy (the same each time, ``mean=True``) or drawn token by token."""
        if n < 1:
            raise ValueError(f"n must be a positive number of samples, got {n}")
        with torch.random.fork_rng(devices=[]):
            if seed is not None:
                torch.manual_seed(seed)
            p = self.sentences(n)
            return p.mode if mean else p.sample()
