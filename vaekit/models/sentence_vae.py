"""The sentence VAE of Bowman et al. 2016, "Generating Sentences from a Continuous Space", arXiv:1511.06349.

Generative story:  z ~ N(0, I),   x_t ~ Cat(softmax(W h_t)),  h_t = RNN(h_{t-1}, x_{t-1}),  h_0 = tanh(A z + b).
Inference model:   q(z|x) = N(mu, diag sigma^2) from the last hidden state of an RNN reading x (sec. 3, fig. 1).

The ELBO and its remedies for posterior collapse are the VAE's (:class:`vaekit.models.vae.VAE`): the KL weight
annealed from 0 to 1 (``train.kl_warmup_steps``, ``train.kl_schedule: sigmoid`` as in sec. 3.1), free bits
(``model.free_bits``, Kingma et al. 2016), and here word dropout (``model.word_dropout``, sec. 3.3): a share of
the decoder's inputs replaced by ``<unk>`` while training, so that it must lean on z.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import torch
from pydantic import Field
from torch.distributions import Distribution

from vaekit.config import ModelConfig
from vaekit.distributions.token_sequence import TokenSequence
from vaekit.model_fields import FreeBits, LatentCode, Tokens
from vaekit.models.base import LatentVariableModel, Model
from vaekit.models.registry import register
from vaekit.models.vae import VAE
from vaekit.nn.recurrent import SentenceDecoder, SentenceEncoder

if TYPE_CHECKING:
    from vaekit.data.tokenizer import Tokenizer


def check_tokens(x: torch.Tensor, vocab: int) -> torch.Tensor:
    """Validate padded token ids (B, L) (one sentence (L,) gains a batch axis): integers in [0, vocab), each row
    non-empty and padded only at its end."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"expected a torch.Tensor of token ids, got {type(x).__name__}")
    if x.dim() == 1:
        x = x[None]
    if x.dim() != 2 or x.shape[1] == 0 or x.dtype.is_floating_point or x.dtype == torch.bool:
        raise ValueError(f"expected integer token ids of shape (B, L), got {x.dtype} {tuple(x.shape)}; "
                         "encode sentences with the model's tokenizer")
    if len(x) and (x.min() < 0 or x.max() >= vocab):
        raise ValueError(f"token ids must lie in [0, {vocab}), the model's vocabulary")
    present = x != 0
    if len(x) and (not present[:, 0].all() or (present[:, 1:] & ~present[:, :-1]).any()):
        raise ValueError("each sentence needs at least one token, with padding (id 0) only after its end")
    return x.long()


class TextModel(Model):
    """What the text models share: token-id inputs, the tokenizer they were trained with (saved beside them)."""

    tokenizer: "Tokenizer | None" = None
    data_fills = ("data_shape", "likelihood", "vocab_size")

    @property
    def max_length(self) -> int:
        return self.data_shape[0]

    def check_input(self, x: torch.Tensor) -> torch.Tensor:
        assert self.config.vocab_size is not None
        return check_tokens(x, self.config.vocab_size).to(self.device)


class SentenceVAEConfig(Tokens, LatentCode, FreeBits):
    """Bowman et al. 2016: a one-layer LSTM of 191 units, 13 latent dimensions, word dropout up to 1."""

    name: Literal["sentence-vae"] = "sentence-vae"
    word_dropout: float = Field(0.0, ge=0.0, le=1.0)  # decoder inputs replaced by <unk> (sec. 3.3)


@register("sentence-vae", SentenceVAEConfig)
class SentenceVAE(TextModel, VAE):
    """Build it from a :class:`ModelConfig` or its fields: ``SentenceVAE(data_shape=(50,), vocab_size=10000,
    latent_dim=16, hidden=[256], likelihood="categorical")``."""

    decoder: SentenceDecoder
    data_fills = (*VAE.data_fills, "vocab_size")

    def __init__(self, config: ModelConfig | None = None, **options: object) -> None:
        LatentVariableModel.__init__(self)
        config = self._configure(config, options)
        assert config.vocab_size is not None  # checked by _configure
        width = config.hidden[0]
        self.encoder = SentenceEncoder(config.vocab_size, config.embedding_dim, config.rnn, width,
                                       2 * config.latent_dim)
        self.decoder = SentenceDecoder(config.vocab_size, config.embedding_dim, config.rnn, width, config.latent_dim)
        self.register_buffer("prior_loc", torch.zeros(config.latent_dim))
        self.register_buffer("prior_scale", torch.ones(config.latent_dim))

    def decode(self, z: torch.Tensor) -> Distribution:
        """p(x|z) over sentences, batch-shaped like z's leading axes; with word dropout while training."""
        return TokenSequence(self.decoder, z, word_dropout=self.config.word_dropout if self.training else 0.0,
                             max_length=self.max_length)
