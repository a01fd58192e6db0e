"""Text: tokenizers, the Brown corpus, the sentence VAE and language model, text generation and the text codec."""
from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import pytest
import torch
from test_cli import ROOT, vaekit

import vaekit as vaekit_api
from vaekit import objectives
from vaekit.codec.container import CodecError
from vaekit.codec.text import compress_text, decompress_text
from vaekit.config import ConfigError, DataConfig, load_config
from vaekit.data import load_data
from vaekit.data.registry import DATASETS
from vaekit.data.text import brown_files, brown_splits
from vaekit.data.tokenizer import EOS_ID, UNK_ID, SentencePieceTokenizer, WordTokenizer, load_tokenizer
from vaekit.models import RNNLanguageModel
from vaekit.run import run
from vaekit.saving import ModelFileError, load
from vaekit.sentences import homotopy, reconstruct_text, sample_text, to_ids
from vaekit.train.schedules import kl_weight

SMALL = ["data.limit=4000", "data.vocab_size=2000", "model.embedding_dim=64", "model.hidden=[128]",
         "model.latent_dim=8", "train.progress=false", "evaluate.k=20", "evaluate.limit=100"]


@pytest.fixture(scope="module")
def brown():
    return load_data(DataConfig(name="brown", vocab_size=2000))


@pytest.fixture(scope="module")
def brown_test_lines() -> list[str]:
    files = brown_files(DATASETS["brown"].fetch("archive", None, False))
    return brown_splits(files, DataConfig(name="brown"))["test"][0]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """A small sentence VAE trained for 2 epochs on 4,000 Brown sentences, through a whole run."""
    out = tmp_path_factory.mktemp("text-runs")
    config = load_config(ROOT / "configs" / "sentence-vae-brown.yaml",
                         [*SMALL, "train.epochs=2", "train.kl_warmup_steps=60", "train.log_every=10", f"out_dir={out}",
                          "name=svae"])
    metrics = run(config).as_dict()
    return out / "svae", metrics


def test_word_tokenizer_round_trip_with_unknown_words(tmp_path: Path) -> None:
    tokenizer = WordTokenizer.train(["the cat sat", "the dog sat", "a cat ran"], vocab_size=4 + 3)
    assert tokenizer.pieces[4:] == ["cat", "sat", "the"]  # the most frequent, ties alphabetical
    ids = tokenizer.encode("the zebra sat")
    assert ids == [tokenizer.index["the"], UNK_ID, tokenizer.index["sat"], EOS_ID]
    assert tokenizer.decode(ids) == "the <unk> sat"
    assert tokenizer.decode(tokenizer.encode("the cat  sat")) == "the cat sat"
    tokenizer.save(tmp_path / "t.json")
    again = load_tokenizer(tmp_path / "t.json")
    assert again.pieces == tokenizer.pieces and again.sha256() == tokenizer.sha256()
    assert again.spelling_counts[ord("g")] == 2 and again.spelling_counts[ord("z")] == 1  # "dog" was dropped
    (tmp_path / "bad.json").write_text(json.dumps({"kind": "pickle"}))
    with pytest.raises(ValueError, match="not a vaekit tokenizer"):
        load_tokenizer(tmp_path / "bad.json")


def test_sentencepiece_tokenizer_round_trip(brown_test_lines: list[str], tmp_path: Path) -> None:
    tokenizer = SentencePieceTokenizer.train(brown_test_lines[:3000], vocab_size=800)
    line = "The jury praised the unexpectedly thorough investigation ."
    ids = tokenizer.encode(line)
    assert ids[-1] == EOS_ID and len(ids) > len(line.split()) and UNK_ID not in ids  # subwords cover new words
    assert tokenizer.decode(ids) == line
    tokenizer.save(tmp_path / "spm.json")
    assert load_tokenizer(tmp_path / "spm.json").encode(line) == ids


def test_brown_loader_splits_by_file_and_batches_by_length(brown) -> None:
    assert (len(brown.train), len(brown.valid), len(brown.test)) == (45182, 4929, 5436)
    assert len(brown.tokenizer) == 2000 and brown.kind == "tokens" and brown.data_shape == (50,)
    assert int(brown.train.y.max()) == 14  # 15 genres
    first = brown.tokenizer.decode(brown.train.x[0].tolist())
    assert first.startswith("The <unk> County <unk> <unk> said Friday an")  # 2,000 words: Fulton is rare
    files = brown_files(DATASETS["brown"].fetch("archive", None, False))
    parts = brown_splits(files, DataConfig(name="brown"))
    assert sum(len(p[0]) for p in parts.values()) == 57340 == sum(len(s) for s in files.values())
    seen, widths = [], []
    for x, y in brown.train.labelled_batches(64, epoch=0, seed=0):
        lengths = (x != 0).sum(1)
        assert x.shape[1] == int(lengths.max())  # cut to its longest sentence
        widths.append(int(lengths.max() - lengths.min()))
        seen.append(y)
    assert sum(len(y) for y in seen) == len(brown.train)
    assert sorted(torch.cat(seen).tolist()) == sorted(brown.train.y.tolist())
    assert sum(widths) / len(widths) < 2  # sentences of a batch have nearly the same length
    again = next(brown.train.labelled_batches(64, epoch=0, seed=0))[0]
    assert torch.equal(again, next(brown.train.labelled_batches(64, epoch=0, seed=0))[0])


