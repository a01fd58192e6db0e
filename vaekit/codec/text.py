"""Lossless coding of text with a sentence VAE: bits-back ANS (Townsend et al. 2019) over the lines of a file.

Each line is its words (split on single spaces, so any spacing survives) and ``</s>``. Per line, as for images
(:mod:`vaekit.codec.bits_back`): pop z ~ q(z|x) from the stack, push the tokens under p(x|z), push z under p(z).
The tokens are pushed in reverse of the order the decoder pops them: step t's tokens for every unfinished line of
the batch, each under Cat(x_t | x_<t, z) from the decoder's state after step t - 1. A word outside the vocabulary
is ``<unk>`` followed by its UTF-8 bytes and an end mark, coded under the byte frequencies of the rare training words
(kept in the tokenizer). Both ends run the decoder one step at a time on the same batch shapes, and the logits are
snapped to a grid (:mod:`vaekit.codec.coding_dists`), so their tables agree bit for bit.
"""
from __future__ import annotations

from typing import cast

import constriction
import numpy as np
import torch

from vaekit.codec import portable_math as pm
from vaekit.codec.bits_back import encode_in_batches, initial_words, latent_coding, reversed_starts
from vaekit.codec.coding_dists import snap
from vaekit.codec.container import (
    MAX_BATCH,
    WRITTEN_BY,
    CodecError,
    DecodeMismatch,
    Header,
    catch_panic,
    check_decodable,
    content_sha256,
    mismatch,
    pack,
    unpack,
)
from vaekit.codec.exact import exact_model
from vaekit.codec.latent_buckets import LatentBuckets
from vaekit.codec.latent_codes import latent_code
from vaekit.contract import Latent, Sentences
from vaekit.data.tokenizer import BOS_ID, EOS_ID, PAD_ID, SPELLING_END, UNK_ID, WordTokenizer
from vaekit.models import LatentVariableModel, SentenceVAE
from vaekit.progress import progress as progress_bar
from vaekit.saving import model_sha256

_CATEGORICAL = constriction.stream.model.Categorical(perfect=False)
_MAX_STEPS = 1 << 16  # tokens per line at most


def _text_model(model: LatentVariableModel) -> tuple[SentenceVAE, WordTokenizer]:
    """The sentence VAE and its word tokenizer, or a clear refusal."""
    if not (isinstance(model, Sentences) and isinstance(model, Latent)):
        raise CodecError(f"text is coded with a latent-variable model of sentences (sentence-vae); "
                         f"{model.registered_name} is not one")
    tokenizer = model.tokenizer
    if not isinstance(tokenizer, WordTokenizer) or tokenizer.lowercase:
        raise CodecError("lossless text coding needs the word tokenizer without lowercase (data.tokenizer=word, "
                         "data.lowercase=false): other tokenizations cannot give back the exact text")
    return cast(SentenceVAE, model), tokenizer


def _spelling_model(tokenizer: WordTokenizer) -> constriction.stream.model.Categorical:
    counts = np.asarray(tokenizer.spelling_counts, dtype=np.float64)
    return constriction.stream.model.Categorical(counts / counts.sum(), perfect=False)


def _probabilities(model: SentenceVAE, h: torch.Tensor) -> np.ndarray:
    """The next token's probabilities (N, vocab) from the decoder's outputs h (N, hidden), snapped logits in float64."""
    return pm.softmax(snap(model.decoder.out(h)), -1).numpy()


def _utf8(text: str) -> np.ndarray:
    return np.frombuffer(text.encode(), dtype=np.uint8)


def _ids(lines: list[list[str]], tokenizer: WordTokenizer) -> torch.Tensor:
    rows = [[tokenizer.index.get(w, UNK_ID) for w in words] + [EOS_ID] for words in lines]
    x = torch.full((len(rows), max(map(len, rows))), PAD_ID, dtype=torch.long)
    for i, ids in enumerate(rows):
        x[i, :len(ids)] = torch.tensor(ids)
    return x


def _encode_batch(coder: constriction.stream.stack.AnsCoder, model: SentenceVAE, tokenizer: WordTokenizer,
                  lines: list[list[str]], index: np.ndarray, buckets: LatentBuckets,
                  spelling: constriction.stream.model.Categorical) -> None:
    """Push the batch's tokens (and spelled unknown words) under p(x|z) at z's bucket centres."""
    x = _ids(lines, tokenizer)
    state = model.decoder.initial_state(buckets.centres(index), len(x))
    token = torch.full((len(x),), BOS_ID)
    outputs = []
    for t in range(x.shape[1]):
        h, state = model.decoder.advance(token, state)
        outputs.append(h)
        token = x[:, t]
    for t in range(x.shape[1] - 1, -1, -1):  # reversed: the decoder pops step 0 first
        active = torch.nonzero(x[:, t] != PAD_ID).squeeze(1).numpy()
        for row in active[::-1]:
            if x[row, t] == UNK_ID:
                spelled = np.frombuffer(lines[row][t].encode(), dtype=np.uint8).astype(np.int32)
                coder.encode_reverse(np.append(spelled, SPELLING_END).astype(np.int32), spelling)
        probs = _probabilities(model, outputs[t])[active]
        coder.encode_reverse(x[active, t].numpy().astype(np.int32), _CATEGORICAL, probs)


