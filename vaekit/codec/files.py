"""What the command line compresses and writes back: image files, folders of images, or one .npy array.

The header's ``source`` records how the input was given, so decompression writes the same form back:
the images under their relative names (as PNG; the names xz-compressed, or left out on request) or the array
with its dtype and shape.
"""
from __future__ import annotations

import base64
import binascii
import lzma
import os
import re
import shutil
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import torch
from PIL import Image

from vaekit.atomic import umask_mode
from vaekit.codec.container import CodecError, Header
from vaekit.data.user_files import (
    channels_first_shape,
    image_depth,
    image_files,
    is_image_shape,
    read_image,
    read_npy,
    to_channels_first,
)


def _image_files(paths: list[Path]) -> list[tuple[Path, str]]:
    """(file, name kept in the header) for each image given or found under a folder given."""
    found: list[tuple[Path, str]] = []
    for path in paths:
        if path.is_dir():
            files = image_files(path)
            if not files:
                raise CodecError(f"{path}: no PNG or JPEG images found")
            found += [(p, p.relative_to(path).as_posix()) for p in files]
        elif path.is_file():
            found.append((path, path.name))
        else:
            raise CodecError(f"input '{path}' does not exist")
    check_output_paths([name for _, name in found])
    return found


def output_path(name: object) -> PurePosixPath:
    """Where decompression writes an image named ``name``: the name as a PNG, refused if it would leave the
    output folder."""
    path = PurePosixPath(str(name))
    if not str(name) or path.is_absolute() or ".." in path.parts or "\\" in str(name):
        raise CodecError(f"the file names an unsafe output path {str(name)[:80]!r}")
    return path.with_suffix(".png")


def check_output_paths(names: list[str]) -> list[PurePosixPath]:
    """The output paths of ``names``, refused where two would be one file on a case-insensitive file system, or
    one file would sit where another needs a folder."""
    paths = [output_path(name) for name in names]
    owner: dict[str, str] = {}
    for name, path in zip(names, paths):
        key = path.as_posix().casefold()
        if key in owner:
            raise CodecError(f"'{owner[key]}' and '{name}' would both decompress to {path}: rename one")
        owner[key] = name
    for name, path in zip(names, paths):
        for parent in path.parents[:-1]:
            if parent.as_posix().casefold() in owner:
                raise CodecError(f"'{owner[parent.as_posix().casefold()]}' would decompress to {parent}, where "
                                 f"'{name}' needs a folder: rename one")
    return paths


def _read_exact(path: Path, data_shape: tuple[int, ...], lossless: bool) -> np.ndarray:
    if lossless and image_depth(path) > 8:
        raise CodecError(f"{path} is a 16-bit image; lossless coding keeps 8 bits per pixel, so it would not come "
                         "back as it is: convert it to 8 bits first, or compress it --mode lossy")
    image = read_image(path, None, "resize", "L" if data_shape[0] == 1 else "RGB")  # never resized
    if image.shape != data_shape:
        raise CodecError(f"{path}: the image is {image.shape[2]}x{image.shape[1]}; the model codes "
                         f"{data_shape[2]}x{data_shape[1]} images")
    return image


def _read_array(path: Path, data_shape: tuple[int, ...]) -> tuple[torch.Tensor, dict[str, Any]]:
    try:
        array = read_npy(path)
    except ValueError as error:
        raise CodecError(str(error)) from None
    if not isinstance(array, np.ndarray) or not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_):
        raise CodecError(f"{path}: expected one numeric .npy array")
    source = {"kind": "npy", "dtype": array.dtype.str, "shape": list(array.shape)}
    if array.size == 0 or array.size % int(np.prod(data_shape)):
        raise CodecError(f"{path}: an array of shape {array.shape} does not hold items of shape {data_shape}")
    x = torch.from_numpy(array.astype(np.float64))
    if array.ndim == 4 and array.shape[1:] != tuple(data_shape) and \
            channels_first_shape(array.shape[1:], "8bit") == tuple(data_shape):  # images channels last, as trained
        x, source["layout"] = to_channels_first(x, tuple(data_shape)), "channels-last"
    x = x.reshape(-1, *data_shape)
    return (x / 255.0 if array.dtype == np.uint8 else x).float(), source


_NUMBERED = re.compile(r"^(.*?)(\d+)(\D*)$")  # a name's last number: prefix, digits, suffix
_XZ = [{"id": lzma.FILTER_LZMA2, "preset": 9}]
MAX_NAMES_BYTES = 1 << 24  # the most a file's packed names may unpack to


