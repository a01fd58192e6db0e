"""Your own data: three kinds that look nothing like MNIST or Brown, made here (vaekit.data.synthetic), each trained
by its configs/own-*.yaml recipe as a user would (`vaekit train --config configs/own-X.yaml data.name=...`), then
scored on its test split and coded losslessly against general-purpose compressors, whole files counted.

    python benchmarks/own_data.py            # about 20 minutes on 2 cores
"""
from __future__ import annotations

import bz2
import io
import json
import lzma
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile
from common import ROOT, save_result
from PIL import Image

from vaekit.data.synthetic import kitchen_sentences, shape_images, spoken_words

VAEKIT = str(Path(sys.executable).parent / "vaekit")


def train(recipe: str, data: Path, out: Path, *overrides: str) -> tuple[dict, float, str]:
    """One `vaekit train` run: its metrics.json, minutes and the model folder."""
    start = time.perf_counter()
    result = subprocess.run([VAEKIT, "train", "--config", str(ROOT / "configs" / f"{recipe}.yaml"),
                             f"data.name={data}", f"out_dir={out}", *overrides],
                            capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if result.returncode:
        raise SystemExit(result.stderr)
    minutes = (time.perf_counter() - start) / 60
    run_dir = next(p for p in out.iterdir() if (p / "metrics.json").exists())
    return json.loads((run_dir / "metrics.json").read_text()), minutes, str(run_dir / "model")


def vaekit_compress(model: str, inputs: Path, out: Path) -> int:
    result = subprocess.run([VAEKIT, "compress", model, str(inputs), "-o", str(out)], capture_output=True, text=True,
                            stdin=subprocess.DEVNULL)
    if result.returncode:
        raise SystemExit(result.stderr)
    check = subprocess.run([VAEKIT, "decompress", str(out), "-o", str(out.with_suffix(".out")), "--model", model],
                           capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if check.returncode:
        raise SystemExit(check.stderr)
    return out.stat().st_size


def general(raw: bytes) -> dict[str, int]:
    return {"xz": len(lzma.compress(raw, preset=9 | lzma.PRESET_EXTREME)), "bzip2": len(bz2.compress(raw, 9))}


def images(work: Path) -> dict:
    folder = shape_images(work / "shapes", per_class=500)  # 1,500 images of 7x9 pixels, 4 grey levels
    metrics, minutes, model = train("own-images", folder, work / "runs-images")
    held_out = shape_images(work / "new-shapes", per_class=100, seed=1)  # 300 images the model never saw
    files = sorted(held_out.rglob("*.png"))
    pixels = np.stack([np.asarray(Image.open(p)) for p in files])
    ours = vaekit_compress(model, held_out, work / "shapes.vkz")
    names = "\n".join(p.relative_to(held_out).as_posix() for p in files).encode()
    test = metrics["test"]
    return {"kind": "images", "data": f"{len(files)} held-out PNGs of 7x9 pixels, 4 grey levels, 3 class folders "
            "(the model trained on 1,200 of 1,500 such)", "recipe": "own-images", "minutes": round(minutes, 2),
            "steps": metrics["train"]["steps"], "log_likelihood": round(test["log_likelihood"], 2),
            "unit": "nats per image", "bits_per_dim": round(test["bits_per_dim"], 4),
            "elements": int(pixels.size), "vaekit_bytes": ours,
            "reference": {**general(pixels.tobytes() + names), "PNG files": sum(p.stat().st_size for p in files)}}


def text(work: Path) -> dict:
    path = kitchen_sentences(work / "kitchen.txt", count=20000)
    metrics, minutes, model = train("own-text", path, work / "runs-text")
    held_out = kitchen_sentences(work / "new-kitchen.txt", count=1000, seed=1)
    ours = vaekit_compress(model, held_out, work / "kitchen.vkz")
    raw = held_out.read_bytes()
    sample = subprocess.run([VAEKIT, "sample", model, "-n", "5", "--seed", "1"], capture_output=True, text=True)
    test = metrics["test"]
    return {"kind": "text", "data": "1,000 held-out English cooking instructions (the model trained on 16,000 "
            f"of 20,000 such), {len(raw):,} bytes", "recipe": "own-text", "minutes": round(minutes, 2),
            "steps": metrics["train"]["steps"], "log_likelihood": round(test["log_likelihood"], 2),
            "unit": "nats per sentence", "bits_per_dim": None, "elements": len(raw), "vaekit_bytes": ours,
            "reference": general(raw), "samples": sample.stdout.splitlines()}


def sounds(work: Path) -> dict:
    folder = spoken_words(work / "words", per_word=100)  # 300 clips at 8 kHz
    metrics, minutes, _ = train("own-audio", folder, work / "runs-audio")
    files = sorted(folder.rglob("*.wav"))
    flac, pcm = 0, []
    for p in files:
        wave, rate = soundfile.read(p, dtype="int16")
        pcm.append(wave.tobytes())
        buffer = io.BytesIO()
        soundfile.write(buffer, wave, rate, format="FLAC")
        flac += len(buffer.getvalue())
    raw = b"".join(pcm)
    test = metrics["test"]
    return {"kind": "audio", "data": f"{len(files)} WAVs of 3 words spoken by espeak-ng at 8 kHz, 3 class folders",
            "recipe": "own-audio", "minutes": round(minutes, 2), "steps": metrics["train"]["steps"],
            "log_likelihood": round(test["log_likelihood"], 2), "unit": "nats per spectrogram (continuous: a density)",
            "bits_per_dim": None, "elements": len(raw) // 2, "vaekit_bytes": None,
            "log_spectral_distance": round(test["log_spectral_distance"], 2),
            "reference": {**general(raw), "FLAC files": flac, "WAV files": sum(p.stat().st_size for p in files)}}


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        rows = [run(Path(tmp)) for run in (images, text, sounds)]
    for row in rows:
        if row["vaekit_bytes"]:
            row["vaekit_bits_per_element"] = round(8 * row["vaekit_bytes"] / row["elements"], 4)
        row["reference_bits_per_element"] = {k: round(8 * v / row["elements"], 4) for k, v in row["reference"].items()}
    save_result("own_data", {"rows": rows})


if __name__ == "__main__":
    main()
