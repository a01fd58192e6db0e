"""Audio: spectrograms and their inversion, espeak-ng spoken digits, WAV folders, spectrogram and sequence VAEs."""
from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
from test_cli import ROOT, vaekit

from vaekit.config import AudioConfig, ConfigError, DataConfig, load_config
from vaekit.data import load_data
from vaekit.data.audio import digit_manifest, speak, synthesize_digits
from vaekit.data.spectrogram import log_mel, log_spectral_distance, to_waveform
from vaekit.evaluate import latent_probe_error
from vaekit.models import SequenceVAE
from vaekit.run import run
from vaekit.saving import load

AUDIO = AudioConfig()


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The conditional spectrogram VAE recipe, small, for 3 epochs on the 3,000-clip named set."""
    out = tmp_path_factory.mktemp("audio-runs")
    config = load_config(ROOT / "configs" / "conditional-vae-spoken-digits.yaml",
                         ["train.epochs=3", "model.channels=[16, 32]", "train.progress=false", "evaluate.k=10",
                          "evaluate.limit=40", "train.log_every=10", f"out_dir={out}", "name=cvae"])
    run(config)
    return out / "cvae"


def test_spectrogram_inversion_round_trip_on_a_real_clip() -> None:
    entry = digit_manifest(10, seed=0)[7]
    clip = torch.from_numpy(np.stack([speak(entry, AUDIO.sample_rate)[:AUDIO.clip_samples]]))
    clip = torch.nn.functional.pad(clip, (0, AUDIO.clip_samples - clip.shape[1]))
    spec = log_mel(clip, AUDIO)
    assert spec.shape == (1, 1, 64, 64)
    back = log_mel(to_waveform(spec, AUDIO, iterations=32), AUDIO)
    distance = float(log_spectral_distance(spec, back, AUDIO))
    assert distance < 6.0  # dB, Griffin-Lim from the mel spectrogram alone (measured 3-5 dB)
    other = log_mel(torch.roll(clip, 4000, 1), AUDIO)  # the same clip, shifted by a quarter second
    assert float(log_spectral_distance(spec, other, AUDIO)) > 2 * distance


def test_synthesis_is_deterministic_for_a_seed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "a"))
    first, manifest = synthesize_digits(12, seed=5, config=AUDIO, progress=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "b"))
    again, same = synthesize_digits(12, seed=5, config=AUDIO, progress=False)
    assert manifest == same and np.array_equal(first, again)
    assert [e["digit"] for e in manifest] == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]
    assert len({e["voice"] for e in digit_manifest(100, 5)}) > 30  # many accents and voice variants
    assert digit_manifest(12, 6) != manifest
    assert first.shape == (12, AUDIO.clip_samples) and np.abs(first).max() > 0.1


def test_loader_on_a_folder_of_wavs_with_mixed_sample_rates(tmp_path: Path) -> None:
    from scipy.signal import resample_poly

    for i, entry in enumerate(digit_manifest(30, seed=1)):
        wave = speak(entry, 16000)
        rate = (8000, 22050, 44100)[i % 3]
        folder = tmp_path / f"digit{entry['digit'] % 2}"
        folder.mkdir(exist_ok=True)
        soundfile.write(str(folder / f"{i}.{'flac' if i % 4 == 0 else 'wav'}"),
                        resample_poly(wave, rate // 50, 16000 // 50), rate)
    (tmp_path / "notes.txt").write_text("not audio")
    data = load_data(DataConfig(name=str(tmp_path)))
    assert data.audio is not None and data.data_shape == (1, 64, 64)
    assert len(data.train) + len(data.valid) + len(data.test) == 30
    assert set(data.train.y.tolist()) == {0, 1}  # the sub-folders are the classes
    assert abs(float(data.train.x.mean())) < 0.05 and abs(float(data.train.x.std()) - 1) < 0.05  # standardized


def test_a_folder_of_long_sounds_gets_clips_that_hold_them(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Sounds longer than the default 0.98 s clip were cut to their middle second without a word: a folder's clips
    now hold its longest sound (up to 4 s), and the log says how many longer ones are cut."""
    rate = 22050
    for i, seconds in enumerate([0.3, 0.4, 1.0, 2.5]):
        t = np.arange(int(seconds * rate)) / rate
        soundfile.write(str(tmp_path / f"{i}.wav"), (0.5 * np.sin(2 * np.pi * (300 + 200 * i) * t)).astype(np.float32),
                        rate)
    data = load_data(DataConfig(name=str(tmp_path), validation=1, test=1))
    assert data.audio is not None and data.data_shape == (1, 64, 161)  # 2.5 s at 16 kHz, hop 250: 160 hops
    assert data.audio.clip_samples >= 2.5 * 16000 - 5  # resampling may shorten by a sample or two
    noise = np.random.default_rng(0).uniform(-0.5, 0.5, 6 * rate).astype(np.float32)
    soundfile.write(str(tmp_path / "long.flac"), noise, rate)
    with caplog.at_level(logging.WARNING, logger="vaekit"):
        data = load_data(DataConfig(name=str(tmp_path), validation=1, test=1))
    assert data.data_shape == (1, 64, 257) and "1 of 5 sounds are longer than the 4.0 s" in caplog.text


