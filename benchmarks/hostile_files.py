"""Mutation fuzz and forged headers against the decoder, under a memory and a time limit.

Three genuine files (lossless and lossy images from a trained VAE, and a VQ-VAE's lossless file) are mutated: random
bytes flipped anywhere (the outer digest recomputed, as a forger would, so the decoder's own checks are what is
tested), and every header field set to hostile values (huge, negative, nested, of the wrong type). Each mutant is
decoded in a worker process whose address space is capped; each decode gets a time limit. Records the outcome of every
mutant (decoded exactly, refused with CodecError, or anything else: a defect), the slowest refusal and the peak
memory.

    python benchmarks/hostile_files.py       # about 5 minutes on 2 cores
"""
from __future__ import annotations

import hashlib
import json
import random
import struct
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import torch
from common import ROOT, save_result, use_shared_data

use_shared_data()

from vaekit import VAE, DataConfig, compress, fit, load_data, save  # noqa: E402
from vaekit.codec.container import FORMAT_VERSION, MAGIC, unpack  # noqa: E402
from vaekit.models import VQVAE  # noqa: E402

MEMORY_LIMIT = 4 << 30
TIME_LIMIT = 30  # seconds per decode
HOSTILE = [10**12, -1, 0, 2**70, "x" * 10_000, [[[[[[[[[[]]]]]]]]]], {"a": [1] * 10_000}, None, True, 1e308, "NaN"]

_WORKER = """
import json, resource, signal, sys, time
resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
import numpy as np, torch, vaekit

class Timeout(BaseException):
    pass

def alarm(*_):
    raise Timeout()

signal.signal(signal.SIGALRM, alarm)
model = vaekit.load(sys.argv[1])
reference = vaekit.decompress(model, open(sys.argv[2], "rb").read()).x.numpy()  # what the genuine file decodes to
for path in sys.argv[3:]:
    start = time.perf_counter()
    signal.alarm({seconds})
    try:
        x = vaekit.decompress(model, open(path, "rb").read()).x.numpy()
        same = x.shape == reference.shape and np.array_equal(x, reference)
        outcome = "decoded as the genuine file" if same else "decoded to other output"
    except vaekit.CodecError:
        outcome = "CodecError"
    except Timeout:
        outcome = "time limit"
    except MemoryError:
        outcome = "MemoryError"
    except Exception as error:
        outcome = type(error).__name__
    finally:
        signal.alarm(0)
    print(json.dumps([outcome, time.perf_counter() - start]), flush=True)
print(json.dumps({{"peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}}))
"""


def _container(head: bytes, payload: bytes) -> bytes:
    body = MAGIC + struct.pack("<HI", FORMAT_VERSION, len(head)) + head + struct.pack("<Q", len(payload)) + payload
    return body + hashlib.sha256(body).digest()


def _redigest(blob: bytes) -> bytes:
    return blob[:-32] + hashlib.sha256(blob[:-32]).digest()


def mutants(blob: bytes, rng: random.Random, flips: int) -> list[tuple[str, bytes]]:
    out = []
    for _ in range(flips):
        data = bytearray(blob)
        for _ in range(rng.choice([1, 1, 2, 8])):
            data[rng.randrange(len(MAGIC) + 6, len(data) - 32)] ^= 1 << rng.randrange(8)
        out.append(("bit flips", _redigest(bytes(data))))
    header, payload = unpack(blob)
    fields = json.loads(header.model_dump_json(exclude_none=True))
    for field in [*fields, "source", "longest_line", "classes"]:
        for value in HOSTILE:
            head = json.dumps({**fields, field: value}).encode()
            out.append((f"forged {field}", _container(head, payload)))
    return out


def _decode_all(model_dir: Path, genuine: Path, files: list[Path]) -> tuple[list[tuple[str, float]], int]:
    result = subprocess.run([sys.executable, "-c", _WORKER.format(limit=MEMORY_LIMIT, seconds=TIME_LIMIT),
                             str(model_dir), str(genuine), *map(str, files)], capture_output=True, text=True,
                            cwd=ROOT)
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    if not lines or not isinstance(lines[-1], dict):
        raise SystemExit(f"the worker died: {result.stderr[-2000:]}")
    return [tuple(line) for line in lines[:-1]], int(lines[-1]["peak_kb"])  # type: ignore[misc]


def main() -> None:
    rng = random.Random(0)
    data = load_data(DataConfig(name="binarized-mnist", limit=3000, validation=0))
    torch.manual_seed(0)
    vae = VAE(data_shape=data.data_shape, latent_dim=20, hidden=[200])
    fit(vae, data, epochs=2, batch_size=100, progress=False, expected_steps=0)
    vq = VQVAE(data_shape=data.data_shape, latent_dim=8, codebook_size=32, channels=[16, 32])
    fit(vq, data, epochs=1, batch_size=100, progress=False, expected_steps=0)
    x = data.test.x[:200]  # a VQ-VAE decodes its codes one grid position at a time: slow, hence fewer mutants, items
    outcomes: Counter[str] = Counter()
    by_kind: dict[str, Counter[str]] = {}
    worst, peak, tried = 0.0, 0, 0
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work)
        for name, model, mode, flips, items in [("VAE lossless", vae, "lossless", 400, 200),
                                                ("VAE lossy", vae, "lossy", 400, 200),
                                                ("VQ-VAE lossless", vq, "lossless", 60, 40)]:
            save(model, folder / name)
            genuine = compress(model, x[:items], mode)
            (folder / f"{name}.vkz").write_bytes(genuine)
            files, kinds = [], []
            for i, (kind, blob) in enumerate(mutants(genuine, rng, flips)):
                files.append(folder / f"{name}-{i}.vkz")
                files[-1].write_bytes(blob)
                kinds.append(kind)
            results, peak_kb = _decode_all(folder / name, folder / f"{name}.vkz", files)
            for kind, (outcome, seconds) in zip(kinds, results):
                outcomes[outcome] += 1
                by_kind.setdefault(kind.split(" ")[0], Counter())[outcome] += 1
                worst = max(worst, seconds)
            peak, tried = max(peak, peak_kb), tried + len(results)
            for f in files:
                f.unlink()
            print(name, dict(outcomes), flush=True)
    save_result("hostile_files", {
        "setting": (f"{tried:,} mutants of three genuine files of binarized MNIST test images (a trained VAE's "
                    "lossless and lossy files of 200 images, 400 random mutants each; a VQ-VAE's lossless file of 40, "
                    "60): 1 to 8 random "
                    "bits flipped anywhere after "
                    "the magic, and each header field set to each of "
                    f"{len(HOSTILE)} hostile values, the outer digest recomputed every time; decoded in worker "
                    f"processes capped at {MEMORY_LIMIT >> 30} GiB of address space, {TIME_LIMIT} s per decode"),
        "mutants": tried, "outcomes": dict(outcomes), "by_kind": {k: dict(v) for k, v in by_kind.items()},
        "worst_seconds": worst, "peak_mb": peak / 1024})


if __name__ == "__main__":
    main()
