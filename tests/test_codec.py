"""The codec: exact lossless round trips on real data, lossy coding, the container's checks, fuzzing."""
from __future__ import annotations

import hashlib
import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vaekit import VAE, CodecError, DataConfig, compress, decompress, fit, load_data
from vaekit.codec import read_header
from vaekit.codec.container import Header, pack, unpack
from vaekit.data.dataset import Split
from vaekit.evaluate import mean_elbo


def _trained(data_name: str, **options: object) -> tuple[VAE, torch.Tensor]:
    data = load_data(DataConfig(name=data_name, limit=3000, validation=0))
    torch.manual_seed(0)
    model = VAE(data_shape=data.data_shape, latent_dim=8, hidden=[128], **options)
    fit(model, data, epochs=3, batch_size=100, progress=False, compile=False)
    return model.eval(), data.test.x[:300]


@pytest.fixture(scope="module")
def binary() -> tuple[VAE, torch.Tensor]:
    return _trained("binarized-mnist")


@pytest.fixture(scope="module")
def eight_bit() -> tuple[VAE, torch.Tensor]:
    return _trained("mnist", likelihood="logistic-mixture", mixture_components=2)


@pytest.fixture(scope="module")
def fashion() -> tuple[VAE, torch.Tensor]:
    return _trained("fashion-mnist", likelihood="logistic-mixture", mixture_components=2)


def _refresh_digest(blob: bytes) -> bytes:
    """A container whose SHA-256 matches its (altered) body: what a forger, not a bit flip, produces."""
    body = blob[:-32]
    return body + hashlib.sha256(body).digest()


@pytest.mark.parametrize("setup", ["binary", "eight_bit", "fashion"])
def test_lossless_round_trip_is_exact_and_costs_the_negative_elbo(setup: str, request: pytest.FixtureRequest) -> None:
    model, x = request.getfixturevalue(setup)
    blob = compress(model, x)
    assert torch.equal(decompress(model, blob).x, x)
    header, payload = unpack(blob)
    assert header.count == len(x) and header.alphabet == (2 if setup == "binary" else 256)
    with torch.no_grad():
        neg_elbo_bits = -mean_elbo(model, Split(x, None, "8bit"))["elbo"] * len(x) / math.log(2)
    # bits back: the payload is the negative ELBO, up to discretization, ANS and the initial bits
    assert abs(8 * len(payload) / neg_elbo_bits - 1) < 0.03
    assert len(blob) < x.numel() * (1 / 8 if setup == "binary" else 1)  # smaller than the raw pixels


def test_same_input_same_bytes(binary: tuple[VAE, torch.Tensor]) -> None:
    model, x = binary
    assert compress(model, x[:50]) == compress(model, x[:50])


def test_batches_grow_with_the_chain(binary: tuple[VAE, torch.Tensor]) -> None:
    model, x = binary
    header = read_header(compress(model, x, batch_size=64))
    assert header.batches[0] == 1 and max(header.batches) == 64 and sum(header.batches) == len(x)
    assert list(header.batches[:5]) == sorted(header.batches[:5])


def test_lossy_rate_falls_and_distortion_rises_with_the_step(eight_bit: tuple[VAE, torch.Tensor]) -> None:
    model, x = eight_bit
    sizes, errors = [], []
    for step in (0.05, 0.5, 4.0):
        blob = compress(model, x, "lossy", step=step)
        y = decompress(model, blob).x
        assert y.shape == x.shape and 0 <= y.min() and y.max() <= 1
        sizes.append(len(blob))
        errors.append(torch.mean((y - x) ** 2).item())
    assert sizes[0] > sizes[1] > sizes[2]
    assert errors[0] < errors[2]
    fine = decompress(model, compress(model, x, "lossy", step=0.01)).x
    with torch.no_grad():
        reconstruction = model.decode(model.encode(x).mean).mean
    assert torch.allclose(fine, reconstruction.clamp(0, 1), atol=0.02)  # a fine step gives the model's reconstruction


def test_lossy_under_the_prior_needs_no_side_information(binary: tuple[VAE, torch.Tensor]) -> None:
    model, x = binary
    one = x[:1]
    prior = compress(model, one, "lossy", entropy_model="prior")
    fitted = compress(model, one, "lossy", entropy_model="fitted")
    assert len(prior) < len(fitted)
    assert read_header(prior).entropy_model is None
    assert torch.equal(decompress(model, prior).x, decompress(model, fitted).x)  # same codes, another entropy model


def test_decoding_with_another_model_is_refused(binary: tuple[VAE, torch.Tensor]) -> None:
    model, x = binary
    other = VAE(data_shape=(1, 28, 28), latent_dim=8, hidden=[128])
    with pytest.raises(CodecError, match="made with the model"):
        decompress(other, compress(model, x[:10])).x


