"""Generation from text models, sentences in and out: samples from the prior (greedy or drawn token by token),
reconstructions, and homotopies between two sentences (Bowman et al. 2016, arXiv:1511.06349, sec. 4.3, Table 3).
"""
from __future__ import annotations

from collections.abc import Sequence

import torch

from vaekit.contract import Latent
from vaekit.data.tokenizer import Tokenizer
from vaekit.generate import interpolate
from vaekit.models import TextModel


def tokenizer_of(model: TextModel) -> Tokenizer:
    if model.tokenizer is None:
        raise ValueError(f"this {model.registered_name} has no tokenizer: load it from a saved model directory")
    return model.tokenizer


def to_ids(model: TextModel, lines: Sequence[str]) -> torch.Tensor:
    """Sentences as padded token ids (N, L) under the model's tokenizer."""
    if not lines or any(not line.strip() for line in lines):
        raise ValueError("give one or more non-empty sentences")
    rows = [tokenizer_of(model).encode(line) for line in lines]
    x = torch.zeros(len(rows), max(map(len, rows)), dtype=torch.long)
    for i, ids in enumerate(rows):
        x[i, :len(ids)] = torch.tensor(ids)
    return x


def to_text(model: TextModel, ids: torch.Tensor) -> list[str]:
    """Token ids (N, L) back to sentences, each up to its ``</s>``."""
    return [tokenizer_of(model).decode(row) for row in ids.tolist()]


def sample_text(model: TextModel, n: int, seed: int = 0, greedy: bool = True) -> list[str]:
    """n sentences from z ~ p(z) (a language model: from p(x)), greedy or drawn token by token."""
    return to_text(model, model.sample(n, seed=seed, mean=greedy))


def reconstruct_text(model: TextModel, lines: Sequence[str]) -> list[str]:
    """Each sentence greedily decoded from its posterior mean."""
    return to_text(model, model.reconstruct(to_ids(model, lines)))


def homotopy(model: TextModel, first: str, last: str, steps: int = 7) -> list[str]:
    """Greedy sentences along the line between the posterior means of two sentences, the ends included."""
    x = to_ids(model, [first, last])
    return to_text(model, interpolate(model, x[:1], x[1:], steps))


def text_figures(model: TextModel, lines: Sequence[str], seed: int = 0, n: int = 20) -> dict[str, str]:
    """A run's text "figures": samples (greedy and drawn), reconstructions of ``lines`` and a homotopy between
    the first two; file name -> content."""
    out = {"samples.txt": "\n".join(["# greedy, from z ~ p(z)" if isinstance(model, Latent) else "# greedy",
                                     *sample_text(model, n if isinstance(model, Latent) else 1, seed),
                                     "", "# drawn token by token", *sample_text(model, n, seed, greedy=False)]) + "\n"}
    if isinstance(model, Latent):
        pairs = [f"  in: {a}\n out: {b}" for a, b in zip(lines, reconstruct_text(model, lines))]
        out["reconstructions.txt"] = "\n".join(pairs) + "\n"
        out["homotopy.txt"] = "\n".join(homotopy(model, lines[0], lines[1])) + "\n"
    return out
