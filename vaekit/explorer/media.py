"""What the explorer shows and reads: a model's data as PNG, WAV or text for the browser, and uploads as data.

Everything happens in memory: uploads arrive as bytes and never touch the file system.
"""
from __future__ import annotations

import base64
import binascii
import io
from typing import Any

import numpy as np
import torch
from matplotlib import colormaps
from PIL import Image

from vaekit.contract import Sentences
from vaekit.data.user_files import is_image_shape
from vaekit.generate import to_picture
from vaekit.modalities import read_images
from vaekit.models import Model

MAX_TEXT = 1000  # characters of one sentence


def kind_of(model: Model) -> str:
    """``text``, ``audio`` (spectrograms) or ``image``; other data is refused."""
    if isinstance(model, Sentences):
        return "text"
    if model.config.audio is not None:
        return "audio"
    if is_image_shape(model.data_shape):
        return "image"
    raise ValueError(f"the explorer shows images, spectrograms and sentences; this {model.registered_name}'s data "
                     f"has shape {model.data_shape}")


def _data_url(mime: str, payload: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(payload).decode()}"


def png(image: torch.Tensor) -> str:
    """An image (C, H, W) in [0, 1] as a PNG data URL."""
    buffer = io.BytesIO()
    to_picture(image).save(buffer, format="PNG")
    return _data_url("image/png", buffer.getvalue())


def spectrogram_png(spec: torch.Tensor) -> str:
    """A log-mel spectrogram (1, mels, frames) as a PNG, low frequencies at the bottom, in magma colours."""
    values = spec[0].detach().flip(0)
    scaled = ((values - values.min()) / (values.max() - values.min() + 1e-8)).numpy()
    rgb = (colormaps["magma"](scaled)[..., :3] * 255).round().astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")
    return _data_url("image/png", buffer.getvalue())


def wav(model: Model, spec: torch.Tensor) -> str:
    """A spectrogram's sound (Griffin-Lim) as a 16-bit WAV data URL."""
    from vaekit.data.spectrogram import to_waveform
    from vaekit.sounds import audio_of, wav_bytes

    audio = audio_of(model)
    return _data_url("audio/wav", wav_bytes(to_waveform(spec.unsqueeze(0), audio)[0], audio.sample_rate))


def items(model: Model, x: torch.Tensor) -> list[dict[str, Any]]:
    """A batch of the model's data as what the page shows: {"image"}, {"image", "audio"} or {"text"}."""
    kind = kind_of(model)
    if kind == "text":
        from vaekit.sentences import to_text

        return [{"text": line} for line in to_text(model, x)]  # type: ignore[arg-type]
    if kind == "audio":
        return [{"image": spectrogram_png(s), "audio": wav(model, s)} for s in x]
    return [{"image": png(image)} for image in x]


def decode_base64(data: str) -> bytes:
    """Bytes sent as base64 (a data URL's prefix is allowed); a clear error for anything else. (Its length is bounded
    where the request is validated.)"""
    if data.startswith("data:") and "," not in data:
        raise ValueError("the file is a data URL without its comma before the base64")
    payload = data.split(",", 1)[1] if data.startswith("data:") else data
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the file is not valid base64") from None


def read_upload(model: Model, raw: bytes) -> torch.Tensor:
    """An uploaded file as one datum (1, *data_shape): an image (PNG/JPEG) or a sound (WAV/FLAC), converted as the
    command line would (grey or RGB, resized; mono, resampled, fitted)."""
    kind = kind_of(model)
    if kind == "audio":
        from vaekit.sounds import read_clips

        return read_clips(model, [io.BytesIO(raw)])
    if kind != "image":
        raise ValueError("a text model reads sentences, not files")
    return read_images(model, [io.BytesIO(raw)])


def read_sentence(model: Model, text: str) -> torch.Tensor:
    """One sentence as token ids (1, L) under the model's tokenizer."""
    from vaekit.sentences import to_ids

    if not isinstance(model, Sentences):
        raise ValueError(f"{model.registered_name} reads {kind_of(model)} files, not sentences")
    line = text.strip()
    if not line or "\n" in line or len(line) > MAX_TEXT:
        raise ValueError(f"give one sentence of 1 to {MAX_TEXT} characters on one line")
    return to_ids(model, [line])
