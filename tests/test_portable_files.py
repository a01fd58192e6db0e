"""Files that decode anywhere: the same bytes under every thread count and instruction set, and a decoder that
refuses a file whose model, config or header notes differ from what wrote it (issue 22)."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from vaekit import VAE, CodecError, DataConfig, compress, decompress, fit, load, load_data, save
from vaekit.codec import portable_math as pm
from vaekit.codec import read_header
from vaekit.codec.container import Header, pack, unpack
from vaekit.codec.exact import ExactArithmetic
from vaekit.codec.files import pack_names

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def conv_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    """A small convolutional VAE with a logistic-mixture likelihood, saved, and 300 test digits: the kind of model
    whose float32 files failed to decode under another thread count."""
    data = load_data(DataConfig(name="mnist", limit=2000, validation=0))
    torch.manual_seed(0)
    model = VAE(data_shape=data.data_shape, latent_dim=16, architecture="conv", channels=[16, 32],
                likelihood="logistic-mixture", mixture_components=3)
    fit(model, data, epochs=1, batch_size=100, progress=False, compile=False, expected_steps=0)
    folder = tmp_path_factory.mktemp("conv")
    save(model, folder / "model")
    np.save(folder / "x.npy", data.test.x[:300].numpy())
    return folder / "model", data.test.x[:300].numpy()


_SCRIPT = """
import sys, numpy as np, torch, vaekit
torch.set_num_threads(int(sys.argv[1]))
model = vaekit.load(sys.argv[2])
for mode in ("lossless", "lossy"):
    path = f"{sys.argv[4]}.{mode}"
    if sys.argv[3] == "compress":
        open(path + ".vkz", "wb").write(vaekit.compress(model, np.load(sys.argv[5]), mode))
    else:
        np.save(path + ".npy", vaekit.decompress(model, open(f"{sys.argv[5]}.{mode}.vkz", "rb").read()).x.numpy())
"""


_ORDER = ["default", "avx2", "avx512"]  # ATEN_CPU_CAPABILITY values, each a subset of the next
HIGHEST = _ORDER[max(i for i, isa in enumerate(_ORDER)  # what this CPU runs (forcing more is an illegal instruction)
                     if isa in torch.backends.cpu.get_cpu_capability().lower() or i == 0)]
ISAS = _ORDER[:_ORDER.index(HIGHEST) + 1]


def _run(threads: int, isa: str, *args: str | Path) -> None:
    env = {**os.environ, "ATEN_CPU_CAPABILITY": isa, "OMP_NUM_THREADS": str(threads)}
    subprocess.run([sys.executable, "-c", _SCRIPT, str(threads), *map(str, args)], check=True, env=env, cwd=ROOT,
                   timeout=300)


def test_files_are_the_same_bytes_and_decode_under_any_threads_and_instruction_set(
        conv_model: tuple[Path, np.ndarray], tmp_path: Path) -> None:
    model_dir, x = conv_model
    inputs = model_dir.parent / "x.npy"
    _run(2, HIGHEST, model_dir, "compress", tmp_path / "a", inputs)
    _run(1, "default", model_dir, "compress", tmp_path / "b", inputs)
    for mode in ("lossless", "lossy"):
        assert (tmp_path / f"a.{mode}.vkz").read_bytes() == (tmp_path / f"b.{mode}.vkz").read_bytes(), mode
    for isa in ISAS:
        _run(2 if isa == HIGHEST else 1, isa, model_dir, "decompress", tmp_path / isa, tmp_path / "a")
    for mode in ("lossless", "lossy"):
        outputs = [np.load(tmp_path / f"{isa}.{mode}.npy") for isa in ISAS]
        assert all(np.array_equal(o, outputs[0]) for o in outputs), mode
    assert np.array_equal(np.load(tmp_path / "default.lossless.npy"), x)


def test_linear_maps_are_exact_in_any_order_of_summation() -> None:
    """Summing a product's terms in another order changes float results; integer arithmetic does not."""
    torch.manual_seed(0)
    x, w = torch.randn(64, 512, dtype=torch.float64), torch.randn(32, 512, dtype=torch.float64) / 20
    order = torch.randperm(512)
    plain = F.linear(x, w), F.linear(x[:, order], w[:, order])
    assert not torch.equal(*plain)
    with ExactArithmetic():
        exact = F.linear(x, w), F.linear(x[:, order], w[:, order])
    assert torch.equal(*exact)
    assert (exact[0] - plain[0]).abs().max() < 1e-3  # the integer grid moves the result very little


