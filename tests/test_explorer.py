"""The explorer's JSON API (vaekit/explorer/app.py): every endpoint, and oversized and malformed input."""
from __future__ import annotations

import base64
import io
import math
import subprocess

import numpy as np
import pytest
import soundfile
import torch
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image

from vaekit import VAE, DataConfig, fit, load_data
from vaekit.codec import decompress
from vaekit.config import AudioConfig, model_config
from vaekit.explorer import create_app
from vaekit.explorer.app import MAX_BODY
from vaekit.models import build_model
from vaekit.run import model_config_for


def _client(app: FastAPI) -> TestClient:
    return TestClient(app, base_url="http://127.0.0.1")  # the explorer answers only its own host


def _png(image: torch.Tensor) -> str:
    buffer = io.BytesIO()
    Image.fromarray((image[0].numpy() * 255).astype(np.uint8)).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def _png_bomb() -> str:
    """A PNG of 20,000 x 20,000 black pixels: a few hundred kilobytes that decode to 400 megapixels."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = zlib.compress(b"\0" * (20_000 * 2_501), 9)  # each row: filter byte + 20,000 one-bit pixels, padded
    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 20_000, 20_000, 1, 0, 0, 0, 0))
           + chunk(b"IDAT", rows) + chunk(b"IEND", b""))
    return base64.b64encode(png).decode()


def test_only_its_own_host_is_answered(vae_app) -> None:  # type: ignore[no-untyped-def]
    _, client = vae_app
    assert client.get("/api/info").status_code == 200
    assert client.get("/api/info", headers={"host": "rebound.example.com"}).status_code == 400
    elsewhere = TestClient(client.app, base_url="http://explorer.lan")
    assert elsewhere.get("/api/info").status_code == 400


def _decoded_image(url: str) -> np.ndarray:
    assert url.startswith("data:image/png;base64,")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))))


@pytest.fixture(scope="module")
def mnist():
    return load_data(DataConfig(name="binarized-mnist", limit=2000, validation=500))


@pytest.fixture(scope="module")
def vae_app(mnist):
    torch.manual_seed(0)
    model = VAE(data_shape=(1, 28, 28), latent_dim=2, hidden=[64])
    fit(model, mnist, epochs=2, progress=False)
    return model, _client(create_app(model, mnist.test, "binarized-mnist"))


def test_info_page_and_generation(vae_app, mnist) -> None:  # type: ignore[no-untyped-def]
    model, client = vae_app
    info = client.get("/api/info").json()
    assert info["latent_size"] == 2 and info["latent_map"] and info["generative"] and not info["classifies"]
    page = client.get("/")
    assert page.status_code == 200 and "explorer.js" in page.text
    for path in ("/", "/explorer.js", "/explorer.css"):  # all offline: nothing fetched from another site
        response = client.get(path)
        assert response.status_code == 200 and "://" not in response.text
    for path in ("/static/index.html", "/../../etc/passwd", "/api/../vaekit/cli.py", "/explorer.js/../x"):
        assert client.get(path).status_code == 404  # only the three fixed pages exist
    first = client.post("/api/samples", json={"n": 4, "seed": 1}).json()["items"]
    assert len(first) == 4 and first == client.post("/api/samples", json={"n": 4, "seed": 1}).json()["items"]
    assert first != client.post("/api/samples", json={"n": 4, "seed": 2}).json()["items"]
    a = _decoded_image(client.post("/api/decode", json={"z": [-2.0, 0.0]}).json()["item"]["image"])
    b = _decoded_image(client.post("/api/decode", json={"z": [2.0, 0.0]}).json()["item"]["image"])
    assert a.shape == (28, 28) and np.abs(a.astype(int) - b).mean() > 5  # moving z1 changes the picture
    z = client.post("/api/encode", json={"input": {"test": 3}}).json()["z"]
    expected = model.encode(mnist.test.x[3:4]).mean[0].tolist()
    assert np.allclose(z, expected, atol=1e-3)
    steps = client.post("/api/interpolate", json={"a": {"test": 0}, "b": {"test": 1}, "steps": 5}).json()["items"]
    uploaded = {"file": _png(mnist.test.x[1])}  # the same second image, uploaded: the same path
    assert steps == client.post("/api/interpolate", json={"a": {"test": 0}, "b": uploaded, "steps": 5}).json()["items"]
    points = client.get("/api/latent-map").json()
    assert len(points["points"]) == 500 and len(points["labels"]) == 500


def test_upload_is_reconstructed_scored_and_compressed(vae_app, mnist) -> None:  # type: ignore[no-untyped-def]
    model, client = vae_app
    image = mnist.test.x[7]
    out = client.post("/api/analyze", json={"input": {"file": "data:image/png;base64," + _png(image)}}).json()
    assert _decoded_image(out["input"]["image"]).shape == (28, 28)
    assert _decoded_image(out["reconstruction"]["image"]).shape == (28, 28)
    torch.manual_seed(0)
    assert out["log_likelihood"] == pytest.approx(float(model.log_likelihood(image[None], k=200)[0]), abs=1e-2)
    coded = base64.b64decode(out["compressed"])
    assert out["compressed_bytes"] == len(coded) > 0
    assert torch.equal(decompress(model, coded).x, image[None])  # the file to download decodes to the upload


def test_malformed_and_oversized_requests(vae_app, mnist) -> None:  # type: ignore[no-untyped-def]
    _, client = vae_app
    big = b'{"input": {"file": "' + b"A" * MAX_BODY + b'"}}'
    assert client.post("/api/analyze", content=big, headers={"content-type": "application/json"}).status_code == 413

    def chunks():  # no Content-Length: the limit holds as the body streams in
        yield b'{"input": {"file": "'
        for _ in range(MAX_BODY // 65536 + 2):
            yield b"A" * 65536
        yield b'"}}'

    assert client.post("/api/analyze", content=chunks(), headers={"content-type": "application/json"}
                       ).status_code == 413
    cases = [
        ("/api/analyze", b"{not json", 422, "JSON"),
        ("/api/analyze", {"input": {"test": 0, "file": "AAAA"}}, 422, "exactly one"),
        ("/api/analyze", {"input": {"path": "/etc/passwd"}}, 422, "Extra inputs"),
        ("/api/analyze", {"input": {"file": "not base64!"}}, 400, "not valid base64"),
        ("/api/analyze", {"input": {"file": base64.b64encode(b"GIF89a...").decode()}}, 400, "PNG or JPEG"),
        ("/api/analyze", {"input": {"test": 10**6}}, 400, "out of range"),
        ("/api/analyze", {"input": {"text": "a sentence"}}, 400, "not sentences"),
        ("/api/samples", {"n": 10_000}, 422, "less than or equal to 64"),
        ("/api/samples", {"n": 4, "label": 3}, 400, "not conditioned"),
        ("/api/decode", {"z": [0.0]}, 400, "needs 2 numbers"),
        ("/api/decode", {"z": [0.0, 1e9]}, 422, "less than or equal to 10"),
        ("/api/decode", b'{"z": [0.0, NaN]}', 422, "finite"),
        ("/api/decode", b'{"z": [Infinity, 0.0]}', 422, "finite"),
        ("/api/samples", {"n": "16"}, 422, "valid integer"),
        ("/api/samples", {"n": True}, 422, "valid integer"),
        ("/api/analyze", {"input": {"file": "data:image/png;base64"}}, 400, "without its comma"),
        ("/api/analyze", {"input": {"file": _png_bomb()}}, 400, "megapixels"),
        ("/api/interpolate", {"a": {"test": 0}, "b": {"test": 1}, "steps": 1}, 422, "greater than or equal to 2"),
        ("/api/classify", {"input": {"test": 0}}, 400, "no classifier"),
    ]
    flat = _client(create_app(VAE(data_shape=(1, 28, 28), latent_dim=3, hidden=[8]), mnist.test))
    response = flat.get("/api/latent-map")
    assert response.status_code == 400 and "2-D latent" in response.text
    for path, body, status, words in cases:
        if isinstance(body, bytes):
            response = client.post(path, content=body, headers={"content-type": "application/json"})
        else:
            response = client.post(path, json=body)
        assert response.status_code == status, (path, body, response.text)
        assert words in response.text, (path, body, response.text)


def test_classifier_gives_classes_with_uncertainty(mnist) -> None:  # type: ignore[no-untyped-def]
    torch.manual_seed(0)
    model = build_model(model_config(dict(name="bnn", data_shape=(1, 28, 28), num_classes=10, hidden=[64],
                                         dataset_size=len(mnist.train))))
    fit(model, mnist, epochs=3, progress=False)
    client = _client(create_app(model, mnist.test, "binarized-mnist"))
    assert not client.get("/api/info").json()["generative"]
    right = 0
    for i in range(20):
        out = client.post("/api/classify", json={"input": {"test": i}}).json()
        assert sum(out["probabilities"]) == pytest.approx(1, abs=1e-3) and out["draws"] == 20
        p = torch.tensor(out["probabilities"]).clamp(min=1e-12)
        assert out["entropy"] == pytest.approx(float(-(p * p.log()).sum()), abs=2e-3)  # H of the mean prediction
        right += out["predicted"] == int(mnist.test.y[i])
    assert right >= 12  # a trained classifier, well above chance (2 of 20)
    assert client.post("/api/samples", json={"n": 4}).status_code == 400


def test_conditional_model_takes_a_label(mnist) -> None:  # type: ignore[no-untyped-def]
    model = build_model(model_config(dict(name="conditional-vae", data_shape=(1, 28, 28), num_classes=10, latent_dim=2,
                                         hidden=[32])))
    client = _client(create_app(model, mnist.test, "binarized-mnist"))
    assert client.post("/api/samples", json={"n": 2}).status_code == 400  # which class?
    assert client.post("/api/samples", json={"n": 2, "label": 10}).status_code == 400
    assert len(client.post("/api/samples", json={"n": 2, "label": 4}).json()["items"]) == 2
    assert client.post("/api/analyze", json={"input": {"test": 0}}).status_code == 200  # the test label is used


def test_text_model_reads_and_compresses_sentences() -> None:
    from vaekit.codec.text import decompress_text

    data = load_data(DataConfig(name="brown", vocab_size=500, limit=300, validation=50))
    config = model_config(dict(name="sentence-vae", embedding_dim=16, hidden=[32], latent_dim=4))
    model = build_model(model_config_for(config, data))
    model.tokenizer = data.tokenizer
    client = _client(create_app(model, data.test, "brown"))
    assert all(isinstance(item["text"], str) for item in client.post("/api/samples", json={"n": 3}).json()["items"])
    sentence = "The jury said it did find that the city was well run ."
    out = client.post("/api/analyze", json={"input": {"text": sentence}}).json()
    assert out["input"]["text"].startswith("The ")  # as the model reads it: rare words are <unk>
    assert out["log_likelihood"] < 0
    tokens = len(sentence.split()) + 1  # </s> counted
    assert out["bits_per_dim"] == pytest.approx(-out["log_likelihood"] / tokens / math.log(2), abs=1e-3)
    padded = client.post("/api/analyze", json={"input": {"test": 0}}).json()  # a test sentence, padded in the split
    length = int((data.test.x[0] != 0).sum())
    assert padded["bits_per_dim"] == pytest.approx(-padded["log_likelihood"] / length / math.log(2), abs=1e-3)
    assert decompress_text(model, base64.b64decode(out["compressed"])) == sentence + "\n"
    lines = client.post("/api/interpolate", json={"a": {"text": sentence}, "b": {"test": 0}, "steps": 4}).json()
    assert len(lines["items"]) == 4
    assert client.post("/api/analyze", json={"input": {"text": "two\nlines"}}).status_code == 400


def test_audio_model_takes_a_wav_and_answers_with_sound() -> None:
    audio = AudioConfig()
    wav = subprocess.run(["espeak-ng", "--stdout", "seven"], capture_output=True, check=True).stdout
    from vaekit.data.audio import fit_length, read_wave
    from vaekit.data.dataset import Split
    from vaekit.data.spectrogram import log_mel

    clip = fit_length(read_wave(io.BytesIO(wav), audio.sample_rate), audio.clip_samples)
    spec = log_mel(torch.from_numpy(clip[None]), audio)
    model = build_model(model_config(dict(name="vae", architecture="conv", data_shape=(1, 64, 64),
                                          likelihood="gaussian", latent_dim=4, audio=audio)))
    client = _client(create_app(model, Split(spec.repeat(3, 1, 1, 1)), "espeak"))
    out = client.post("/api/analyze", json={"input": {"file": base64.b64encode(wav).decode()}}).json()
    for item in (out["input"], out["reconstruction"]):
        sound, rate = soundfile.read(io.BytesIO(base64.b64decode(item["audio"].split(",", 1)[1])))
        assert rate == 16000 and len(sound) == audio.clip_samples and np.abs(sound).max() > 0.1
        assert _decoded_image(item["image"]).shape == (64, 64, 3)
    assert "spectrogram" in out["compressed_error"]
    bad = base64.b64encode(b"RIFF....WAVEfmt nonsense").decode()
    response = client.post("/api/analyze", json={"input": {"file": bad}})
    assert response.status_code == 400 and "WAV/FLAC" in response.text


def test_a_client_that_trickles_its_headers_is_cut_off(mnist, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import socket
    import threading
    import time

    import uvicorn

    import vaekit.explorer as explorer

    monkeypatch.setattr(explorer, "HEADER_SECONDS", 1.0)
    app = create_app(VAE(data_shape=(1, 28, 28), latent_dim=2, hidden=[8]), mnist.test)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", http=explorer.header_deadline_protocol()))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        port = sock.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)) as ok:  # a whole request is answered
            ok.sendall(b"GET /api/info HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            assert ok.recv(100).startswith(b"HTTP/1.1 200")
        slow = socket.create_connection(("127.0.0.1", port))
        start = time.monotonic()
        closed = False
        for byte in b"GET /api/info HTTP/1.1\r\nHost: 127.0.0.1\r\n":  # a byte every 0.2 s, never the blank line
            try:
                slow.sendall(bytes([byte]))
                slow.settimeout(0.2)
                closed = slow.recv(1) == b""
            except TimeoutError:
                pass
            except OSError:
                closed = True
            if closed:
                break
        assert closed and time.monotonic() - start < 5
    finally:
        server.should_exit = True
        thread.join(timeout=10)
