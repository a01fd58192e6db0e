"""Recurrent networks for sequence models: over token ids for sentence models (Bowman et al. 2016, "Generating
Sentences from a Continuous Space", arXiv:1511.06349, sec. 3), an encoder that reads a sentence into a vector and a
decoder that predicts each token from the ones before it (and, for the VAE, from z through its initial state);
over feature frames (MFCCs), the same pair with a Gaussian per frame.

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


def _last_hidden(rnn: nn.RNNBase, inputs: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """The hidden state (N, hidden) after each sequence's last real step of padded inputs (N, L, features)."""
    _, state = rnn(pack_padded_sequence(inputs, lengths.cpu(), batch_first=True, enforce_sorted=False))
    return (state[0] if isinstance(state, tuple) else state)[-1]


class SentenceEncoder(nn.Module):
    """Embedding, a GRU or LSTM over the sentence, and a linear map of its last hidden state to ``outputs``."""

    def __init__(self, vocab: int, embedding: int, cell: str, hidden: int, outputs: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, embedding, padding_idx=PAD_ID)
        self.rnn = _rnn(cell, embedding, hidden)
        self.out = nn.Linear(hidden, outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(_last_hidden(self.rnn, self.embed(x), lengths_of(x)))  # (N, outputs)


class FrameEncoder(nn.Module):
    """A GRU or LSTM over feature frames (N, L, 1 + D), the presence flag first, and a linear map of its last
    hidden state to ``outputs``."""

    def __init__(self, features: int, cell: str, hidden: int, outputs: int) -> None:
        super().__init__()
        self.rnn = _rnn(cell, features, hidden)
        self.out = nn.Linear(hidden, outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(_last_hidden(self.rnn, x[..., 1:], x[..., 0].sum(1).long()))


class FrameDecoder(nn.Module):
    """The mean of each frame from the frames before it and z: a GRU or LSTM fed [previous frame, z] (zeros before
    the first), its state started from a linear map of z; one learned scale per feature."""

    def __init__(self, features: int, cell: str, hidden: int, latent: int) -> None:
        super().__init__()
        self.cell, self.hidden = cell, hidden
        self.rnn = _rnn(cell, features + latent, hidden)
        self.from_latent = nn.Linear(latent, hidden * (2 if cell == "lstm" else 1))
        self.out = nn.Linear(hidden, features)
        self.log_scale = nn.Parameter(torch.zeros(features))

    def initial_state(self, z: torch.Tensor) -> State:
        start = torch.tanh(self.from_latent(z))[None]
        return tuple(start.chunk(2, -1)) if self.cell == "lstm" else start  # type: ignore[return-value]

    def means(self, frames: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Teacher forcing: the mean (N, L, D) of every frame of frames (N, L, D) given the ones before it."""
        previous = torch.cat([torch.zeros_like(frames[:, :1]), frames[:, :-1]], 1)
        inputs = torch.cat([previous, z[:, None].expand(-1, frames.shape[1], -1)], -1)
        out, _ = self.rnn(inputs, self.initial_state(z))
        return self.out(out)

    def rollout(self, z: torch.Tensor, steps: int) -> torch.Tensor:
        """Frames (N, steps, D), each the mean given the means before it."""
        state, frame, frames = self.initial_state(z), z.new_zeros(len(z), self.out.out_features), []
        for _ in range(steps):
            out, state = self.rnn(torch.cat([frame, z], -1)[:, None], state)
            frame = self.out(out[:, 0])
            frames.append(frame)
        return torch.stack(frames, 1)


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
            h = torch.zeros(1, n, self.hidden, device=self.out.weight.device)
            return (h, torch.zeros_like(h)) if self.cell == "lstm" else h
        start = torch.tanh(self.from_latent(z))[None]  # (1, N, hidden or 2 * hidden)
        return tuple(start.chunk(2, -1)) if self.cell == "lstm" else start  # type: ignore[return-value]

    def logits(self, x: torch.Tensor, z: torch.Tensor | None, word_dropout: float = 0.0) -> torch.Tensor:
        """Teacher forcing: the logits (N, L, vocab) of every token of the padded batch x (N, L), each from the
        ones before it; ``word_dropout`` replaces that share of the inputs (not <s>) by <unk> (Bowman sec. 3.3)."""
        inputs = torch.cat([torch.full_like(x[:, :1], BOS_ID), x[:, :-1]], 1)
        if word_dropout > 0:
            drop = torch.rand(inputs.shape, device=inputs.device) < word_dropout
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