def test_spectrogram_vae_learns_and_writes_valid_wavs(trained: Path) -> None:
    records = [json.loads(line) for line in (trained / "metrics.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in records if r["split"] == "train"]
    assert losses[-1] < losses[0] - 500  # nats per spectrogram
    metrics = json.loads((trained / "metrics.json").read_text())["test"]
    assert 0 < metrics["log_spectral_distance"] < 30
    wavs = sorted((trained / "samples").glob("*.wav"))
    assert len(wavs) == 20  # two per digit
    for path in [*wavs[:2], *(trained / "reconstructions").glob("*.wav"), *(trained / "interpolation").glob("*.wav")]:
        info = soundfile.info(str(path))
        assert (info.samplerate, info.frames, info.channels, info.subtype) == (16000, AUDIO.clip_samples, 1, "PCM_16")
    wave, _ = soundfile.read(str(wavs[0]))
    assert 0.01 < np.abs(wave).max() <= 1.0
    for picture in ("samples.png", "reconstructions.png", "interpolation.png", "loss_curves.png"):
        assert (trained / picture).stat().st_size > 0


def test_audio_commands(trained: Path, tmp_path: Path) -> None:
    model = str(trained / "model")
    result = vaekit("sample", model, "--class", "3", "-n", "2", "-o", str(tmp_path / "s"))
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == ["00.wav", "01.wav"]
    clips = [str(tmp_path / "s" / "00.wav"), str(tmp_path / "s" / "01.wav")]
    result = vaekit("interpolate", model, *clips, "--labels", "3", "3", "--steps", "4", "-o", str(tmp_path / "i"))
    assert result.returncode == 0 and len(list((tmp_path / "i").glob("*.wav"))) == 4
    result = vaekit("reconstruct", model, *clips)
    assert result.returncode == 2 and "--labels" in result.stderr
    assert vaekit("reconstruct", model, "-n", "2", "-o", str(tmp_path / "r")).returncode == 0
    assert len(list((tmp_path / "r").glob("*.wav"))) == 4
    (tmp_path / "bad.wav").write_bytes(b"RIFF0000WAVEjunk")
    result = vaekit("reconstruct", model, str(tmp_path / "bad.wav"), "--labels", "1")
    assert result.returncode == 2 and "not a readable WAV" in result.stderr
    tone = 0.5 * np.sin(np.arange(3 * 16000) / 9).astype(np.float32)  # 3 s, longer than the model's clip
    soundfile.write(str(tmp_path / "long.wav"), tone, 16000)
    result = vaekit("reconstruct", model, str(tmp_path / "long.wav"), "--labels", "1", "-o", str(tmp_path / "l"))
    assert result.returncode == 0 and "1 of 1 sounds are longer than the model's 0.98 s clip" in result.stderr


def test_sequence_vae_on_real_speech_mfccs(tmp_path: Path) -> None:
    config = load_config(ROOT / "configs" / "sequence-vae-fsdd.yaml",
                         ["train.epochs=4", "model.hidden=[64]", "train.progress=false", "evaluate.k=10",
                          "train.log_every=10", f"out_dir={tmp_path}", "name=seq"])
    metrics = run(config).as_dict()
    records = [json.loads(line) for line in (tmp_path / "seq" / "metrics.jsonl").read_text().splitlines()]
    elbos = [r["elbo"] for r in records if r["split"] == "valid"]
    assert elbos[-1] > elbos[0]
    assert metrics["test"]["log_likelihood"] >= metrics["test"]["elbo"] - 1
    model = load(tmp_path / "seq" / "model")
    assert isinstance(model, SequenceVAE)
    data = load_data(name="fsdd")
    assert data.train.x.shape == (2400, 92, 14) and len(data.test) == 300
    assert latent_probe_error(model, data.train, data.test, per_class=20) < 0.6  # chance: 0.9
    with pytest.raises(ValueError, match="flagging"):
        model.elbo(torch.zeros(2, 5, 14))


def test_audio_config_refusals() -> None:
    with pytest.raises(ConfigError, match="rnn"):
        load_config(None, ["model.rnn=lstm"])
    with pytest.raises(ConfigError, match="one width"):
        load_config(None, ["model.name=sequence-vae", "model.likelihood=gaussian", "model.hidden=[64, 64]"])
