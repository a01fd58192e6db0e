"""Render docs/benchmarks.md from benchmarks/results/*.json (run by every benchmark after it saves)."""
from __future__ import annotations

import json
import statistics
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
INTRO = ROOT / "benchmarks" / "intro.md"


def _header(r: dict) -> str:
    return f"Command: `{r['command']}` · date: {r['date']} · machine: {r['machine']}\n"


def _machines(r: dict) -> str:
    """The machine of a table whose rows were run at different times (benchmarks/common.save_row): one, or each with
    its rows when they differ (the file's own machine for rows saved before rows carried theirs)."""
    rows: dict[str, list[str]] = {}
    for row in r["rows"]:
        rows.setdefault(row.get("machine", r["machine"]), []).append(str(row["row"]))
    if len(rows) <= 1:
        return next(iter(rows), r["machine"])
    return "; ".join(f"{m} (rows {', '.join(names)})" for m, names in rows.items())


def _table(columns: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    cells = [[str(cell).replace("|", "\\|") for cell in row] for row in rows]  # a bare | in p(x|y) ends a cell
    lines += ["| " + " | ".join(row) + " |" for row in cells]
    return "\n".join(lines) + "\n"


def speed(r: dict) -> str:
    peak = f"of matmul peak ({r['matmul_gflops']:.0f} GFLOP/s)"
    table = _table(["configuration", "samples/s", "vs plain loop", peak],
                   [[c["name"], f"{c['samples_per_s']:,.0f}", f"{c['ratio']:.2f}x", f"{c['peak_fraction']:.0%}"]
                    for c in r["configurations"]])
    e = r["eval"]
    return (f"## Training speed\n\n{_header(r)}\n{r['setting']}\n\n{table}\n"
            f"torch.compile warm-up (the Trainer's first epoch less a steady one): {r['compile_warmup_s']:.1f} s "
            "with inductor's on-disk cache already warm; a first compile on a new machine takes longer.\n\n"
            f"## Evaluation speed\n\nk={e['k']} importance samples, {e['images']} MNIST test images: "
            f"**{e['images_per_s']:.1f} images/s** (target 30).\n")


QUALITY_MODELS = {
    "vae": ("Quality per CPU-minute", "the one-stochastic-layer VAE of Burda et al. 2015 (784-200-200-50, tanh)"),
    "iwae-2-layers": ("The best vaekit model on dynamically binarized MNIST",
                      "the two-stochastic-layer IWAE of Burda et al. 2015 (784-200-200-100-100-100-50, tanh, "
                      "trained on the k=5 bound)"),
}


def quality(r: dict) -> str:
    table = _table(["minutes", "epochs", "test images", "-log p(x) (nats)", "-ELBO (nats)", "active units"],
                   [[c["minutes"], c["epochs"], c["test_images"], c["nll"], -c["elbo"], c["active_units"]]
                    for c in r["curve"]])
    title, model = QUALITY_MODELS[r.get("model", "vae")]
    reference = r.get("reference", "Burda et al. 2015 Table 1, 86.76 nats after 3,280 epochs")
    return (f"## {title}\n\n{_header(r)}\n"
            f"Binarized MNIST (dynamic binarization for training, test binarized once with seed 0), {model}, "
            "batch 100, Adam, "
            f"cosine lr 1e-3 to 1e-4 over a {r['budget_minutes']}-minute budget ({r['epochs_planned']} epochs "
            f"planned, {r['epoch_seconds']} s/epoch), k={r['k']}; snapshots scored on a seeded random 1,000 "
            f"test images, the last row on all 10,000. Reference: {reference}.\n\n{table}")


def bits(r: dict) -> str:
    table = _table(["data", "minutes", "epochs", "test images", "k", "bits/dim (log p(x))", "bits/dim (ELBO)"],
                   [[c["data"], c["minutes"], c["epochs"], c["test_images"], c["k"], f"{c['bits_per_dim']:.3f}",
                     f"{c['elbo_bits_per_dim']:.3f}"] for c in r["runs"]])
    return f"## 8-bit bits/dim (discretized logistic mixture)\n\n{_header(r)}\n{r['setting']}\n\n{table}"


CODECS = ["vaekit", "gzip", "bz2", "lzma", "PNG", "WebP"]
PAPER = {"binarized-mnist": "BB-ANS 0.19", "mnist": "BB-ANS 1.41 (bz2 1.42, gzip 1.64, PNG 2.79, WebP 2.10); "
         "Bit-Swap 1.29", "fashion-mnist": "none"}
TARGET = {"binarized-mnist": 0.17, "mnist": 1.35}


def _lossless(r: dict) -> str:
    rows = []
    for row in r["lossless"]:
        rates = row["bits_per_dim"]
        best_other = min(rates[c] for c in CODECS[1:])
        target = TARGET.get(row["data"])
        rows.append([row["data"], *(f"**{rates[c]:.4f}**" if c == "vaekit" else f"{rates[c]:.4f}" for c in CODECS),
                     f"{row['neg_elbo_bits_per_dim']:.4f}", f"{row['overhead']:+.2%}",
                     f"{row['encode_images_per_s']:,.0f} / {row['decode_images_per_s']:,.0f}",
                     "-" if target is None else ("met" if rates["vaekit"] <= target else "missed") + f" (<= {target})",
                     PAPER[row["data"]], f"{rates['vaekit'] / best_other - 1:+.1%}"])
    return _table(["test set (10,000 images)", *CODECS, "-ELBO", "file over -ELBO", "images/s encode / decode",
                   "target", "papers", "vaekit vs best other"], rows)


def _best_at(points: list[dict], bpp: float) -> float | None:
    """The best PSNR a codec reaches at a rate of at most ``bpp`` (None: it cannot go that low)."""
    reached = [p["psnr"] for p in points if p["bpp"] <= bpp + 1e-9]
    return max(reached) if reached else None


def _lossy(entry: dict) -> str:
    rows = [[f"vaekit {model}", f"step {p['step']}", f"{p['bpp']:.3f}", f"{p['psnr']:.2f}", f"{p['ssim']:.3f}"]
            for model, points in entry["vaekit"].items() for p in points]
    rows += [[codec, f"quality {p['quality']}", f"{p['bpp']:.3f}", f"{p['psnr']:.2f}", f"{p['ssim']:.3f}"]
             for codec, points in entry["standard"].items() for p in points]
    table = _table(["codec", "setting", "bits/pixel", "PSNR (dB)", "SSIM"], rows)
    vaekit = [p for points in entry["vaekit"].values() for p in points]
    curves = {"vaekit (best model)": vaekit, **entry["standard"]}
    rates = sorted({p["bpp"] for points in curves.values() for p in points if p["bpp"] <= 1.0})
    verdict_rows = []
    for rate in rates:
        best = {name: _best_at(points, rate) for name, points in curves.items()}
        ours, others = best["vaekit (best model)"], [v for k, v in best.items() if k != "vaekit (best model)"]
        verdict = "-" if ours is None else "yes" if all(v is None or ours > v for v in others) else "no"
        verdict_rows.append([f"{rate:.3f}", *("-" if v is None else f"{v:.2f}" for v in best.values()), verdict])
    verdicts = _table(["rate (bits/pixel)", *curves, "vaekit above all"], verdict_rows)
    return (f"{table}\nThe best PSNR (dB) each codec reaches at or below each measured rate up to 1 bit per pixel "
            f"(- : it cannot go that low):\n\n{verdicts}")


def compression(r: dict) -> str:
    setting = "; ".join(f"**{name}**: {s['data']}, {s['model']}, trained {s['training']}"
                        for name, s in r["setting"].items())
    lossy = "\n".join(f"### Lossy, {data}\n\n{_lossy(entry)}" for data, entry in r["lossy"].items())
    return (f"## Compression\n\n{_header(r)}\nModels: {setting}.\n\n"
            "### Lossless (bits/dim; every vaekit file decoded back exactly in the same run)\n\n"
            "Binarized MNIST: the test set binarized once (seed 0), as in BB-ANS; gzip, bz2 and lzma compress "
            "the whole test set as one byte per pixel, PNG (1-bit for binarized) and lossless WebP one file per "
            "image, as in BB-ANS Table 2. vaekit: bits-back ANS, 12-bit latent buckets, batches up to 1,000, "
            "the whole file counted (header, initial bits, checksum). -ELBO: the model's mean test ELBO, one "
            f"posterior sample per image.\n\n{_lossless(r)}\n"
            f"![rate-distortion]({Path(r['figure']).relative_to('docs')})\n\n"
            "PSNR: mean over images of 10 log10(1/MSE) on the 8-bit outputs; SSIM: Gaussian 11x11 window. "
            "JPEG and WebP per image are real files with their headers; as 10x10 mosaics their headers and "
            "statistics are shared by 100 images, the setting kindest to them.\n\n"
            f"{lossy}")


def family(r: dict) -> str:
    rows, ratios = [], []
    for row in r["rows"]:
        v, p = row["vaekit"], row.get("pythae")
        rows.append([row["model"], f"**{v['nll']:.2f}**", f"{p['nll']:.2f}" if p else "-", row["reference"],
                     f"{v['epochs']} / {p['epochs']}" if p else str(v["epochs"]), f"{v['train_seconds'] / 60:.1f}",
                     f"{v['samples_per_s']:,.0f} / {p['samples_per_s']:,.0f}" if p else f"{v['samples_per_s']:,.0f}",
                     f"{v['nll_seconds']:.0f} / {p['nll_seconds']:.0f}" if p else f"{v['nll_seconds']:.0f}"])
        if "marginal_nll" in v:
            ratios.append(f"{row['model']}: -log p(x|y) {v['nll']:.2f} nats with the true labels; -log p(x) "
                          f"{v['marginal_nll']:.2f} nats, p(x) the mean of p(x|y) over the classes")
        if p:
            ratios.append(f"{row['model']}: training {v['samples_per_s'] / p['samples_per_s']:.2f}x, "
                          f"log p(x) estimate {p['nll_seconds'] / v['nll_seconds']:.2f}x faster, "
                          f"{p['nll'] - v['nll']:+.2f} nats better")
    table = _table(["model", "vaekit -log p(x)", "Pythae -log p(x)", "paper", "epochs (vaekit / Pythae)",
                    "minutes", "train samples/s (vaekit / Pythae)", f"k={r['k']} estimate s (vaekit / Pythae)"], rows)
    return (f"## The VAE family, side by side with Pythae\n\n{_header(r)}\n"
            f"Binarized MNIST: the 60,000 training images binarized once (seed 1; Pythae's trainer takes a fixed "
            f"array), the first {r['test_images']} test images binarized once (seed 0); -log p(x) in nats with "
            f"k={r['k']} importance samples. Adam 1e-3, batch 100, constant rate, one wall-clock budget per model "
            f"(Pythae's, which stops at the end of the epoch that passes {r['minutes']:g} minutes; vaekit gets the "
            "same seconds). The papers' figures are after thousands of epochs with dynamic binarization on all "
            f"10,000 test images: far larger budgets than these.\n\n{table}\n" + "".join(f"- {x}\n" for x in ratios))


def semi_supervised(r: dict) -> str:
    """Mean and spread over the seeds of each (labels, model) cell."""
    cells: dict[tuple[int, str], list[dict]] = {}
    for row in r["rows"]:
        cells.setdefault((row["labels"], row["model"]), []).append(row)
    rows = []
    for (labels, model), runs in sorted(cells.items()):
        errors = [run["error"] for run in runs]
        baselines = [run["baseline_error"] for run in runs]
        paper = r["paper"].get(model, {}).get(str(labels), "-") if r["data"] == "binarized-mnist" else "-"
        name = {"m1-m2": "M1+M2"}.get(model, model.upper())
        rows.append([labels, name, len(runs), f"**{statistics.mean(errors):.2f}** ± {statistics.pstdev(errors):.2f}",
                     f"{min(errors):.2f}-{max(errors):.2f}",
                     f"{statistics.mean(baselines):.2f} ± {statistics.pstdev(baselines):.2f}", paper,
                     round(statistics.mean(run["epochs"] for run in runs)),
                     f"{statistics.mean(run['minutes'] for run in runs):.1f}"])
    table = _table(["labels", "model", "seeds", "test error % (mean ± sd)", "range", "labelled-only baseline %",
                    "paper %", "epochs", "minutes"], rows)
    name = {"binarized-mnist": "MNIST", "binarized-fashion-mnist": "Fashion-MNIST"}.get(r["data"], r["data"])
    return (f"## Semi-supervised {name}\n\n{_header(r)}\n"
            f"Dynamically binarized {name}, 50,000 training images of which N/10 per class keep their labels "
            "(chosen by the seed, one run per seed); error on all 10,000 test images. The models are the recipes "
            f"configs/m1-m2-mnist-100.yaml, configs/m2-mnist-100.yaml and configs/m1-mnist-100.yaml"
            f"{' with ' + ', '.join(r['overrides']) if r['overrides'] else ''}, {r['epochs']} epochs each on 2 "
            "cores (minutes: the mean training time). The baseline is an MLP of the classifier's widths (784-500-10 "
            "beside M2 and M1+M2, 784-600-600-10 beside M1) trained on the labelled examples alone, in the same run. "
            "Paper: Kingma et al. "
            "2014 Table 1 (MNIST only); their M1 is classified by a TSVM (11.82% with 100 labels), and their "
            "labelled-only neural network scores 25.81% with 100 labels.\n\n" + table)


def adversarial(r: dict) -> str:
    units = {"parzen": "nats"}
    rows = [[row["row"], f"stopped: {row['failed']}" if row["value"] is None else
             f"**{row['value']:.2f}**" + (f" ± {row['spread']:.2f}" if "spread" in row else ""),
             units.get(row["row"], "% error"), r["paper"][row["row"]], row["epochs"], row["minutes"],
             f"`{row['command']}`", row["date"]]
            for row in r["rows"]]
    table = _table(["row", "vaekit", "unit", "paper", "epochs", "minutes", "command", "date"], rows)
    return ("## Adversarial autoencoders\n\n"
            f"Machine: {_machines(r)}. Each row was run on its own, by the command beside it (from benchmarks/).\n\n"
            "Makhzani et al. 2015 Tables 1-3 beside vaekit's AAEs (benchmarks/aae.py says each row's setting). "
            "The Parzen row is the mean log-density of the 10,000 test images under a Parzen window on 10,000 "
            "samples (width chosen on validation images), ± its standard error; the paper trained far longer.\n\n"
            + table)


def bayes_by_backprop(r: dict) -> str:
    def auroc(row: dict) -> str:
        both = f"{row['auroc_entropy']:.3f}"
        return both + (f" / {row['auroc_mutual_information']:.3f}" if row["row"].startswith("bbb") else "")

    rows = [[row["row"], f"**{row['error']:.2f}**", row["paper_error"], f"{row['ece']:.4f}", f"{row['nll']:.4f}",
             auroc(row), row["epochs"], row["minutes"], f"`{row['command']}`", row["date"]] for row in r["rows"]]
    table = _table(["row", "test error %", "paper %", "ECE", "-log p(y|x)", "OOD AUROC (entropy / MI)", "epochs",
                    "minutes", "command", "date"], rows)
    return ("## Bayes by Backprop\n\n"
            f"Machine: {_machines(r)}. Each row was run on its own, by the command beside it (from benchmarks/).\n\n"
            "Blundell et al. 2015 Table 1 beside vaekit: MNIST, 50,000 training images, two hidden layers of the "
            "width in the row's name; bbb = Bayes by Backprop with the scale-mixture prior, sgd = the same net with "
            "point weights (SGD, momentum 0.9), dropout = sgd with dropout 0.5. The paper trained for 600 epochs. "
            "ECE: expected calibration error, 15 bins. OOD AUROC: how well the uncertainty tells Fashion-MNIST's "
            "test images from MNIST's (1 is perfect, 0.5 chance).\n\n" + table)


def reproductions(r: dict) -> str:
    def met(row: dict) -> str:
        if row["met"] is None:
            return "the baseline"
        over = ([f"by {row['error'] - row['target']:.2f} points"] if row["error"] > row["target"] else []) + (
            [f"{row['minutes']} minutes, over {r['budget_minutes']}"] if row["minutes"] > r["budget_minutes"] else [])
        return "yes" if row["met"] else "no, " + " and ".join(over)

    rows = [[row["row"], f"**{row['error']:.2f}**", row["target"] or "-", row["paper"], met(row),
             f"{row['ece']} / {row['ood_auroc']}" if "ece" in row else "-", " + ".join(str(e) for e in row["epochs"]),
             row["minutes"], row["seed"], " ".join(row["extra"]) or "the recipe", f"`{row['command']}`", row["date"]]
            for row in r["rows"]]
    figures = "".join(f"\n![{row['row']}](../{row['figure']})\n" for row in r["rows"] if "figure" in row)
    return ("## The applications at their papers' level\n\n"
            f"Machine: {_machines(r)}. Each row was run on its own, by the command beside it (from benchmarks/), "
            "nothing else heavy running unless the notes say so. benchmarks/reproductions.py says each row's "
            "recipe; a row of several stages (M1, then M2 on it) gives the epochs of each and the minutes of all. "
            "Test error in %, on all 10,000 MNIST test images; a target is met by an error at most the target "
            f"within {r['budget_minutes']} minutes of training. ECE: the classifiers' expected calibration error (15 "
            "bins); OOD AUROC: how well the predictive entropy tells Fashion-MNIST's test images from MNIST's.\n\n"
            + _table(["row", "test error %", "target %", "paper %", "target met", "ECE / OOD AUROC", "epochs",
                      "minutes", "seed", "overrides", "command", "date"], rows) + figures)


def text(r: dict) -> str:
    models = [row for row in r["rows"] if row["row"] != "codec"]
    rows = [[row["row"], row["sentences"], f"**{row['nll']:.2f}**", f"{row['nll_per_token']:.4f}",
             f"**{row['perplexity']:.1f}**", f"{row['elbo']:.2f}", f"{row['kl']:.2f}", row["active_units"],
             row["k"] or "exact", f"{row['paper_ptb']['nll']}" + (f" (KL {row['paper_ptb']['kl']})"
                                                                  if row["paper_ptb"]["kl"] is not None else ""),
             row["epochs"], row["minutes"], f"`{row['command']}`", row["date"]] for row in models]
    table = _table(["model", "test sentences", "NLL (nats/sentence)", "NLL/token", "perplexity", "ELBO", "KL",
                    "active units", "k", "Bowman PTB NLL", "epochs", "minutes", "command", "date"], rows)
    codec = [row for row in r["rows"] if row["row"] == "codec"]
    coded = "" if not codec else "\n\n" + _table(
        ["lines", "characters", "exact round trip", "vaekit bits/char", "bz2 -9", "lzma -9e", "encode min",
         "decode min", "command", "date"],
        [[c["lines"], c["characters"], c["exact"], f"**{c['vaekit_bpc']:.4f}**", f"{c['bz2_bpc']:.4f}",
          f"{c['lzma_bpc']:.4f}", c["encode_minutes"], c["decode_minutes"], f"`{c['command']}`", c["date"]]
         for c in codec])
    return ("## Text: the sentence VAE on the Brown corpus\n\n"
            f"Machine: {_machines(r)}. Each row was run by the command beside it (from benchmarks/).\n\n"
            "Brown corpus split by file (seeded; 45,182 training, 4,929 validation and 5,436 test sentences of at "
            "most 50 tokens with </s>), 10,000 case-sensitive words, the rest <unk>. Each model trained for at most "
            "the same wall-clock minutes on 2 cores (a row with early stopping keeps its best validation weights). "
            "The VAE's NLL is the importance-weighted estimate with k samples "
            "per test sentence; the language model's is exact. Perplexity = exp(NLL summed over sentences / tokens, "
            "</s> counted). Bowman et al. 2016 Table 2 is on the Penn Treebank, a different corpus and vocabulary: "
            "compare the gap between VAE and language model, not the NLL itself.\n\n" + table
            + coded.replace("\n\n|", "\n\nLossless compression of every Brown test sentence (one a line, words "
                            "joined by spaces) with the sentence VAE's model, against bz2 and lzma on the same "
                            "bytes:\n\n|", 1))


def audio(r: dict) -> str:
    def pct(v: float | None) -> str:
        return "" if v is None else f"{100 * v:.1f}%"

    def bold(text: str) -> str:
        return f"**{text}**" if text else ""

    spectro = [[row["row"], f"{row['elbo']:.1f}", f"{row['log_likelihood']:.1f} (k={row['k']})", f"{row['lsd_db']:.2f}",
                bold(pct(row["reconstructions_recognized"])), bold(pct(row.get("generations_recognized"))),
                bold(f"{row['real_time_factor']:.0f}x" if "real_time_factor" in row else ""), row["epochs"],
                row["train_minutes"], f"`{row['command']}`", row["date"]]
               for row in r["rows"] if row["row"] in ("vae", "conditional-vae")]
    parts = ["## Audio: spoken digits\n\n"
             f"Machine: {_machines(r)}. Each row was run by the command beside it (from benchmarks/).\n\n"
             "Spectrogram rows: 3,000 spoken digits synthesized by espeak-ng (seed 0; 2,400 training, 300 "
             "validation, 300 test clips), 0.98 s at 16 kHz, 64x64 standardized log-mel spectrograms, Gaussian "
             "likelihood (nats per spectrogram). LSD: root mean square dB difference of test reconstructions. "
             "Recognized: by the convolutional digit classifier trained on the real training clips. Generation speed: "
             "seconds of audio (decoder and 32 Griffin-Lim iterations) per wall-clock second on 2 cores; targets: "
             "generations 90%, reconstructions 95%, 20x real time (RAVE, Caillon & Esling 2021, on a laptop CPU).\n"]
    for row in r["rows"]:
        if row["row"] == "classifier":
            parts.append(f"Digit recognizer on the real test clips: error {pct(row['error'])} after {row['epochs']} "
                         f"epochs ({row['train_minutes']} min), `{row['command']}`, {row['date']}.\n")
    if spectro:
        parts.append(_table(["model", "test ELBO", "log p(x)", "LSD dB", "reconstructions recognized",
                             "generations recognized", "generation speed", "epochs", "train min", "command", "date"],
                            spectro) + "\n")
    for row in r["rows"]:
        if row["row"] == "sequence-vae":
            probes = [[per, bold(pct(p["latent_error"])), pct(p["summary_error"])] for per, p in row["probes"].items()]
            parts.append("Free Spoken Digit Dataset (real speech, 6 speakers), 13-coefficient MFCC sequences, "
                         f"sequence VAE: test ELBO {row['elbo']:.1f}, log p(x) {row['log_likelihood']:.1f} nats "
                         f"(k={row['k']}), {row['active_units']} active units, {row['epochs']} epochs "
                         f"({row['train_minutes']} min), `{row['command']}`, {row['date']}. Few-label digit "
                         "classification error on the 300 test sequences by a linear probe (mean of 3 label draws), "
                         "on the posterior means against each sequence's mean and standard deviation of frames:\n\n"
                         + _table(["labels per class", "latent codes", "frame statistics"], probes) + "\n")
    return "\n".join(parts)


def scale(r: dict) -> str:
    data = {"mnist": "binarized MNIST in memory (55,000 training images), MLP",
            "conv": "binarized MNIST in memory, convolutional",
            "x10-stream": "10x MNIST (535,000 training images, 470 MB uint8) streamed from disk, MLP",
            "x10-memory": "10x MNIST loaded into memory (float32), MLP",
            "folder-stream": "50,000 64x64 RGB JPEGs decoded batch by batch (DataLoader workers), conv, 100 steps",
            "folder-memory": "50,000 64x64 RGB JPEGs decoded into memory first (float32), conv, 100 steps",
            "folder-stream-b32": "the same folder streamed, batches of 32 instead of 128, conv, 100 steps"}
    first = {row["data"]: row["samples_per_second"] for row in r["rows"] if row["processes"] == 1}
    rows = [[data[row["data"]], row["processes"], f"{row['samples_per_second']:,.0f}",
             f"{row['samples_per_second'] / first[row['data']]:.2f}x" if row["data"] in first else "",
             f"{row['peak_rss_mb_largest']:,}", f"{row['peak_rss_mb_total']:,}", f"{row['test_elbo']:.2f}",
             f"`{row['command']}`", row["date"]] for row in r["rows"]]
    return ("## Scale: processes and data larger than memory\n\n"
            f"Machine: {_machines(r)}. One epoch of the VAE of configs/vae-mnist.yaml (eager, global batch "
            f"{r['batch']}) by `vaekit train`, with `--nproc 2` for 2 processes (torchrun, gloo, one thread each). "
            "Samples/s: training steps between log lines of the epoch, start-up and evaluation left out; the ratio is "
            "against 1 process on the same data in the same run. Peak RSS: VmRSS polled every 0.1 s, of the largest "
            "process and of all processes of the run together (with `--nproc 2`: the command, torchrun's agent "
            "and 2 workers). Test ELBO: k=10 on 100 test images, after the one epoch.\n\n"
            + _table(["data and model", "processes", "samples/s", "vs 1 process", "peak RSS MB (largest)",
                      "peak RSS MB (all)", "test ELBO", "command", "date"], rows))


def ddp_overlap(r: dict) -> str:
    rows = [[row["architecture"], f"{row['parameters']:,}", row["step_ms_local"], row["step_ms_synced"],
             row["allreduce_ms_alone"], row["exposed_ms"], f"**{100 * row['hidden_share']:.0f}%**"]
            for row in r["rows"]]
    return ("## Data-parallel communication: the all-reduce and its overlap with backward\n\n"
            f"{_header(r)}\n\nTwo gloo processes (one thread each) train the VAE of configs/vae-mnist.yaml on "
            f"halves of a global batch of {r['batch']} through vaekit's DDP wrapper; medians over blocks of 10 "
            f"steps ({r['steps']} steps each way), synced and local (`no_sync`) alternating. Exposed: synced - "
            "local; hidden: the share of the all-reduce alone that the backward pass hides.\n\n"
            + _table(["network", "parameters", "step ms, local", "step ms, synced", "all-reduce ms alone",
                      "exposed ms", "hidden"], rows))


def gpu(r: dict) -> str:
    rows = [[precision, f"{v['trainer']:,.0f}", f"{v['plain']:,.0f}", f"**{v['trainer'] / v['plain']:.2f}x**"]
            for precision, v in r["rows"].items()]
    share = "unknown (no peak on record for this GPU)" if r["bf16_peak_share"] is None else \
        f"{100 * r['bf16_peak_share']:.1f}%"
    codec = r["codec"]
    return (f"## On a GPU\n\n{_header(r)}\n\nGPU: {r['gpu']}. The convolutional VAE (channels 32, 64, 128, "
            f"logistic mixture) on synthesized 64x64 RGB images, batch {r['batch']}, torch.compile, steps "
            f"{r['warmup']}-{r['steps']} timed; the plain loop is the same model's compiled loss with Adam and "
            f"autocast in the same run.\n\n"
            + _table(["precision", "Trainer samples/s", "plain loop samples/s", "Trainer vs plain"], rows)
            + f"\nbf16 vs fp32 (Trainer): **{r['bf16_vs_fp32']:.2f}x**; {r['step_gflops']} GFLOP a step; share of "
            f"the dense bf16 peak reached: {share}. k=5000 log p(x): {r['k5000_images_per_second']} images/s. Codec "
            f"round trip of {codec['images']} images: exact {codec['exact']}, the same bytes as on the CPU "
            f"{codec['same_bytes_as_cpu']}, {codec['bits_per_dim']} bits/dim. "
            + (f"Two GPUs: {r['ddp_two_gpus']}.\n" if "ddp_two_gpus" in r else "One GPU: no DDP step.\n"))


def explorer(r: dict) -> str:
    rows = [[row["endpoint"], row["median_ms"], row["slowest_ms"]] for row in r["rows"]]
    return ("## Explorer response times\n\n"
            f"Machine: {r['machine']}. `{r['command']}` (from benchmarks/), {r['date']}. The demo's VAE (784-400-20, "
            "binarized MNIST); 30 calls each after a warm-up, in process (no HTTP server). Analyze includes the "
            "importance-weighted log-likelihood (k=200) and the lossless compressed file.\n\n"
            + _table(["endpoint", "median ms", "slowest ms"], rows))


def own_data(r: dict) -> str:
    """Your own data: per kind, the recipe, minutes, log-likelihood and the lossless file against general tools."""
    rows = []
    for row in r["rows"]:
        ours = row.get("vaekit_bits_per_element")
        others = ", ".join(f"{name} {bits:.3f}" for name, bits in row["reference_bits_per_element"].items())
        best = min(row["reference_bits_per_element"].values())
        coded = "n/a (a density on continuous spectrograms: no lossless code)" if ours is None else \
            f"**{ours:.3f}** ({row['vaekit_bytes']:,} bytes; {best / ours:.2f}x smaller than the best other)"
        rows.append([row["kind"], row["data"], f"`configs/{row['recipe']}.yaml`", row["minutes"], row["steps"],
                     f"{row['log_likelihood']} {row['unit']}", coded, others])
    samples = next((row.get("samples") for row in r["rows"] if row.get("samples")), None)
    text = "\n\nSentences the text model samples (greedy, seed 1):\n\n" + "\n".join(f"- {s}" for s in samples) \
        if samples else ""
    return ("## Your own data\n\n" + _header(r) + "\nThree kinds of data that look nothing like MNIST or Brown, "
            "made by `vaekit.data.synthetic`, each trained by its recipe from the command line as a user would "
            "(`vaekit train --config configs/own-X.yaml data.name=...`, defaults otherwise), then coded losslessly "
            "with `vaekit compress` (decoded back and checked) on data of the same kind the model never saw. Sizes "
            "are whole files (header and file names included), in bits per element (pixel, byte of text, audio "
            "sample); xz (-9e) and bzip2 (-9) are of the raw pixels with the file names, the text, or the 16-bit "
            "samples.\n\n"
            + _table(["data", "what", "recipe", "minutes", "steps", "test log p(x)", "vaekit lossless bits/element",
                      "others bits/element"], rows) + text + "\n")


def portability(r: dict) -> str:
    """Files that decode anywhere: same bytes and exact decodes across threads and instruction sets, and the cost."""
    encoders = round(row_count ** 0.5) if (row_count := r["rows"][0]["decodes"]) else 0
    rows = [[row["model"], f"the same bytes from all {encoders}" if row["files"] == 1
             else f"{row['files']} different files from {encoders}", f"**{row['exact']} / {row['decodes']}**"
             + (f" ({'; '.join(row['other_outcomes'])})" if row["other_outcomes"] else ""),
             f"{row['compress_images_per_s']:,.0f}", f"{row['decompress_images_per_s']:,.0f}",
             f"{row['elbo_images_per_s']:,.0f}"] for row in r["rows"]]
    return ("## Files that decode anywhere\n\n" + _header(r) + "\n" + r["setting"] + ".\n\n"
            + _table(["model", "files written", "decodes exact", "compress images/s", "decompress images/s",
                      "float32 ELBO pass images/s (baseline)"], rows) + "\n")


def hostile_files(r: dict) -> str:
    """The mutation fuzz: outcomes of every mutant, the slowest refusal and the peak memory."""
    outcomes = ", ".join(f"{name}: {count:,}" for name, count in sorted(r["outcomes"].items()))
    rows = [[kind, ", ".join(f"{name} {count:,}" for name, count in sorted(counts.items()))]
            for kind, counts in r["by_kind"].items()]
    defects = sum(c for name, c in r["outcomes"].items() if name not in ("CodecError", "decoded as the genuine file"))
    return ("## Hostile files\n\n" + _header(r) + "\n" + r["setting"] + ".\n\n"
            f"**{r['mutants']:,} mutants, {defects} outcomes other than the genuine file's output or one CodecError**; "
            f"{outcomes}. Slowest decode {r['worst_seconds']:.2f} s, peak memory of a worker "
            f"{r['peak_mb']:,.0f} MB.\n\n" + _table(["mutation", "outcomes"], rows) + "\n")


def precision(r: dict) -> str:
    rows = [[row["model"], f"{row['fp32']:,.0f}", f"{row['bf16']:,.0f}", f"**{row['ratio']:.2f}x**",
             f"{row['elbo_fp32']:.2f}", f"{row['elbo_bf16']:.2f}"] for row in r["rows"]]
    units = r.get("bf16_units", "not recorded")
    return (f"## bf16 against fp32 training on this CPU\n\n{_header(r)}\n{r['setting']} The CPU's bf16 "
            f"instructions: {units}.\n\n"
            + _table(["model", "fp32 samples/s", "bf16 samples/s", "bf16 / fp32", "valid ELBO fp32",
                      "valid ELBO bf16"], rows) + "\n")


SECTIONS = {"speed": speed, "precision": precision, "quality": quality, "bits_per_dim": bits,
            "compression": compression, "family": family,
            "quality_iwae-2-layers": quality,
            "semi_supervised_binarized-mnist": semi_supervised,
            "semi_supervised_binarized-fashion-mnist": semi_supervised, "aae": adversarial,
            "bnn": bayes_by_backprop, "reproductions": reproductions, "text": text,
            "audio": audio, "scale": scale, "ddp_overlap": ddp_overlap, "gpu": gpu,
            "explorer": explorer, "own_data": own_data, "portability": portability,
            "hostile_files": hostile_files}


def main() -> None:
    parts = [INTRO.read_text()] if INTRO.exists() else ["# Benchmarks\n"]
    notes = ROOT / "benchmarks" / "notes.md"
    for name, render in SECTIONS.items():
        path = RESULTS / f"{name}.json"
        if path.exists():
            parts.append(render(json.loads(path.read_text())))
        elif name == "gpu":
            parts.append("## On a GPU\n\nNot yet measured on a GPU: `make gpu-check` (benchmarks/gpu.py) on a "
                         "machine with one writes this section.\n")
        else:
            parts.append(f"## {name}\n\nNot yet run: `python benchmarks/{name}.py`.\n")
    if notes.exists():
        parts.append(notes.read_text())
    (ROOT / "docs" / "benchmarks.md").write_text("\n".join(parts))


if __name__ == "__main__":
    main()
