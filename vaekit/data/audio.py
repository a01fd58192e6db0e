"""Audio data: spoken digits synthesized with espeak-ng, the user's WAV/FLAC folders, as log-mel spectrograms.

Clips are mono, resampled to the spectrogram's sample rate (polyphase, ``scipy.signal.resample_poly``), trimmed
of leading and trailing silence, then centred and cut or zero-padded to ``AudioConfig.clip_samples``. A set of
clips becomes standardized log-mel spectrograms (1, n_mels, frames) (:mod:`vaekit.data.spectrogram`), with the
mean and standard deviation of its training split stored in the data's (and later the model's) ``AudioConfig``.
"""
from __future__ import annotations

import io
import json
import logging
import math
import shutil
import subprocess
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch

from vaekit.atomic import atomic_write
from vaekit.config import AudioConfig, DataConfig
from vaekit.data.dataset import Data, Split, _generator, folder_labels, split_sizes
from vaekit.data.files import cache_dir
from vaekit.data.spectrogram import log_mel
from vaekit.progress import progress as progress_bar

log = logging.getLogger(__name__)

AUDIO_SUFFIXES = {".wav", ".flac"}
DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
ACCENTS = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-029",
           "en-us-nyc")
VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5")
SYNTH_VERSION = 1  # part of the cache name: a change to the manifest's recipe makes a new cache


def resample(wave: np.ndarray, rate: int, target: int) -> np.ndarray:
    """Polyphase resampling of a mono float waveform from ``rate`` to ``target`` Hz."""
    if rate == target:
        return wave.astype(np.float32)
    from scipy.signal import resample_poly

    g = math.gcd(rate, target)
    return resample_poly(wave, target // g, rate // g).astype(np.float32)


def trim_silence(wave: np.ndarray, threshold: float = 0.01) -> np.ndarray:
    """The wave without its leading and trailing samples quieter than ``threshold`` of the peak."""
    loud = np.nonzero(np.abs(wave) > threshold * max(float(np.abs(wave).max()), 1e-9))[0]
    return wave[loud[0]:loud[-1] + 1] if len(loud) else wave


def fit_length(wave: np.ndarray, samples: int) -> np.ndarray:
    """The wave centred in ``samples``: cut evenly at both ends if longer, zero-padded if shorter."""
    if len(wave) >= samples:
        start = (len(wave) - samples) // 2
        return wave[start:start + samples].astype(np.float32)
    out = np.zeros(samples, dtype=np.float32)
    start = (samples - len(wave)) // 2
    out[start:start + len(wave)] = wave
    return out


def read_wave(path: Path | BinaryIO, sample_rate: int) -> np.ndarray:
    """A WAV/FLAC file (or its bytes in memory) as a mono waveform at ``sample_rate``, its silent ends trimmed."""
    import soundfile

    name = path if isinstance(path, (str, Path)) else "the uploaded file"
    try:
        wave, rate = soundfile.read(str(path) if isinstance(path, (str, Path)) else path, dtype="float32",
                                    always_2d=True)
    except (RuntimeError, soundfile.LibsndfileError) as error:
        raise ValueError(f"{name} is not a readable WAV/FLAC file ({error})") from None
    if len(wave) == 0:
        raise ValueError(f"{name} holds no samples")
    return trim_silence(resample(wave.mean(1), rate, sample_rate))


def as_clips(sounds: list[np.ndarray], config: AudioConfig) -> tuple[np.ndarray, int]:
    """Trimmed sounds as clips (N, clip_samples), and how many were longer and keep only their middle."""
    cut = sum(len(s) > config.clip_samples for s in sounds)
    return np.stack([fit_length(s, config.clip_samples) for s in sounds]), cut


def spectrogram_data(name: str, waves: np.ndarray, labels: np.ndarray | None, config: AudioConfig,
                     data: DataConfig, classes: tuple[str, ...] | None = None) -> Data:
    """Clips (N, clip_samples) as standardized log-mel spectrograms, split (seeded, ``data.validation`` and
    ``data.test``) into train, validation and test; the training split's mean and standard deviation go into the
    data's AudioConfig."""
    logs = log_mel(torch.from_numpy(waves), config, standardize=False)
    order = torch.randperm(len(logs), generator=_generator(data.seed, 1984))
    _, n_valid, n_test = split_sizes(name, len(logs), data.validation, data.test)
    test, valid, train = order[:n_test], order[n_test:n_test + n_valid], order[n_test + n_valid:]
    config = config.model_copy(update={"mean": float(logs[train].mean()), "std": float(logs[train].std())})
    x = (logs - config.mean) / config.std
    y = None if labels is None else torch.from_numpy(labels.astype(np.int64))

    def split(index: torch.Tensor) -> Split:
        return Split(x[index], None if y is None else y[index], "continuous")

    return Data(name, split(train), split(valid), split(test), audio=config, classes=classes)


# --- the user's audio files ---------------------------------------------------------------------------
def audio_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file())