def _runs(names: list[str]) -> list[str]:
    """Names as lines: a run of numbered names (``bar/bar_0000.png``, ``bar/bar_0001.png``, ...) as one line
    ``prefix NUL first-number NUL count NUL suffix``; any other name as itself."""
    lines, i = [], 0
    while i < len(names):
        match = _NUMBERED.match(names[i])
        j = i + 1
        if match:
            prefix, digits, suffix = match.groups()
            while j < len(names) and names[j] == f"{prefix}{int(digits) + j - i:0{len(digits)}d}{suffix}":
                j += 1
        lines.append(f"{prefix}\0{digits}\0{j - i}\0{suffix}" if match and j - i > 1 else names[i])
        i = j
    return lines


def pack_names(names: list[str]) -> str:
    """File names for the header: runs of numbered names as one line each (:func:`_runs`), xz-compressed, in base
    64: a folder's names cost a small fraction of their length."""
    for name in names:
        if "\n" in name or "\0" in name:
            raise CodecError(f"the file name {name[:60]!r} holds a newline or NUL; rename it")
    raw = "\n".join(_runs(names)).encode()
    return base64.b64encode(lzma.compress(raw, format=lzma.FORMAT_RAW, filters=_XZ)).decode()


def unpack_names(packed: object, count: int) -> list[str]:
    """The ``count`` names :func:`pack_names` packed (a run is expanded only as far as ``count`` allows)."""
    try:
        unpacker = lzma.LZMADecompressor(format=lzma.FORMAT_RAW, filters=_XZ)
        raw = unpacker.decompress(base64.b64decode(str(packed), validate=True), max_length=MAX_NAMES_BYTES)
        if not unpacker.eof:
            raise CodecError(f"the file's list of names unpacks to more than {MAX_NAMES_BYTES:,} bytes")
        lines = raw.decode().split("\n")
    except (binascii.Error, lzma.LZMAError, UnicodeDecodeError):
        raise CodecError("the file's list of names is corrupt") from None
    names: list[str] = []
    for line in lines:
        parts = line.split("\0")
        if len(parts) == 1:
            names.append(line)
        elif len(parts) == 4 and parts[1].isdigit() and parts[2].isdigit() and int(parts[2]) <= count - len(names):
            prefix, digits, run, suffix = parts
            names += [f"{prefix}{int(digits) + k:0{len(digits)}d}{suffix}" for k in range(int(run))]
        else:
            raise CodecError("the file's list of names is corrupt")
        if len(names) > count:
            break
    if len(names) != count:
        raise CodecError(f"the file lists {len(names)} names for {count} items")
    return names


def model_reference(model_dir: str | Path, written_to: str | Path | None = None) -> str:
    """How a compressed file names its model, never by an absolute path of this machine: relative to the folder
    the file is ``written_to`` (so the two can move together), else as given when relative, else its last two
    parts. ``vaekit decompress`` looks for it from the file's folder, then from the working folder."""
    path = Path(model_dir)
    if written_to is not None:
        return Path(os.path.relpath(path.resolve(), Path(written_to).resolve().parent)).as_posix()
    return path.as_posix() if not path.is_absolute() else Path(*path.parts[-2:]).as_posix()


def folder_labels(names: list[str], classes: list[str]) -> np.ndarray | None:
    """Labels from the class folder each name sits in (``cat/001.png``: class ``cat``), or None if some input is
    not in a folder named after one of ``classes``."""
    folders = [PurePosixPath(name).parts[0] if len(PurePosixPath(name).parts) > 1 else None for name in names]
    if not classes or any(f not in classes for f in folders):
        return None
    return np.array([classes.index(f) for f in folders], dtype=np.int64)  # type: ignore[arg-type]


def read_inputs(paths: list[str | Path], data_shape: tuple[int, ...], keep_names: bool = True,
                lossless: bool = True) -> tuple[torch.Tensor, dict[str, Any], list[str]]:
    """The batch (N, *data_shape) in [0, 1] to compress, the ``source`` notes to keep in the header (the names
    packed, unless not ``keep_names``: decompression then numbers the files) and the inputs' names. 16-bit images
    are scaled to 8 bits, and refused when ``lossless``."""
    given = [Path(p) for p in paths]
    if not given:
        raise CodecError("no inputs given")
    if any(p.suffix == ".npy" for p in given):
        if len(given) != 1:
            raise CodecError("give either one .npy array or image files and folders, not both")
        array, notes = _read_array(given[0], data_shape)
        return array, notes, [given[0].name]
    if not is_image_shape(data_shape):
        raise CodecError(f"this model's data has shape {data_shape}, not images; give a .npy array")
    found = _image_files(given)
    pixels = np.stack([_read_exact(path, data_shape, lossless) for path, _ in found])
    names = [name for _, name in found]
    source: dict[str, Any] = {"kind": "images"}
    if keep_names:
        source["names_xz"] = pack_names(names)
    return torch.from_numpy(pixels).float() / 255.0, source, names


