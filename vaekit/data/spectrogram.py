"""Log-mel spectrograms with ``torch.stft`` and back to a waveform, so that every generation can be heard.

Forward: |STFT|^2 (Hann window) -> mel filterbank (HTK mel scale, triangular filters) -> log(mel + 1e-5),
standardized by the training set's mean and standard deviation. A clip of ``hop * (frames - 1)`` samples gives
exactly ``frames`` frames (centred STFT), so a spectrogram is an image (1, n_mels, frames).
Back: un-standardize, exp, a non-negative least-squares estimate of the linear magnitude (the filterbank's
pseudo-inverse, clamped at 0), then Griffin & Lim 1984 phase reconstruction with the momentum of Perraudin, Balazs
& Sondergaard 2013 ("fast Griffin-Lim", alpha 0.99), normalized to a peak of 0.9.
"""
from __future__ import annotations

import math

import torch

from vaekit.config import AudioConfig

_FLOOR = 1e-5


def mel_filterbank(config: AudioConfig) -> torch.Tensor:
    """Triangular filters (n_mels, n_fft // 2 + 1), equally spaced on the HTK mel scale from 0 Hz to Nyquist."""
    def mel(hz: torch.Tensor) -> torch.Tensor:
        return 2595.0 * torch.log10(1.0 + hz / 700.0)

    def hz(m: torch.Tensor) -> torch.Tensor:
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)

    bins = torch.linspace(0, config.sample_rate / 2, config.n_fft // 2 + 1, dtype=torch.float64)
    edges = hz(torch.linspace(0.0, float(mel(torch.tensor(config.sample_rate / 2.0))), config.n_mels + 2,
                              dtype=torch.float64))
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising, falling = (bins - lower) / (centre - lower), (upper - bins) / (upper - centre)
    return torch.clamp(torch.minimum(rising, falling), min=0.0).float()


def _stft(wave: torch.Tensor, config: AudioConfig) -> torch.Tensor:
    return torch.stft(wave, config.n_fft, config.hop, window=torch.hann_window(config.n_fft), center=True,
                      return_complex=True)


def log_mel(wave: torch.Tensor, config: AudioConfig, standardize: bool = True) -> torch.Tensor:
    """Waveforms (N, samples) at ``config.sample_rate`` -> log-mel spectrograms (N, 1, n_mels, frames)."""
    if wave.shape[-1] != config.clip_samples:
        raise ValueError(f"expected clips of {config.clip_samples} samples, got {wave.shape[-1]}")
    power = _stft(wave.float(), config).abs() ** 2  # (N, bins, frames)
    logs = torch.log(mel_filterbank(config) @ power + _FLOOR)[:, None]
    return (logs - config.mean) / config.std if standardize else logs


def to_waveform(spectrogram: torch.Tensor, config: AudioConfig, iterations: int = 32) -> torch.Tensor:
    """Standardized log-mel spectrograms (N, 1, n_mels, frames) -> waveforms (N, clip_samples), each scaled to a peak
    of 0.9: the mel spectrogram keeps too little of the spectrum's detail to pin down the absolute level."""
    mel = torch.exp(spectrogram[:, 0].float() * config.std + config.mean) - _FLOOR
    magnitude = torch.clamp(torch.linalg.pinv(mel_filterbank(config)) @ mel.clamp(min=0.0), min=0.0).sqrt()
    window = torch.hann_window(config.n_fft)
    generator = torch.Generator().manual_seed(0)
    angles = torch.exp(2j * math.pi * torch.rand(magnitude.shape, generator=generator))
    previous = torch.zeros_like(angles)
    wave = torch.zeros(len(magnitude), config.clip_samples)
    for _ in range(iterations):
        wave = torch.istft(magnitude * angles, config.n_fft, config.hop, window=window, length=config.clip_samples)
        rebuilt = _stft(wave, config)
        accelerated = rebuilt + 0.99 * (rebuilt - previous)
        previous = rebuilt
        angles = accelerated / accelerated.abs().clamp(min=1e-8)
    wave = torch.istft(magnitude * angles, config.n_fft, config.hop, window=window, length=config.clip_samples)
    return 0.9 * wave / wave.abs().amax(-1, keepdim=True).clamp(min=1e-8)


def log_spectral_distance(a: torch.Tensor, b: torch.Tensor, config: AudioConfig) -> torch.Tensor:
    """Per clip, the root mean square over frames and mel bands of the difference in dB between two standardized
    log-mel spectrograms (N, 1, n_mels, frames)."""
    decibels = 10.0 / math.log(10.0) * config.std * (a - b)  # 10 log10 of a power ratio
    return decibels.pow(2).mean((1, 2, 3)).sqrt()