def load_audio_folder(folder: Path, config: AudioConfig, data: DataConfig) -> Data:
    """A folder of WAV/FLAC files (any sample rate; sub-folders become class labels) as spectrogram data."""
    files = audio_files(folder)
    if len(files) < 3:
        raise ValueError(f"{folder}: {len(files)} WAV/FLAC files; audio data needs at least 3")
    sounds = [read_wave(p, config.sample_rate) for p in files]
    config = clips_for(config, [len(s) for s in sounds])
    waves, cut = as_clips(sounds, config)
    if cut:
        log.warning("%d of %d sounds are longer than the %.1f s a clip holds at most and keep only their middle %.1f s",
                    cut, len(sounds), config.seconds, config.seconds)
    labels, classes = folder_labels(folder, files)
    return spectrogram_data(folder.name, waves, None if labels is None else np.array(labels), config, data,
                            None if classes is None else tuple(classes))


LONGEST_CLIP_SECONDS = 4.0  # a folder's spectrograms hold its longest sound, up to this long


def clips_for(config: AudioConfig, lengths: list[int]) -> AudioConfig:
    """``config`` with enough frames for the longest of sounds of ``lengths`` samples (never fewer than it has, at
    most :data:`LONGEST_CLIP_SECONDS`); the log says the clip length."""
    cap = int(LONGEST_CLIP_SECONDS * config.sample_rate) // config.hop + 1
    frames = min(cap, max(config.frames, math.ceil(max(lengths) / config.hop) + 1))
    config = config.model_copy(update={"frames": frames})
    log.info("audio: clips of %.2f s (%d frames), for sounds of up to %.2f s after trimming silence",
             config.seconds, frames, max(lengths) / config.sample_rate)
    return config


# --- spoken digits from espeak-ng -----------------------------------------------------------------------
def digit_manifest(count: int, seed: int) -> list[dict]:
    """The recipe of each clip, seeded: the digit (in turn), an accent, a voice variant, pitch and speed."""
    rng = np.random.default_rng([seed, 31337])
    return [{"digit": i % 10, "voice": f"{ACCENTS[rng.integers(len(ACCENTS))]}+{VARIANTS[rng.integers(len(VARIANTS))]}",
             "pitch": int(rng.integers(20, 81)), "speed": int(rng.integers(120, 221))} for i in range(count)]


def speak(entry: dict, sample_rate: int) -> np.ndarray:
    """One manifest entry (its ``digit``, or any ``text``) spoken by espeak-ng with its voice, pitch and speed, as a
    mono float waveform at ``sample_rate``."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise ValueError("the spoken-digits set is synthesized with espeak-ng: install it (apt-get install espeak-ng)")
    out = subprocess.run([exe, "--stdout", "-v", entry["voice"], "-p", str(entry["pitch"]), "-s",
                          str(entry["speed"]), entry.get("text") or DIGITS[entry["digit"]]],
                         capture_output=True, check=True, timeout=60)
    raw = out.stdout
    at = raw.find(b"data")  # a streamed WAV: 16-bit mono PCM after the data chunk's 8-byte head
    rate = int.from_bytes(raw[24:28], "little")
    pcm = np.frombuffer(raw[at + 8:len(raw) - (len(raw) - at - 8) % 2], dtype="<i2").astype(np.float32) / 32768.0
    return resample(pcm, rate, sample_rate)


def synthesize_digits(count: int, seed: int, config: AudioConfig, progress: bool = True) -> tuple[np.ndarray, list]:
    """``count`` clips (count, clip_samples) and their manifest, synthesized once and cached (``.npz`` of int16
    samples beside the manifest's JSON) under the cache directory."""
    folder = cache_dir() / "spoken-digits"
    stem = f"v{SYNTH_VERSION}-n{count}-seed{seed}-{config.sample_rate}hz-{config.clip_samples}"
    path = folder / f"{stem}.npz"
    manifest = digit_manifest(count, seed)
    if path.is_file():
        with np.load(path, allow_pickle=False) as cached:
            if json.loads(str(cached["manifest"])) == manifest:
                return cached["clips"].astype(np.float32) / 32767.0, manifest
    spoken = []
    with progress_bar(len(manifest), "synthesizing spoken digits", "clip", progress) as bar:
        for entry in manifest:
            spoken.append(fit_length(trim_silence(speak(entry, config.sample_rate)), config.clip_samples))
            bar.update(1)
    clips = np.stack(spoken)
    folder.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, clips=np.round(np.clip(clips, -1, 1) * 32767).astype(np.int16),
                        manifest=np.array(json.dumps(manifest)))
    atomic_write(path, lambda tmp: tmp.write_bytes(buffer.getvalue()))
    return np.round(np.clip(clips, -1, 1) * 32767).astype(np.float32) / 32767.0, manifest


def spoken_digits(count: int, data: DataConfig, config: AudioConfig | None = None) -> Data:
    """The synthesized spoken-digit set (seeded by ``data.seed``) as spectrograms, labels the digits."""
    config = config or AudioConfig()
    clips, manifest = synthesize_digits(count, data.seed, config)
    return spectrogram_data("spoken-digits", clips, np.array([e["digit"] for e in manifest]), config, data, DIGITS)