def read_labels(path: Path) -> np.ndarray:
    """A conditional model's labels: a .npy of integers (N,), never unpickled."""
    try:
        labels = read_npy(path)
    except ValueError as error:
        raise CodecError(f"labels {error}") from None
    if not isinstance(labels, np.ndarray) or labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise CodecError(f"{path}: labels must be a 1-D integer array")
    return labels


def labels_path(out: Path) -> Path:
    """Where decompression writes the labels: beside an array output, or inside an image folder."""
    return out.with_suffix(".labels.npy") if out.suffix == ".npy" else out / "labels.npy"


def write_outputs(x: torch.Tensor, header: Header, out: str | Path, labels: np.ndarray | None = None) -> list[Path]:
    """Write the decoded batch in the form it was given: images into the folder ``out``, or the array ``out``;
    a conditional model's labels go to :func:`labels_path`. Everything is written into a staging folder beside
    ``out`` first and moved into place only when all of it is written: on failure, nothing is left."""
    out = Path(out)
    array = header.source.get("kind") == "npy" or out.suffix == ".npy"
    names = None if array else [p.as_posix() for p in check_output_paths(_names(header, len(x)))]
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".partial"))
    try:
        staged = stage / out.name if array else stage
        files: list[Path] = []
        if labels is not None:
            files.append(_write_labels(labels, labels_path(staged)))
        files += [_write_array(x, header, staged)] if array else _write_images(x, names or [], staged)
        return _move_into_place(stage, out, [f.relative_to(stage) for f in files], whole=not array)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _names(header: Header, count: int) -> list[str]:
    source = header.source
    if "names_xz" in source:
        return unpack_names(source["names_xz"], count)
    names = source.get("names") or [f"{i:06d}" for i in range(count)]
    if len(names) != count:
        raise CodecError(f"the file lists {len(names)} names for {count} items")
    return [str(name) for name in names]


def _move_into_place(stage: Path, out: Path, files: list[Path], whole: bool) -> list[Path]:
    """Move the staged ``files`` (relative to ``stage``) to the same places under ``out.parent`` (an array) or
    ``out`` (a folder of images): the staging folder is renamed onto a folder that is not there yet, else each
    file is moved after every target has been checked."""
    base = out if whole else out.parent
    targets = [base / f for f in files]
    if whole and not out.exists():
        os.chmod(stage, umask_mode(0o777))
        os.rename(stage, out)
        return targets
    if whole and not out.is_dir():
        raise CodecError(f"{out} exists and is not a folder; give another output folder")
    for file, target in zip(files, targets):
        blocked = [target] if target.is_dir() else [base / p for p in file.parents if (base / p).is_file()]
        if blocked:
            raise CodecError(f"{blocked[0]} is in the way of {file}: move it, or give another output folder")
    for staged, target in zip(files, targets):
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(stage / staged, target)
    return targets


def _write_labels(labels: np.ndarray, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, labels.astype(np.int64), allow_pickle=False)
    return path


def _write_array(x: torch.Tensor, header: Header, out: Path) -> Path:
    source = header.source
    try:
        dtype = np.dtype(source.get("dtype", "<f4"))
    except TypeError:
        dtype = np.dtype("O")
    if dtype.kind not in "biuf":
        raise CodecError(f"the file names an unsupported array dtype {source.get('dtype')!r}")
    shape = source.get("shape", list(x.shape))
    if header.mode == "lossy" and dtype.kind != "f" and dtype != np.uint8:
        dtype = np.dtype("<f4")  # integers other than 8-bit pixels cannot hold a reconstruction
    if header.mode == "lossless":  # the levels exactly, as the input held them: k / 255 in the input's dtype
        levels = np.round(x.double().numpy() * 255.0)
        array = levels.astype(dtype) if dtype == np.uint8 else (levels / 255.0).astype(dtype)
    else:
        values = x.double().numpy()
        array = values.astype(dtype) if dtype.kind == "f" else np.round(values * 255.0).astype(dtype)
    if source.get("layout") == "channels-last":
        array = array.transpose(0, 2, 3, 1)
    np.save(out, array.reshape(shape), allow_pickle=False)
    return out


def _write_images(x: torch.Tensor, names: list[str], out: Path) -> list[Path]:
    pixels = np.round(x.double().numpy() * 255.0).astype(np.uint8)
    written = []
    for name, item in zip(names, pixels):
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(item[0] if item.shape[0] == 1 else item.transpose(1, 2, 0)).save(path)
        written.append(path)
    return written