def _decode_batch(coder: constriction.stream.stack.AnsCoder, model: SentenceVAE, tokenizer: WordTokenizer, size: int,
                  index: np.ndarray, buckets: LatentBuckets, spelling: constriction.stream.model.Categorical,
                  header: Header) -> tuple[list[list[str]], torch.Tensor]:
    """Pop a batch's lines (as words) and their token ids (size, T); a line or a spelled word longer than the
    header's longest is refused at once."""
    state = model.decoder.initial_state(buckets.centres(index), size)
    token = torch.full((size,), BOS_ID)
    done = torch.zeros(size, dtype=torch.bool)
    columns: list[torch.Tensor] = []
    words: list[list[str]] = [[] for _ in range(size)]
    while not done.all():
        if len(columns) >= (header.longest_line or 0):
            raise DecodeMismatch("a line runs past the file's longest line")
        h, state = model.decoder.advance(token, state)
        active = torch.nonzero(~done).squeeze(1).numpy()
        popped = coder.decode(_CATEGORICAL, _probabilities(model, h)[active])
        token = torch.full((size,), PAD_ID)
        token[active] = torch.from_numpy(popped.astype(np.int64))
        for row, t in zip(active, popped):
            if t == UNK_ID:
                spelled: list[int] = []
                while (b := int(coder.decode(spelling))) != SPELLING_END:
                    if len(spelled) >= (header.longest_word or 0):
                        raise DecodeMismatch("a spelled-out word runs past the file's longest word")
                    spelled.append(b)
                words[row].append(bytes(spelled).decode("utf-8", errors="strict"))
            elif t != EOS_ID:
                words[row].append(tokenizer.pieces[t])
        done |= token == EOS_ID
        columns.append(token)
    return words, torch.stack(columns, 1)


def _lines(text: str) -> tuple[list[list[str]], bool]:
    final_newline = text.endswith("\n")
    lines = text.split("\n")
    if final_newline:
        lines = lines[:-1]
    return [line.split(" ") for line in lines], final_newline


@torch.no_grad()
def compress_text(model: LatentVariableModel, text: str, precision: int = 12, max_batch: int = 256,
                  progress: bool = False, source: dict | None = None) -> bytes:
    """Code ``text`` (its lines, exactly) into the bytes of a vaekit file with a sentence VAE."""
    model, tokenizer = _text_model(model)
    if not isinstance(text, str) or not text:
        raise CodecError("expected non-empty text")
    if not 2 <= precision <= 16 or not 1 <= max_batch <= MAX_BATCH:
        raise CodecError(f"precision must be in 2..16 and max_batch in 1..{MAX_BATCH}")
    lines, final_newline = _lines(text)
    longest = max(len(words) for words in lines) + 1
    if longest > _MAX_STEPS:
        raise CodecError(f"a line of {longest - 1:,} words is longer than the {_MAX_STEPS:,} tokens a line can have; "
                         "split it")
    identity = model_sha256(model)
    with exact_model(model) as model:
        buckets, prior = latent_coding(model, precision)
        spelling = _spelling_model(tokenizer)
        coder = constriction.stream.stack.AnsCoder(initial_words(buckets))

        def code_batch(start: int, size: int) -> float:
            batch = lines[start:start + size]
            before = coder.num_bits()
            posterior = latent_code(model.encode(_ids(batch, tokenizer)), buckets, size, "posterior q(z|x)")
            index = posterior.pop(coder, size)
            taken = before - coder.num_bits()
            _encode_batch(coder, model, tokenizer, batch, index, buckets, spelling)
            prior.push(coder, index)
            return taken

        batches = encode_in_batches(coder, len(lines), max_batch, code_batch, progress, "line")
    unknown = [len(w.encode()) for words in lines for w in words if w not in tokenizer.index]
    header = Header(mode="lossless", kind="text", model_sha256=identity,
                    longest_line=longest, longest_word=max(unknown, default=0),
                    item_shape=model.data_shape,
                    count=len(lines), batches=tuple(batches), precision=precision, final_newline=final_newline,
                    tokenizer_sha256=tokenizer.sha256(), written_by=WRITTEN_BY, content_sha256="0" * 64,
                    source=source or {})
    header = header.model_copy(update={"content_sha256": content_sha256(header, _utf8(text))})
    return pack(header, coder.get_compressed().astype("<u4").tobytes())


@torch.no_grad()
def decompress_text(model: LatentVariableModel, data: bytes, progress: bool = False) -> str:
    """The text that :func:`compress_text` coded, exactly."""
    model, tokenizer = _text_model(model)
    header, payload = unpack(data)
    check_decodable(header)
    if header.kind != "text":
        raise CodecError("this file holds arrays, not text: use vaekit.codec.decompress")
    if header.model_sha256 != model_sha256(model) or header.tokenizer_sha256 != tokenizer.sha256():
        raise CodecError("this file was made with another model (its weights or tokenizer differ)")
    if len(payload) % 4:
        raise CodecError("the payload is not a whole number of 32-bit words")
    assert header.precision is not None
    try:
        with exact_model(model) as model:
            buckets, prior = latent_coding(model, header.precision)
            spelling = _spelling_model(tokenizer)
            coder = constriction.stream.stack.AnsCoder(np.frombuffer(payload, dtype="<u4").astype(np.uint32))
            lines: list[str] = [""] * header.count
            with progress_bar(header.count, "decompressing", "line", progress) as bar:
                for start, size in reversed_starts(list(header.batches)):
                    index = prior.pop(coder, size)
                    words, x = _decode_batch(coder, model, tokenizer, size, index, buckets, spelling, header)
                    latent_code(model.encode(x), buckets, size, "posterior q(z|x)").push(coder, index)
                    lines[start:start + size] = [" ".join(w) for w in words]
                    bar.update(size)
    except DecodeMismatch:
        raise CodecError(mismatch(header)) from None
    except CodecError:
        raise
    except BaseException as error:
        raise catch_panic(error) from None
    text = "\n".join(lines) + ("\n" if header.final_newline else "")
    if content_sha256(header, _utf8(text)) != header.content_sha256 or \
            not np.array_equal(coder.get_compressed(), initial_words(buckets)):
        raise CodecError(mismatch(header))
    return text