def test_user_text_files_and_refusals(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("\n".join(f"sentence number {i} here ." for i in range(40)) + "\n")
    (tmp_path / "b.txt").write_text("another file , another line .\n" * 10)
    data = load_data(DataConfig(name=str(tmp_path), validation=5, vocab_size=30))
    assert len(data.train) + len(data.valid) + len(data.test) == 50 and len(data.valid) == 5
    assert data.tokenizer is not None and len(data.tokenizer) == 30
    with pytest.raises(ValueError, match="is for text"):
        load_data(DataConfig(name="binarized-mnist", max_length=20, limit=10))
    with pytest.raises(ConfigError, match="categorical"):
        load_config(None, ["model.name=sentence-vae", "model.likelihood=bernoulli"])
    with pytest.raises(ConfigError, match="vae has no key 'word_dropout'; it is a key of sentence-vae"):
        load_config(None, ["model.word_dropout=0.2"])


def test_text_without_spaces_is_refused_by_the_word_tokenizer_and_read_by_sentencepiece(tmp_path: Path) -> None:
    """Chinese puts no spaces between words: the word tokenizer made each training sentence one token (a held-out
    sentence all <unk>, two tokens long), and the run's per-token figures read well without a word."""
    subjects, verbs = ["我们", "他们", "老师", "学生", "妈妈"], ["喜欢", "看见", "买了", "想要"]
    things = ["苹果", "电影", "新书", "小猫"]
    lines = [f"{s}今天{v}{t}。" for s in subjects for v in verbs for t in things]
    (tmp_path / "zh.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match="data.tokenizer=sentencepiece"):
        load_data(DataConfig(name=str(tmp_path / "zh.txt"), validation=10, vocab_size=60))
    data = load_data(DataConfig(name=str(tmp_path / "zh.txt"), validation=10, vocab_size=60, tokenizer="sentencepiece"))
    assert float(data.valid.lengths.float().mean()) > 3  # pieces, not one token a sentence
    (tmp_path / "de.txt").write_text("\n".join(f"der Hund sieht die Katze Nummer {i} ." for i in range(60)) + "\n")
    german = load_data(DataConfig(name=str(tmp_path / "de.txt"), validation=10, vocab_size=30))  # spaced: words
    assert len(german.train) + len(german.valid) + len(german.test) == 60


def test_a_byte_order_mark_and_long_lines(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A Windows editor's byte-order mark made the file's first word a word of its own ('\\ufeffthe'); a file of
    paragraphs, one a line, lost most of them to data.max_length with a note at the info level only."""
    lines = [f"the cat number {i} sat ." for i in range(30)]
    (tmp_path / "bom.txt").write_text("\n".join(lines) + "\n", encoding="utf-8-sig")
    data = load_data(DataConfig(name=str(tmp_path / "bom.txt"), validation=3, vocab_size=40))
    assert data.tokenizer is not None and not any("\ufeff" in piece for piece in data.tokenizer.pieces)
    (tmp_path / "paragraphs.txt").write_text("\n".join(" ".join([line] * (1 + i % 3)) for i, line in enumerate(lines)))
    with caplog.at_level(logging.WARNING, logger="vaekit"):
        load_data(DataConfig(name=str(tmp_path / "paragraphs.txt"), validation=3, max_length=8))
    assert "left out" in caplog.text and "raise data.max_length" in caplog.text


def test_sigmoid_kl_annealing() -> None:
    weights = [kl_weight(step, 1000, "sigmoid") for step in range(0, 1200, 100)]
    assert weights[0] < 0.01 and abs(kl_weight(499, 1000, "sigmoid") - 0.5) < 1e-9 and weights[-1] == 1.0
    assert weights == sorted(weights)


def test_teacher_forcing_matches_step_by_step_decoding() -> None:
    torch.manual_seed(0)
    lm = RNNLanguageModel(data_shape=(12,), vocab_size=40, embedding_dim=8, hidden=[16], likelihood="categorical",
                          rnn="lstm")
    x = torch.tensor([[5, 6, 7, EOS_ID, 0], [9, 10, 11, 12, EOS_ID]])
    state, token, total = lm.decoder.initial_state(None, 2), torch.full((2,), 2), torch.zeros(2)
    for t in range(x.shape[1]):
        logits, state = lm.decoder.step(token, state)
        total += torch.where(x[:, t] > 0, logits.log_softmax(-1).gather(1, x[:, t:t + 1])[:, 0], 0.0)
        token = x[:, t]
    assert torch.allclose(lm.log_prob(x), total, atol=1e-5)


def test_short_run_learns_and_keeps_its_kl(trained: tuple[Path, dict]) -> None:
    run_dir, metrics = trained
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in records if r["split"] == "train"]
    assert train[-1]["reconstruction"] > train[0]["reconstruction"] + 30  # log p(x|z) rises by > 30 nats
    assert all(r["kl"] > 0.3 for r in train[-5:])  # annealed to weight 1 and not collapsed
    test = metrics["test"]
    assert test["kl"] > 0.3 and test["tokens"] > 100 and test["perplexity"] > 1
    assert math.isclose(test["perplexity"], math.exp(test["nll"] * test["examples"] / test["tokens"]), rel_tol=1e-6)
    for name in ("samples.txt", "reconstructions.txt", "homotopy.txt", "loss_curves.png"):
        assert (run_dir / name).stat().st_size > 0
    assert len((run_dir / "homotopy.txt").read_text().splitlines()) == 7


def test_importance_weighted_nll_at_most_the_negative_elbo(trained: tuple[Path, dict], brown) -> None:
    model = load(trained[0] / "model")
    x = next(load_data(DataConfig(name="brown", vocab_size=2000), tokenizer=model.tokenizer).test.batches(
        50, shuffle=False))
    torch.manual_seed(0)
    elbo = torch.stack([objectives.elbo(model, x) for _ in range(20)]).mean(0)  # the bound, averaged over draws
    iw = objectives.log_likelihood(model, x, k=200)
    assert iw.mean() >= elbo.mean()
    assert (iw - elbo).mean() < 10  # a few nats, not a broken estimate


def test_generation_and_save_load(trained: tuple[Path, dict], tmp_path: Path) -> None:
    model = load(trained[0] / "model")
    assert model.tokenizer is not None
    assert sample_text(model, 3, seed=1, greedy=False) == sample_text(model, 3, seed=1, greedy=False)
    assert len(reconstruct_text(model, ["The jury said so .", "He went home ."])) == 2
    path = homotopy(model, "The jury said so .", "He went home .", steps=5)
    assert len(path) == 5 and all(isinstance(s, str) for s in path)
    with pytest.raises(ValueError, match="non-empty"):
        to_ids(model, ["fine", "  "])
    with pytest.raises(ValueError, match="token ids"):
        model.elbo(torch.rand(2, 5))
    tokenizer = json.loads((trained[0] / "model" / "tokenizer.json").read_text())
    tokenizer["words"][0], tokenizer["words"][1] = tokenizer["words"][1], tokenizer["words"][0]
    import shutil

    shutil.copytree(trained[0] / "model", tmp_path / "m")
    (tmp_path / "m" / "tokenizer.json").write_text(json.dumps(tokenizer))
    with pytest.raises(ModelFileError, match="not the tokenizer"):
        load(tmp_path / "m")


def test_compression_round_trip_of_real_sentences(trained: tuple[Path, dict], brown_test_lines: list[str]) -> None:
    model = load(trained[0] / "model")
    text = "\n".join(brown_test_lines[:200]) + "\n" + "odd  spacing\tand café, Zyzzyva\n\nno final newline"
    data = vaekit_api.compress(model, text)  # the one API; vaekit.codec.text underneath
    assert vaekit_api.decompress(model, data).text == text == decompress_text(model, data)
    assert len(data) < len(text.encode()) * 0.6  # a real saving even for this small model
    tampered = bytearray(data)
    tampered[len(tampered) // 2] ^= 1
    with pytest.raises(CodecError):
        decompress_text(model, bytes(tampered))


def test_language_model_run_and_codec_refusal(tmp_path: Path) -> None:
    config = load_config(ROOT / "configs" / "rnn-lm-brown.yaml",
                         [*SMALL[:4], "train.progress=false", "evaluate.limit=100", "train.epochs=1",
                          f"out_dir={tmp_path}", "name=lm"])
    test = run(config).test
    assert test["kl"] == 0 and test["elbo"] == test["log_likelihood"] and test["perplexity"] < 2000
    model = load(tmp_path / "lm" / "model")
    assert len(sample_text(model, 2, greedy=False)) == 2
    with pytest.raises(CodecError, match="sentence-vae"):
        compress_text(model, "a line\n")


def test_text_commands(trained: tuple[Path, dict], tmp_path: Path) -> None:
    model = str(trained[0] / "model")
    result = vaekit("sample", model, "-n", "3", "--draw", "-o", str(tmp_path / "s.txt"))
    assert result.returncode == 0 and len((tmp_path / "s.txt").read_text().splitlines()) == 3
    result = vaekit("reconstruct", model, "-n", "2")
    assert result.returncode == 0 and result.stdout.count(" in: ") == 2
    result = vaekit("interpolate", model, "The jury said so .", "He went home .", "--steps", "4")
    assert result.returncode == 0 and len(result.stdout.splitlines()) == 4
    source = tmp_path / "in.txt"
    source.write_text("The jury said so .\nHe  went home , at last .\n")
    assert vaekit("compress", model, str(source), "-o", str(tmp_path / "t.vk")).returncode == 0
    assert vaekit("decompress", str(tmp_path / "t.vk"), "-o", str(tmp_path / "out.txt")).returncode == 0
    assert (tmp_path / "out.txt").read_bytes() == source.read_bytes()
    result = vaekit("evaluate", model, "--limit", "20", "--k", "5")
    assert result.returncode == 0 and json.loads(result.stdout)["perplexity"] > 1