@pytest.mark.parametrize("damage", ["truncate", "flip", "random", "empty", "extend"])
def test_damaged_files_give_clear_errors(binary: tuple[VAE, torch.Tensor], damage: str) -> None:
    model, x = binary
    blob = bytearray(compress(model, x[:20]))
    rng = np.random.default_rng(0)
    if damage == "truncate":
        blob = blob[: len(blob) // 2]
    elif damage == "flip":
        blob[len(blob) // 2] ^= 0x10
    elif damage == "random":
        blob = bytearray(rng.integers(0, 256, len(blob), dtype=np.uint8).tobytes())
    elif damage == "empty":
        blob = bytearray()
    else:
        blob += b"\0"
    with pytest.raises(CodecError):
        decompress(model, bytes(blob)).x


def test_mutation_fuzz_every_file_decodes_exactly_or_fails_cleanly(binary: tuple[VAE, torch.Tensor]) -> None:
    """Thousands of mutations: bit flips, byte changes, cuts and insertions, half of them with a digest that
    matches again, so that the header parser and the ANS decoder meet the damage themselves."""
    model, x = binary
    x = x[:8]
    for mode in ("lossless", "lossy"):
        original = compress(model, x, mode)
        expected = decompress(model, original).x
        rng = np.random.default_rng(1 if mode == "lossless" else 2)
        outcomes = {"error": 0, "exact": 0}
        for trial in range(1500):
            blob = bytearray(original)
            for _ in range(int(rng.integers(1, 4))):
                where = int(rng.integers(0, len(blob)))
                kind = rng.integers(0, 4)
                if kind == 0:
                    blob[where] ^= 1 << int(rng.integers(0, 8))
                elif kind == 1:
                    blob[where] = int(rng.integers(0, 256))
                elif kind == 2:
                    del blob[where:where + int(rng.integers(1, 16))]
                else:
                    blob[where:where] = rng.integers(0, 256, int(rng.integers(1, 8)), dtype=np.uint8).tobytes()
            mutated = _refresh_digest(bytes(blob)) if trial % 2 and len(blob) > 32 else bytes(blob)
            try:
                result = decompress(model, mutated).x
            except CodecError:
                outcomes["error"] += 1
                continue
            assert torch.equal(result, expected), f"trial {trial}: a mutated file decoded to different data"
            outcomes["exact"] += 1
        assert outcomes["error"] > 1000


@pytest.mark.parametrize("bad, message", [
    (lambda x: x * 0.5, "binary data"),
    (lambda x: x[:, :, :10], "expected data of shape"),
    (lambda x: x.masked_fill(x > 0.5, float("nan")), "finite"),
    (lambda x: x + 1, "in \\[0, 1\\]"),
])
def test_bad_inputs_are_refused(binary: tuple[VAE, torch.Tensor], bad, message: str) -> None:  # type: ignore[no-untyped-def]
    model, x = binary
    with pytest.raises(CodecError, match=message):
        compress(model, bad(x[:4]))


def test_continuous_likelihoods_code_lossy_but_not_lossless() -> None:
    torch.manual_seed(0)
    model = VAE(data_shape=(1, 6, 6), latent_dim=3, hidden=[16], likelihood="gaussian").eval()
    x = torch.rand(5, 1, 6, 6)
    with pytest.raises(CodecError, match="continuous"):
        compress(model, x)
    assert decompress(model, compress(model, x, "lossy")).x.shape == x.shape


@pytest.mark.parametrize("option, value", [("precision", 1), ("precision", 17), ("step", 0.0),
                                           ("step", float("nan")), ("batch_size", 0), ("mode", "zip")])
def test_bad_options_are_refused(binary: tuple[VAE, torch.Tensor], option: str, value: object) -> None:
    model, x = binary
    with pytest.raises(CodecError, match=option):
        compress(model, x[:2], **{option: value})  # type: ignore[arg-type]


def test_a_forged_header_is_validated() -> None:
    good = dict(mode="lossless", model_sha256="0" * 64, item_shape=(1, 2, 2), alphabet=2, count=3,
                batches=(1, 2), content_sha256="0" * 64, precision=8)
    Header(**good)  # type: ignore[arg-type]
    for change in ({"batches": (1, 1)}, {"count": 0}, {"precision": None}, {"alphabet": 1000},
                   {"model_sha256": "xyz"}, {"item_shape": (0, 2, 2)}):
        with pytest.raises(CodecError, match="header is invalid"):
            unpack(pack(Header.model_construct(**{**good, **change}), b"\0\0\0\0"))  # type: ignore[arg-type]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(channels=st.sampled_from([1, 3]), height=st.integers(1, 6), width=st.integers(1, 6),
       count=st.integers(1, 12), eight_bits=st.booleans(), precision=st.integers(2, 16), seed=st.integers(0, 2**16))
def test_property_any_shape_and_content_round_trips(channels: int, height: int, width: int, count: int,
                                                    eight_bits: bool, precision: int, seed: int) -> None:
    torch.manual_seed(seed)
    likelihood = "logistic-mixture" if eight_bits else "bernoulli"
    model = VAE(data_shape=(channels, height, width), latent_dim=2, hidden=[8], likelihood=likelihood,
                mixture_components=2).eval()
    generator = torch.Generator().manual_seed(seed)
    levels = 256 if eight_bits else 2
    x = torch.randint(0, levels, (count, channels, height, width), generator=generator).float() / (levels - 1)
    blob = compress(model, x, precision=precision, batch_size=5)
    assert torch.equal(decompress(model, blob).x, x)
    lossy = decompress(model, compress(model, x, "lossy", step=0.5)).x
    assert lossy.shape == x.shape
