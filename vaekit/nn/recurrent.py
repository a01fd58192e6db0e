"""Recurrent networks over token ids for sentence models (Bowman et al. 2016, "Generating Sentences from a
Continuous Space", arXiv:1511.06349, sec. 3): an encoder that reads a sentence into a vector, and a decoder
that predicts each token from the ones before it (and, for the VAE, from z through its initial state).

Padded batches are packed (``pack_padded_sequence``), so no step is spent on padding.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from vaekit.data.tokenizer import BOS_ID, PAD_ID, UNK_ID

State = torch.Tensor | tuple[torch.Tensor, torch.Tensor]  # a GRU's h, or an LSTM's (h, c); each (1, N, hidden)


def _rnn(cell: str, inputs: int, hidden: int) -> nn.RNNBase:
    return (nn.GRU if cell == "gru" else nn.LSTM)(inputs, hidden, batch_first=True)


def lengths_of(x: torch.Tensor) -> torch.Tensor:
    """Tokens per sentence (``</s>`` included) of a padded batch (N, L)."""
    return (x != PAD_ID).sum(-1)


class SentenceEncoder(nn.Module):
    """Embedding, a GRU or LSTM over the sentence, and a linear map of its last hidden state to ``outputs``."""

    def __init__(self, vocab: int, embedding: int, cell: str, hidden: int, outputs: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, embedding, padding_idx=PAD_ID)
        self.rnn = _rnn(cell, embedding, hidden)
        self.out = nn.Linear(hidden, outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        packed = pack_padded_sequence(self.embed(x), lengths_of(x).cpu(), batch_first=True, enforce_sorted=False)
        _, state = self.rnn(packed)
        h = state[0] if isinstance(state, tuple) else state
        return self.out(h[-1])  # (N, outputs)


class SentenceDecoder(nn.Module):
    """p(x_t | x_<t, z): embedding, a GRU or LSTM started from a linear map of z (``latent`` 0: from zeros, a plain
    language model), and a linear map of each hidden state to the vocabulary's logits."""

    def __init__(self, vocab: int, embedding: int, cell: str, hidden: int, latent: int) -> None:
        super().__init__()
        self.cell, self.hidden = cell, hidden
        self.embed = nn.Embedding(vocab, embedding, padding_idx=PAD_ID)
        self.rnn = _rnn(cell, embedding, hidden)
        self.from_latent = nn.Linear(latent, hidden * (2 if cell == "lstm" else 1)) if latent else None
        self.out = nn.Linear(hidden, vocab)

    def initial_state(self, z: torch.Tensor | None, n: int) -> State:
        """The state before the first token, for N sentences (from z (N, latent) if the decoder takes one)."""
        if self.from_latent is None or z is None:
            h = torch.zeros(1, n, self.hidden)
            return (h, torch.zeros_like(h)) if self.cell == "lstm" else h
        start = torch.tanh(self.from_latent(z))[None]  # (1, N, hidden or 2 * hidden)
        return tuple(start.chunk(2, -1)) if self.cell == "lstm" else start  # type: ignore[return-value]

    def logits(self, x: torch.Tensor, z: torch.Tensor | None, word_dropout: float = 0.0) -> torch.Tensor:
        """Teacher forcing: the logits (N, L, vocab) of every token of the padded batch x (N, L), each from the
        ones before it; ``word_dropout`` replaces that share of the inputs (not <s>) by <unk> (Bowman sec. 3.3)."""
        inputs = torch.cat([torch.full_like(x[:, :1], BOS_ID), x[:, :-1]], 1)
        if word_dropout > 0:
            drop = torch.rand(inputs.shape) < word_dropout
            drop[:, 0] = False
            inputs = inputs.masked_fill(drop & (inputs != PAD_ID), UNK_ID)
        lengths = lengths_of(x)
        packed = pack_padded_sequence(self.embed(inputs), lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, _ = self.rnn(packed, self.initial_state(z, len(x)))
        hidden, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
        return self.out(hidden)

    def advance(self, token: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """One step: the previous tokens (N,) and the state in, the output (N, hidden) and the state out; the next
        token's logits are ``self.out(output)``."""
        out, state = self.rnn(self.embed(token)[:, None], state)
        return out[:, 0].contiguous(), state

    def step(self, token: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """One step: the next token's logits (N, vocab) and the state."""
        out, state = self.advance(token, state)
        return self.out(out), state