def test_portable_functions_agree_with_torch() -> None:
    x = torch.linspace(-30, 30, 100001, dtype=torch.float64)
    for portable, reference in [(pm.exp, torch.exp), (pm.sigmoid, torch.sigmoid), (pm.tanh, torch.tanh),
                                (pm.softplus, F.softplus), (pm.elu, F.elu), (pm.expm1, torch.expm1)]:
        assert torch.allclose(portable(x), reference(x), rtol=1e-14, atol=1e-300), portable.__name__
    p = torch.rand(10000, dtype=torch.float64) * 100
    assert torch.allclose(pm.log(p), torch.log(p), rtol=1e-14)
    x = torch.linspace(-30, 30, 6001, dtype=torch.float64)  # torch's own ndtr loses the far tail
    normal = torch.tensor([math.erfc(-v / math.sqrt(2)) / 2 for v in x.tolist()], dtype=torch.float64)
    assert ((pm.ndtr(x) - normal).abs() <= 1.2e-7 * normal).all()
    q = torch.rand(1000, dtype=torch.float64)
    assert torch.allclose(pm.ndtr(pm.ndtri(q)), q, rtol=1e-12)
    logits = torch.randn(7, 5, dtype=torch.float64)
    assert torch.allclose(pm.log_softmax(logits, -1), torch.log_softmax(logits, -1), atol=1e-14)


def _with_config(model_dir: Path, tmp_path: Path, **changes: object) -> Path:
    other = tmp_path / "other"
    other.mkdir()
    for name in ("config.json", "model.safetensors"):
        (other / name).write_bytes((model_dir / name).read_bytes())
    meta = json.loads((other / "config.json").read_text())
    meta["model"].update(changes)
    (other / "config.json").write_text(json.dumps(meta))
    return other


@pytest.mark.parametrize("mode", ["lossless", "lossy"])
def test_the_same_weights_under_another_config_are_another_model(conv_model: tuple[Path, np.ndarray],
                                                                  tmp_path: Path, mode: str) -> None:
    model_dir, x = conv_model
    blob = compress(load(model_dir), x[:20], mode)
    changed = load(_with_config(model_dir, tmp_path, activation="tanh"))
    with pytest.raises(CodecError, match="weights and config"):
        decompress(changed, blob).x


def test_a_lossy_file_checks_its_reconstruction(conv_model: tuple[Path, np.ndarray],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    model_dir, x = conv_model
    model = load(model_dir)
    blob = compress(model, x[:20], "lossy")
    from vaekit.codec import lossy

    real = lossy.reconstruct
    monkeypatch.setattr(lossy, "reconstruct", lambda *a, **k: (real(*a, **k) * 0.5))  # a decoder gone wrong
    with pytest.raises(CodecError, match="checksum"):
        decompress(model, blob).x


def test_too_fine_a_step_is_refused_by_name(conv_model: tuple[Path, np.ndarray]) -> None:
    model_dir, x = conv_model
    with pytest.raises(CodecError, match="step 1e-30 is too fine.*at least"):
        compress(load(model_dir), x[:10], "lossy", step=1e-30)


@pytest.mark.parametrize("forged", [
    {"source": {"kind": "npy", "dtype": "<f8", "shape": [20, 1, 28, 28]}},
    {"source": {"kind": "npy", "dtype": "<f4", "shape": [10, 2, 28, 28]}},
    {"source": {"kind": "images", "names_xz": pack_names([f"{i}.png" for i in range(20)])}},
    {"written_by": "someone else"},
    {"precision": 11},
])
def test_a_forged_note_with_its_digest_recomputed_is_caught(conv_model: tuple[Path, np.ndarray],
                                                            forged: dict) -> None:
    model_dir, x = conv_model
    model = load(model_dir)
    header, payload = unpack(compress(model, x[:20], source={"kind": "npy", "dtype": "<f4", "shape": [20, 1, 28, 28]}))
    blob = pack(header.model_copy(update=forged), payload)  # pack recomputes the outer digest
    assert read_header(blob).model_dump(include=set(forged)) == forged
    with pytest.raises(CodecError, match="checksum|decode"):
        decompress(model, blob).x


def test_a_version_1_file_names_the_version_that_reads_it() -> None:
    header = Header(mode="lossless", model_sha256="0" * 64, item_shape=(1, 2, 2), alphabet=2, count=1, batches=(1,),
                    content_sha256="0" * 64, precision=4)
    blob = bytearray(pack(header, b""))
    blob[8:10] = (1).to_bytes(2, "little")
    with pytest.raises(CodecError, match="version 1.*vaekit 0.1"):
        decompress(VAE(data_shape=(1, 2, 2), latent_dim=2, hidden=[4]), bytes(blob)).x
