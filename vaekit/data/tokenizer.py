"""Tokenizers for text models, saved beside the model as JSON (nothing is unpickled).

A sentence becomes token ids ending in ``</s>``; id 0 is padding. The word tokenizer keeps the
``vocab_size`` most frequent training words (ties broken alphabetically) and maps the rest to ``<unk>``;
it also counts the bytes of the words it dropped, the model of how the lossless codec spells an unknown
word (:mod:`vaekit.codec.text`). The subword tokenizer is a SentencePiece unigram model (Kudo & Richardson
2018) trained on the training sentences; its model is a protobuf, stored in the JSON as base64.
"""
from __future__ import annotations

import base64
import hashlib
import io
import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<s>", "</s>"
SPECIALS = (PAD, UNK, BOS, EOS)
PAD_ID, UNK_ID, BOS_ID, EOS_ID = range(4)
SPELLING_END = 256  # after a spelled word's UTF-8 bytes


class Tokenizer:
    """Base class: ``encode(line)`` -> ids ending in EOS; ``decode(ids)`` -> text; ``to_json()`` saves it."""

    kind: str
    pieces: list[str]  # the vocabulary: id -> piece, the four specials first

    def __len__(self) -> int:
        return len(self.pieces)

    def encode(self, line: str) -> list[int]:
        raise NotImplementedError

    def decode(self, ids: Iterable[int]) -> str:
        raise NotImplementedError

    def to_json(self) -> dict[str, Any]:
        raise NotImplementedError

    def sha256(self) -> str:
        """The tokenizer's identity (a compressed file records the one it was made with)."""
        return hashlib.sha256(json.dumps(self.to_json(), sort_keys=True).encode()).hexdigest()

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_json()) + "\n")


def _until_eos(ids: Iterable[int]) -> list[int]:
    out = []
    for i in ids:
        if i == EOS_ID:
            break
        if i not in (PAD_ID, BOS_ID):
            out.append(int(i))
    return out


class WordTokenizer(Tokenizer):
    """Words split on whitespace; the ``vocab_size`` most frequent training words, the rest ``<unk>``."""

    kind = "word"

    def __init__(self, words: list[str], lowercase: bool = False, spelling_counts: list[int] | None = None) -> None:
        if len(set(words)) != len(words) or any(w in SPECIALS or not w or any(c.isspace() for c in w) for w in words):
            raise ValueError("a word vocabulary holds distinct non-empty words without spaces, and no special tokens")
        self.pieces = [*SPECIALS, *words]
        self.lowercase = lowercase
        self.index = {w: i for i, w in enumerate(self.pieces)}
        self.spelling_counts = spelling_counts or [1] * (SPELLING_END + 1)
        if len(self.spelling_counts) != SPELLING_END + 1 or min(self.spelling_counts) < 1:
            raise ValueError(f"spelling_counts needs {SPELLING_END + 1} positive counts")

    @classmethod
    def train(cls, lines: Iterable[str], vocab_size: int, lowercase: bool = False) -> "WordTokenizer":
        """The ``vocab_size`` most frequent words of ``lines`` (specials included in the size)."""
        counts = Counter(w for line in lines for w in cls._split(line, lowercase))
        ranked = sorted(counts, key=lambda w: (-counts[w], w))
        keep = ranked[:max(0, vocab_size - len(SPECIALS))]
        spelling = [1] * (SPELLING_END + 1)  # add-one counts of the dropped words' bytes
        for word in ranked[len(keep):]:
            for b in word.encode():
                spelling[b] += counts[word]
            spelling[SPELLING_END] += counts[word]
        return cls(keep, lowercase, spelling)

    @staticmethod
    def _split(line: str, lowercase: bool) -> list[str]:
        return (line.lower() if lowercase else line).split()

    def encode(self, line: str) -> list[int]:
        return [self.index.get(w, UNK_ID) for w in self._split(line, self.lowercase)] + [EOS_ID]

    def decode(self, ids: Iterable[int]) -> str:
        return " ".join(self.pieces[i] for i in _until_eos(ids))

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "lowercase": self.lowercase, "words": self.pieces[len(SPECIALS):],
                "spelling_counts": self.spelling_counts}


class SentencePieceTokenizer(Tokenizer):
    """Subword pieces of a SentencePiece unigram model trained on the training sentences."""

    kind = "sentencepiece"

    def __init__(self, model_proto: bytes) -> None:
        import sentencepiece as spm

        self.model_proto = model_proto
        self.processor = spm.SentencePieceProcessor(model_proto=model_proto)
        self.pieces = [self.processor.id_to_piece(i) for i in range(self.processor.get_piece_size())]
        if self.pieces[:4] != list(SPECIALS):
            raise ValueError("a SentencePiece model for vaekit has <pad>, <unk>, <s>, </s> as ids 0-3")

    @classmethod
    def train(cls, lines: Iterable[str], vocab_size: int) -> "SentencePieceTokenizer":
        try:
            import sentencepiece as spm
        except ImportError:
            raise ValueError("data.tokenizer=sentencepiece needs the sentencepiece package: "
                             "pip install 'vaekit[text]'") from None
        out = io.BytesIO()
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(list(lines)), model_writer=out, vocab_size=vocab_size, model_type="unigram",
            pad_id=PAD_ID, unk_id=UNK_ID, bos_id=BOS_ID, eos_id=EOS_ID, pad_piece=PAD, unk_piece=UNK,
            bos_piece=BOS, eos_piece=EOS, hard_vocab_limit=False, minloglevel=2, num_threads=1)
        return cls(out.getvalue())

    def encode(self, line: str) -> list[int]:
        return list(self.processor.encode(line)) + [EOS_ID]

    def decode(self, ids: Iterable[int]) -> str:
        return str(self.processor.decode(_until_eos(ids)))

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "model": base64.b64encode(self.model_proto).decode()}


def tokenizer_from_json(tree: dict[str, Any]) -> Tokenizer:
    """Rebuild a tokenizer saved by :meth:`Tokenizer.to_json`."""
    if not isinstance(tree, dict) or tree.get("kind") not in ("word", "sentencepiece"):
        raise ValueError("not a vaekit tokenizer (kind must be 'word' or 'sentencepiece')")
    if tree["kind"] == "word":
        return WordTokenizer(list(tree["words"]), bool(tree.get("lowercase", False)), tree.get("spelling_counts"))
    return SentencePieceTokenizer(base64.b64decode(tree["model"]))


def load_tokenizer(path: str | Path) -> Tokenizer:
    try:
        return tokenizer_from_json(json.loads(Path(path).read_text()))
    except (ValueError, KeyError, TypeError, RecursionError) as error:
        raise ValueError(f"{path} is not a readable tokenizer ({type(error).__name__}: "
                         f"{str(error).splitlines()[0][:200] if str(error) else ''})") from None
