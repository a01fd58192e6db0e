"""p(x|z) over sentences: an autoregressive categorical, p(x|z) = prod_t Cat(x_t | x_<t, z), ending at ``</s>``.

``log_prob`` scores padded batches by teacher forcing; ``sample`` draws token by token and ``mode`` decodes
greedily (the most probable token at each step). Both return padded ids (…, L) that end in ``</s>``.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.distributions import Distribution, constraints

from vaekit.data.tokenizer import BOS_ID, EOS_ID, PAD_ID
from vaekit.nn.recurrent import SentenceDecoder


class TokenSequence(Distribution):
    """Sentences given z (batch shape = z's leading axes), or a language model's (``z`` None, batch ``shape``)."""

    arg_constraints: dict[str, constraints.Constraint] = {}

    def __init__(self, decoder: SentenceDecoder, z: torch.Tensor | None, shape: tuple[int, ...] = (),
                 word_dropout: float = 0.0, max_length: int = 50) -> None:
        self.decoder, self.z, self.word_dropout, self.max_length = decoder, z, word_dropout, max_length
        batch = tuple(z.shape[:-1]) if z is not None else shape
        super().__init__(torch.Size(batch), torch.Size([max_length]), validate_args=False)

    def _flat_z(self) -> torch.Tensor | None:
        return None if self.z is None else self.z.reshape(-1, self.z.shape[-1])

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        """log p(x|z) per sentence; x (…, L) padded ids broadcast against the batch shape."""
        x = value.expand(*self.batch_shape, value.shape[-1]).reshape(-1, value.shape[-1])
        logits = self.decoder.logits(x, self._flat_z(), self.word_dropout)
        nll = F.cross_entropy(logits.flatten(0, 1), x.flatten(), ignore_index=PAD_ID, reduction="none")
        return -nll.view_as(x).sum(-1).reshape(self.batch_shape)

    @torch.no_grad()
    def _decode(self, choose: str, sample_shape: torch.Size) -> torch.Tensor:
        draws = int(sample_shape.numel())
        copies = draws * int(self.batch_shape.numel())  # sample-major, as the result is laid out
        z = self._flat_z()
        if z is not None:
            z = z.repeat(draws, 1)
        state = self.decoder.initial_state(z, copies)
        device = self.decoder.out.weight.device
        token = torch.full((copies,), BOS_ID, device=device)
        out = torch.zeros(copies, self.max_length, dtype=torch.long, device=device)
        done = torch.zeros(copies, dtype=torch.bool, device=device)
        for t in range(self.max_length):
            logits, state = self.decoder.step(token, state)
            if t == self.max_length - 1:
                token = torch.full_like(token, EOS_ID)  # the last place ends the sentence
            elif choose == "greedy":
                token = logits.argmax(-1)
            else:
                token = torch.multinomial(F.softmax(logits, -1), 1)[:, 0]
            out[:, t] = token.masked_fill(done, PAD_ID)
            done |= token == EOS_ID
            if done.all():
                break
        return out.reshape(*sample_shape, *self.batch_shape, self.max_length)

    def sample(self, sample_shape: torch.Size | list[int] | tuple[int, ...] = torch.Size()) -> torch.Tensor:
        """Ancestral sampling, token by token."""
        return self._decode("sample", torch.Size(sample_shape))

    @property
    def mode(self) -> torch.Tensor:
        """Greedy decoding: the most probable token at each step."""
        return self._decode("greedy", torch.Size())

    @property
    def mean(self) -> torch.Tensor:
        """Sentences have no mean; as for images' "mean" decoding, the greedy sentence stands in for it."""
        return self.mode
