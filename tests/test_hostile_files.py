"""Forged files that try to exhaust the decoder: every field of the header forged (the outer digest recomputed, as a
forger would), huge counts and nested values, each decoded in a process held to a memory limit and a time limit
that a bomb would pass; each must end in one CodecError (issue 22)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from vaekit import VAE, compress, save
from vaekit.codec.container import FORMAT_VERSION, MAGIC, pack, unpack
from vaekit.codec.files import pack_names

ROOT = Path(__file__).resolve().parent.parent
MEMORY_LIMIT = 3 << 30  # bytes of address space for the decoding process
TIME_LIMIT = 60  # seconds for all the forgeries together

_DECODE = """
import json, resource, sys, time
resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
import torch, vaekit
model = vaekit.load(sys.argv[1])
outcomes = []
for path in sys.argv[2:]:
    start = time.perf_counter()
    try:
        vaekit.decompress(model, open(path, "rb").read()).x
        outcome = "decoded"
    except vaekit.CodecError as error:
        outcome = "CodecError"
    outcomes.append([outcome, time.perf_counter() - start])
print(json.dumps({{"outcomes": outcomes, "peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}}))
"""


def _raw(header_json: str, payload: bytes) -> bytes:
    """A container around any header text, its digest recomputed."""
    import hashlib
    import struct

    head = header_json.encode()
    body = MAGIC + struct.pack("<HI", FORMAT_VERSION, len(head)) + head + struct.pack("<Q", len(payload)) + payload
    return body + hashlib.sha256(body).digest()


def _forgeries(model: VAE) -> dict[str, bytes]:
    x = torch.randint(0, 2, (50, 1, 28, 28)).float()
    lossless = compress(model, x)
    lossy = compress(model, x, "lossy")
    header, payload = unpack(lossless)
    lossy_header, lossy_payload = unpack(lossy)
    fields = json.loads(header.model_dump_json(exclude_none=True))
    forged: dict[str, bytes] = {}
    forged["lossy count x 10^6"] = pack(lossy_header.model_copy(update={"count": 50_000_000}), lossy_payload)
    forged["lossy count x 2,000"] = pack(lossy_header.model_copy(update={"count": 100_000}), lossy_payload)
    forged["lossless count with one huge batch"] = pack(header.model_copy(
        update={"count": 50 + 5000, "batches": (*header.batches, 5000)}), payload)
    forged["lossless batches of 65,536"] = pack(header.model_copy(
        update={"count": 50 + 65536 * 8, "batches": (*header.batches, *[65536] * 8)}), payload)
    forged["item shape 65,536 x 65,536"] = pack(header.model_copy(update={"item_shape": (1, 65536, 65536)}), payload)
    forged["nested source 100,000 deep"] = _raw(json.dumps({**fields, "source": {}})[:-1].replace(
        '"source": {}', '"source": {"a": ' + "[" * 100_000 + "]" * 100_000 + "}") + "}", payload)
    forged["a 5,000-digit count"] = _raw(json.dumps(fields).replace(f'"count": {header.count}',
                                                                    '"count": ' + "9" * 5000), payload)
    forged["names that unpack to 16 MB"] = pack(header.model_copy(update={"source": {
        "kind": "images", "names_xz": pack_names(["a" * 200_000 + f"{i}" for i in range(50)])}}), payload)
    for field, value in [("precision", 16), ("alphabet", 256), ("written_by", "x" * 200), ("latent", "codes"),
                         ("mode", "lossy")]:
        forged[f"{field} = {value!r}"[:40]] = pack(header.model_copy(update={field: value}), payload)
    return forged


def test_forged_files_end_in_one_error_within_memory_and_time_limits(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = VAE(data_shape=(1, 28, 28), latent_dim=8, hidden=[32]).eval()
    save(model, tmp_path / "model")
    files = []
    for i, (name, blob) in enumerate(_forgeries(model).items()):
        files.append(tmp_path / f"{i}.vkz")
        files[-1].write_bytes(blob)
    result = subprocess.run([sys.executable, "-c", _DECODE.format(limit=MEMORY_LIMIT), str(tmp_path / "model"),
                             *map(str, files)], capture_output=True, text=True, timeout=TIME_LIMIT, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    names = list(_forgeries(model))
    outcomes = dict(zip(names, report["outcomes"]))
    assert all(outcome == "CodecError" for outcome, _ in outcomes.values()), outcomes
    assert max(seconds for _, seconds in outcomes.values()) < 20, outcomes


@pytest.mark.parametrize("text", ['{"a": ' + "[" * 5000 + "]" * 5000 + "}", '{"n": ' + "1" * 5000 + "}"])
def test_a_saved_model_config_nested_or_huge_is_one_error(tmp_path: Path, text: str) -> None:
    from vaekit import ModelFileError, load

    torch.manual_seed(0)
    save(VAE(data_shape=(1, 4, 4), latent_dim=2, hidden=[4]), tmp_path / "m")
    (tmp_path / "m" / "config.json").write_text(text)
    with pytest.raises(ModelFileError, match="config.json"):
        load(tmp_path / "m")
