"""Compressing files and folders into one file and back: what ``vaekit compress`` and ``vaekit decompress`` do,
for images, arrays and (a text model's) text, through the one codec API (:func:`vaekit.codec.compress`)."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

from vaekit.atomic import atomic_write
from vaekit.codec import compress, decompress, read_header
from vaekit.codec.container import unpack
from vaekit.codec.files import folder_labels, model_reference, read_inputs, read_labels, write_outputs
from vaekit.contract import Conditional, Sentences
from vaekit.generate import class_names
from vaekit.image_quality import SSIM_WINDOW, psnr, ssim
from vaekit.models import Model
from vaekit.saving import load

__all__ = ["compress_paths", "decompress_path"]


def _compress_text(model: Model, model_dir: str, inputs: list[str], output: str, precision: int | None,
                   batch_size: int) -> str:
    if len(inputs) != 1 or not Path(inputs[0]).is_file():
        raise ValueError("a text model compresses one UTF-8 text file, a sentence a line")
    path = Path(inputs[0])
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"{path} is not UTF-8 text ({error})") from None
    data = compress(model, text, precision=precision, batch_size=batch_size, progress=True,
                    source={"files": [path.name], "model": model_reference(model_dir, output)})
    atomic_write(Path(output), lambda tmp: tmp.write_bytes(data))
    return (f"{output}: {text.count(chr(10)) + (not text.endswith(chr(10)))} lines, {len(text)} characters in "
            f"{len(data)} bytes, {8 * len(data) / len(text):.4f} bits/character")


def compress_paths(model_dir: str, inputs: list[str], output: str, mode: Literal["lossless", "lossy"] = "lossless",
                   precision: int | None = None, step: float | None = None, entropy_model: str | None = None,
                   batch_size: int = 1000, keep_names: bool = True, labels: str | None = None) -> str:
    """Compress image files, folders of images, one .npy array or (a text model) one text file with the saved
    model ``model_dir`` into ``output``; returns the line that says what was written."""
    model = load(model_dir)
    if isinstance(model, Sentences):
        return _compress_text(model, model_dir, inputs, output, precision, batch_size)  # the model loaded once
    x, source, names = read_inputs(inputs, model.data_shape, keep_names=keep_names, lossless=mode == "lossless")
    source["model"] = model_reference(model_dir, output)
    y = None if labels is None else read_labels(Path(labels))
    if y is None and isinstance(model, Conditional):  # a labelled folder: an image's class is its folder
        y = folder_labels(names, class_names(model))
        if y is None:
            raise ValueError(f"{model.registered_name} codes each item's class: put the images in folders named "
                             f"after the classes ({', '.join(class_names(model)[:10])}) or give --labels y.npy")
    data = compress(model, x, mode, precision=precision, step=step, entropy_model=entropy_model,  # type: ignore[arg-type]
                    batch_size=batch_size, source=source, progress=True, labels=y)
    atomic_write(Path(output), lambda tmp: tmp.write_bytes(data))
    payload = len(unpack(data)[1])
    pixels = len(x) * math.prod(model.data_shape[-2:]) if len(model.data_shape) == 3 else x.numel()
    line = (f"{output}: {len(x)} items in {len(data)} bytes ({len(data) - payload} of header and names); the "
            f"data {8 * payload / x.numel():.4f} bits/dim ({8 * payload / pixels:.4f} bits/pixel), the whole file "
            f"{8 * len(data) / x.numel():.4f} bits/dim")
    if mode == "lossy":
        decoded = decompress(model, data).x
        line += f", PSNR {psnr(x, decoded):.2f} dB"
        if x.dim() == 4 and min(x.shape[-2:]) >= SSIM_WINDOW:
            line += f", SSIM {ssim(x, decoded):.4f}"
        elif x.dim() == 4:
            line += f" (no SSIM: its window is {SSIM_WINDOW} pixels wide, the images {min(x.shape[-2:])})"
    return line


def _find_model(recorded: object, compressed: Path) -> Path | None:
    if not isinstance(recorded, str) or not recorded:
        return None
    for base in (compressed.resolve().parent, Path.cwd()):
        if (base / recorded / "config.json").is_file():
            return base / recorded
    return None


def decompress_path(file: str, output: str, model_dir: str | None = None) -> str:
    """Decompress ``file`` into ``output`` (a folder of images, a .npy, or a text file) with the model it records
    (or ``model_dir``); returns the line that says what was written."""
    source = Path(file)
    if not source.is_file():
        raise ValueError(f"'{source}' is {'a folder' if source.is_dir() else 'not there'}; give a file written by "
                         "vaekit compress")
    data = source.read_bytes()
    header = read_header(data)
    found = model_dir or _find_model(header.source.get("model"), source)
    if found is None or not Path(found).is_dir():
        recorded = header.source.get("model")
        raise FileNotFoundError(f"the model this file was made with ({recorded or 'not recorded'}) is not found "
                                "from here or beside the file; give it with --model")
    out = decompress(load(found), data, progress=True)
    if out.text is not None:
        text = out.text
        atomic_write(Path(output), lambda tmp: tmp.write_text(text, encoding="utf-8"))
        return f"{output}: {header.count} lines of text"
    assert out.x is not None  # an image or array file
    written = write_outputs(out.x, header, output, out.labels)
    return f"{output}: {header.count} items ({header.mode}) in {len(written)} file(s)"
