"""The sentence VAE on the Brown corpus next to Bowman et al. 2016 (arXiv:1511.06349, Table 2: on the Penn Treebank,
the VAE's NLL 101 with KL 2 against the language model's 100), and the lossless codec on the Brown test sentences
against bz2 and lzma.

Rows:
- ``sentence-vae`` and ``rnn-lm``: configs/sentence-vae-brown.yaml and configs/rnn-lm-brown.yaml, each trained for
  ``--minutes`` minutes on 2 cores (the same time), then evaluated on every Brown test sentence of at most 50
  tokens: NLL per sentence and per token and perplexity (the VAE's from the importance-weighted estimate with
  ``--k`` samples; the language model's exact), the KL and active units.
- ``codec``: the trained VAE codes the Brown test split's sentences (all of them, as lines of text, words joined by
  spaces) losslessly into a file; bits per character against bz2 and lzma at their strongest settings on the same
  text. Needs the ``sentence-vae`` row's model (kept in benchmarks/runs/).
"""
from __future__ import annotations

import argparse
import bz2
import lzma
import time

from common import ROOT, save_row, use_shared_data

use_shared_data()

from vaekit.config import DataConfig, load_config  # noqa: E402
from vaekit.run import run  # noqa: E402

ROWS = ["sentence-vae", "rnn-lm", "codec"]
RECIPES = {"sentence-vae": "sentence-vae-brown.yaml", "rnn-lm": "rnn-lm-brown.yaml"}
RUNS = ROOT / "benchmarks" / "runs"
PAPER = {"sentence-vae": {"nll": 101, "kl": 2}, "rnn-lm": {"nll": 100, "kl": None}}  # PTB, Bowman Table 2


def model_row(name: str, minutes: float, k: int, extra: list[str]) -> dict:
    overrides = [f"train.max_minutes={minutes}", "train.epochs=1000", f"evaluate.k={k}", "evaluate.limit=null",
                 "train.progress=false", f"name={name}", f"out_dir={RUNS}", *extra]
    config = load_config(ROOT / "configs" / RECIPES[name], overrides)
    metrics = run(config, overwrite=True).as_dict()
    test, train = metrics["test"], metrics["train"]
    return {"row": name, "paper_ptb": PAPER[name], "sentences": test["examples"], "tokens": test["tokens"],
            "nll": test["nll"], "nll_per_token": test["nll_per_token"], "perplexity": test["perplexity"],
            "elbo": test["elbo"], "kl": test["kl"], "active_units": test["active_units"], "k": test["k"],
            "epochs": train["epochs"], "steps": train["steps"], "minutes": round(train["seconds"] / 60, 2),
            "extra": extra}


def codec_row() -> dict:
    from vaekit.codec.text import compress_text, decompress_text
    from vaekit.data.registry import DATASETS
    from vaekit.data.text import brown_files, brown_splits
    from vaekit.saving import load

    model = load(RUNS / "sentence-vae" / "model")
    ds = DATASETS["brown"]
    config = DataConfig(name="brown")
    lines = brown_splits(brown_files(ds.fetch("archive", None, False)), config)["test"][0]
    text = "\n".join(lines) + "\n"
    raw = text.encode()
    start = time.perf_counter()
    coded = compress_text(model, text)
    seconds = time.perf_counter() - start
    start = time.perf_counter()
    exact = decompress_text(model, coded) == text
    decode_seconds = time.perf_counter() - start
    chars = len(text)
    return {"row": "codec", "lines": len(lines), "characters": chars, "bytes": len(raw), "exact": exact,
            "vaekit_bytes": len(coded), "vaekit_bpc": 8 * len(coded) / chars,
            "bz2_bpc": 8 * len(bz2.compress(raw, 9)) / chars,
            "lzma_bpc": 8 * len(lzma.compress(raw, preset=9 | lzma.PRESET_EXTREME)) / chars,
            "encode_minutes": round(seconds / 60, 2), "decode_minutes": round(decode_seconds / 60, 2)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", nargs="+", default=ROWS, choices=ROWS)
    parser.add_argument("--minutes", type=float, default=20.0, help="training time of each model")
    parser.add_argument("--k", type=int, default=50, help="importance samples of the VAE's test NLL")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="overrides of the model rows")
    args = parser.parse_args()
    for name in args.rows:  # each row is saved as soon as it ends
        row = codec_row() if name == "codec" else model_row(name, args.minutes, args.k, args.set)
        print(row, flush=True)
        save_row("text", row, ROWS, {"recipes": RECIPES})


if __name__ == "__main__":
    main()
