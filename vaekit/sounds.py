"""Sound from spectrogram models: samples, reconstructions and interpolations as WAV files and spectrogram pictures.

A model trained on log-mel spectrograms (``model.config.audio`` is set) decodes to the mean spectrogram, which
:func:`vaekit.data.spectrogram.to_waveform` turns into a waveform by Griffin-Lim.
"""
from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch

from vaekit.config import AudioConfig
from vaekit.contract import Conditional
from vaekit.data.audio import as_clips, read_wave
from vaekit.data.dataset import Split
from vaekit.data.spectrogram import log_mel, log_spectral_distance, to_waveform
from vaekit.generate import class_names, interpolate, samples_per_class
from vaekit.models import LatentVariableModel
from vaekit.plots import spectrograms

log = logging.getLogger(__name__)


def audio_of(model: LatentVariableModel) -> AudioConfig:
    if model.config.audio is None:
        raise ValueError(f"this {model.registered_name} was not trained on audio spectrograms")
    return model.config.audio


def wav_bytes(wave: torch.Tensor, sample_rate: int) -> bytes:
    """A waveform as the bytes of a mono 16-bit PCM WAV file."""
    import soundfile

    buffer = io.BytesIO()
    soundfile.write(buffer, wave.detach().clamp(-1, 1).numpy().astype(np.float32), sample_rate, format="WAV",
                    subtype="PCM_16")
    return buffer.getvalue()


def write_wav(path: Path, wave: torch.Tensor, sample_rate: int) -> Path:
    """A mono 16-bit PCM WAV file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(wav_bytes(wave, sample_rate))
    return path


def write_sounds(model: LatentVariableModel, specs: torch.Tensor, folder: Path, names: list[str],
                 title: str) -> list[Path]:
    """Each spectrogram as ``folder/NAME.wav`` and all of them in ``folder.png``."""
    audio = audio_of(model)
    waves = to_waveform(specs, audio)
    written = [write_wav(folder / f"{name}.wav", w, audio.sample_rate) for name, w in zip(names, waves)]
    return [*written, spectrograms(specs, folder.with_suffix(".png"), [f"{title} {n}" for n in names])]


def _file_safe(name: str) -> str:
    """A class name as part of a file name: anything but letters, digits, '-' and '_' becomes '_'."""
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name) or "_"


def read_clips(model: LatentVariableModel, paths: Sequence[Path | BinaryIO]) -> torch.Tensor:
    """WAV/FLAC files (or their bytes in memory) as the model's standardized spectrograms (N, 1, n_mels, frames)."""
    audio = audio_of(model)
    clips, cut = as_clips([read_wave(p, audio.sample_rate) for p in paths], audio)
    if cut:
        log.warning("%d of %d sounds are longer than the model's %.2f s clip and keep only their middle %.2f s",
                    cut, len(clips), audio.seconds, audio.seconds)
    return log_mel(torch.from_numpy(clips), audio)


@torch.no_grad()
def sample_sounds(model: LatentVariableModel, folder: Path, n: int = 10, seed: int = 0,
                  label: int | None = None) -> list[Path]:
    """Samples from the prior: n of them, or of a conditional model two per class (or n of class ``label``)."""
    if isinstance(model, Conditional) and label is None:
        specs = samples_per_class(model, 2, seed)
        names = [f"{_file_safe(name)}-{i}" for name in class_names(model) for i in range(2)]
    else:
        specs, names = model.sample(n, seed=seed, y=label), [f"{i:02d}" for i in range(n)]
    return write_sounds(model, specs, folder, names, "sample")


@torch.no_grad()
def reconstruct_sounds(model: LatentVariableModel, x: torch.Tensor, folder: Path,
                       y: torch.Tensor | None = None) -> list[Path]:
    """Each clip beside its reconstruction (``NN-input.wav``, ``NN-output.wav``)."""
    recon = model.reconstruct(x, y)
    both = torch.stack([x, recon], 1).flatten(0, 1)
    names = [f"{i:02d}-{part}" for i in range(len(x)) for part in ("input", "output")]
    return write_sounds(model, both, folder, names, "")


@torch.no_grad()
def interpolate_sounds(model: LatentVariableModel, x: torch.Tensor, folder: Path, steps: int = 8,
                       y: torch.Tensor | None = None) -> list[Path]:
    """The decoded path between two clips' posterior means."""
    specs = interpolate(model, x[:1], x[1:2], steps, y=y)
    return write_sounds(model, specs, folder, [f"{i:02d}" for i in range(steps)], "step")


def audio_figures(model: LatentVariableModel, test_x: torch.Tensor, test_y: torch.Tensor | None, run_dir: Path,
                  seed: int = 0) -> list[Path]:
    """A run's sounds: samples/, reconstructions/ (8 test clips) and interpolation/ (test clips 0 and 1)."""
    y = test_y if isinstance(model, Conditional) else None
    return [*sample_sounds(model, run_dir / "samples", seed=seed),
            *reconstruct_sounds(model, test_x[:8], run_dir / "reconstructions", None if y is None else y[:8]),
            *interpolate_sounds(model, test_x[:2], run_dir / "interpolation", y=None if y is None else y[:2])]


@torch.no_grad()
def reconstruction_distance(model: LatentVariableModel, split: Split, batch_size: int = 500) -> float:
    """The mean log-spectral distance (dB) between a split's spectrograms and their reconstructions."""
    audio = audio_of(model)
    total = 0.0
    for x, y in split.labelled_batches(batch_size, shuffle=False):
        labels = y if isinstance(model, Conditional) else None
        total += log_spectral_distance(x, model.reconstruct(x, labels), audio).sum().item()
    return total / max(1, len(split))
