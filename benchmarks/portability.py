"""Files that decode anywhere: each model codes 1,000 test images losslessly in separate processes under every
(thread count, instruction set) pair torch can be told to use on this machine, and each file is decoded under every
pair. Records whether the files are the same bytes, which decodes are exact, and the coding throughput against the
model's own float32 ELBO pass over the same images (the baseline, measured in the same run).

    python benchmarks/portability.py         # about 10 minutes on 2 cores
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from common import ROOT, save_result, use_shared_data

use_shared_data()

from vaekit import VAE, DataConfig, fit, load_data, save  # noqa: E402
from vaekit.data.dataset import Split  # noqa: E402
from vaekit.evaluate import mean_elbo  # noqa: E402
from vaekit.models import MixturePriorVAE  # noqa: E402

SETTINGS = [(2, "avx512"), (1, "avx512"), (2, "avx2"), (1, "default")]
ITEMS = 1000
MODELS = {
    "binary MLP VAE (tanh, 784-200-20)":
        ("binarized-mnist", VAE, dict(latent_dim=20, hidden=[200], activation="tanh")),
    "8-bit conv VAE (logistic mixture, relu)":
        ("mnist", VAE, dict(latent_dim=16, architecture="conv", channels=[16, 32], likelihood="logistic-mixture",
                            mixture_components=3)),
    "binary mixture-prior VAE (softplus)":
        ("binarized-mnist", MixturePriorVAE, dict(latent_dim=10, hidden=[200], activation="softplus",
                                                  prior_components=5)),
}
_CODE = """
import sys, time, numpy as np, torch, vaekit
torch.set_num_threads(int(sys.argv[1]))
model = vaekit.load(sys.argv[2])
start = time.perf_counter()
if sys.argv[3] == "compress":
    open(sys.argv[5], "wb").write(vaekit.compress(model, np.load(sys.argv[4])))
else:
    try:
        x = vaekit.decompress(model, open(sys.argv[4], "rb").read()).x.numpy()
        print("exact" if np.array_equal(x, np.load(sys.argv[5])) else "WRONG")
    except vaekit.CodecError as error:
        print("refused:", error)
print(time.perf_counter() - start)
"""


def _run(threads: int, isa: str, *args: object) -> tuple[str, float]:
    env = {**os.environ, "ATEN_CPU_CAPABILITY": isa, "OMP_NUM_THREADS": str(threads)}
    result = subprocess.run([sys.executable, "-c", _CODE, str(threads), *map(str, args)], env=env, cwd=ROOT,
                            capture_output=True, text=True, check=True)
    lines = result.stdout.strip().splitlines()
    return (lines[0] if len(lines) > 1 else ""), float(lines[-1])


def one_model(name: str, data_name: str, cls: type, options: dict, work: Path) -> dict:
    data = load_data(DataConfig(name=data_name, limit=5000, validation=0))
    torch.manual_seed(0)
    model = cls(data_shape=data.data_shape, **options)
    fit(model, data, epochs=2, batch_size=100, progress=False, expected_steps=0)
    save(model, work / "model")
    x = data.test.x[:ITEMS]
    np.save(work / "x.npy", x.numpy())
    start = time.perf_counter()
    with torch.no_grad():
        mean_elbo(model.eval(), Split(x, None, data.test.kind))
    elbo_seconds = time.perf_counter() - start
    digests, compress_s, outcomes, decompress_s = set(), [], [], []
    for threads, isa in SETTINGS:
        file = work / f"{threads}-{isa}.vkz"
        compress_s.append(_run(threads, isa, work / "model", "compress", work / "x.npy", file)[1])
        digests.add(hashlib.sha256(file.read_bytes()).hexdigest())
        for d_threads, d_isa in SETTINGS:
            outcome, seconds = _run(d_threads, d_isa, work / "model", "decompress", file, work / "x.npy")
            outcomes.append(outcome)
            decompress_s.append(seconds)
    return {"model": name, "files": len(digests), "exact": outcomes.count("exact"), "decodes": len(outcomes),
            "other_outcomes": sorted({o for o in outcomes if o != "exact"}),
            "compress_images_per_s": ITEMS / float(np.median(compress_s)),
            "decompress_images_per_s": ITEMS / float(np.median(decompress_s)),
            "elbo_images_per_s": ITEMS / elbo_seconds}


def main() -> None:
    rows = []
    for name, (data_name, cls, options) in MODELS.items():
        with tempfile.TemporaryDirectory() as work:
            rows.append(one_model(name, data_name, cls, options, Path(work)))
            print(rows[-1], flush=True)
    save_result("portability", {
        "setting": (f"{ITEMS} test images per model, lossless; each model trained 2 epochs on 5,000 images; encoders "
                    f"and decoders in separate processes under (threads, ATEN_CPU_CAPABILITY) = "
                    + ", ".join(f"({t}, {i})" for t, i in SETTINGS)
                    + "; throughput is the median over the runs, model loading included, against the model's own "
                      "float32 ELBO pass over the same images in one process"),
        "rows": rows})


if __name__ == "__main__":
    main()
