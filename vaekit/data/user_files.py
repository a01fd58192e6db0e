"""The user's own data: a folder of images (class sub-folders become labels) or a .npy/.npz array."""
from __future__ import annotations

import logging
import math
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch
from numpy.lib import format as npy_format
from PIL import Image, UnidentifiedImageError

from vaekit.data.dataset import Kind, Split, folder_labels
from vaekit.limits import check_fits

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg"}


def only_zeros_and_ones(x: np.ndarray) -> bool:
    """Whether every value is 0 or 1 (integers by their range, without a temporary the size of the array)."""
    if x.dtype == np.bool_:
        return True
    if x.size == 0 or x.min() < 0 or x.max() > 1:
        return False
    return x.dtype.kind in "iu" or all(np.isin(part, (0, 1)).all() for part in np.array_split(x, 1 + x.size // 2**24))


def _kind_of(x: np.ndarray) -> Kind:
    if only_zeros_and_ones(x):
        return "binary"
    if x.dtype == np.uint8:
        return "8bit"
    return "continuous"


def is_image_shape(shape: tuple[int, ...]) -> bool:
    """Whether items of ``shape`` are images (C, H, W) of 1 or 3 channels: what pictures and image files hold."""
    return len(shape) == 3 and shape[0] in (1, 3)


def channels_first_shape(item: tuple[int, ...], kind: Kind) -> tuple[int, ...] | None:
    """An array's item shape (C, H, W) when its items are images laid out otherwise: (H, W, 1 or 3), channels last
    as PIL, imageio and Keras give them, or (H, W) pixels (binary or 8-bit values) with no channel axis. None when
    the items are (C, H, W) already, or not images."""
    if len(item) == 3 and item[-1] in (1, 3) and item[0] not in (1, 3):
        return item[-1], item[0], item[1]
    if len(item) == 2 and kind in ("binary", "8bit"):
        return 1, *item
    return None


def to_channels_first(x: torch.Tensor, item: tuple[int, ...]) -> torch.Tensor:
    """Items ``x`` (N, *layout) as (N, *item), ``item`` from :func:`channels_first_shape`."""
    return x.permute(0, 3, 1, 2).contiguous() if x.dim() == 4 and x.shape[1:] != item else x.reshape(-1, *item)


def images_shape(item: tuple[int, ...], kind: Kind, source: Path) -> tuple[int, ...] | None:
    """:func:`channels_first_shape`, and a line saying how the items are read."""
    shape = channels_first_shape(item, kind)
    if shape is not None:
        log.info("%s: items of shape %s read as %s images of shape %s (channels, height, width)", source.name,
                 item, "grey" if shape[0] == 1 else "RGB", shape)
    return shape


def _as_split(x: np.ndarray, y: object | None, source: Path) -> Split:
    if x.ndim < 2 or len(x) == 0:
        raise ValueError(f"{source}: expected an array of shape (N, ...) with N >= 1, got shape {x.shape}")
    if not (np.issubdtype(x.dtype, np.number) or x.dtype == np.bool_) or np.iscomplexobj(x):
        raise ValueError(f"{source}: expected an array of real numbers, got dtype {x.dtype}")
    if x.dtype.kind == "f" and not np.isfinite(x).all():
        raise ValueError(f"{source}: the array holds NaN or infinite values")
    kind = _kind_of(x)
    values = torch.from_numpy(np.ascontiguousarray(x)).float()
    if kind == "8bit":
        values.div_(255.0)  # in place: one float copy of the data, not two
    item = images_shape(tuple(values.shape[1:]), kind, source)
    values = values if item is None else to_channels_first(values, item)
    return Split(values, None if y is None else as_labels(y, len(x), source), kind)


def as_labels(y: object, count: int, source: Path) -> torch.Tensor:
    """Labels as int64, checked: ``count`` integers."""
    if not isinstance(y, np.ndarray) or y.shape != (count,) or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"{source}: labels must be {count} integers, shape ({count},); got "
                         f"{getattr(y, 'dtype', type(y).__name__)} {getattr(y, 'shape', '')}")
    return torch.from_numpy(y.astype(np.int64))


def _claimed_bytes(path: Path) -> int:
    """What loading ``path`` would allocate, from the .npy header or the .npz member sizes, checked against the
    file's size (a 100-byte .npy can claim 10^11 rows)."""
    with open(path, "rb") as f:
        if f.read(6) == b"\x93NUMPY":
            f.seek(0)
            version = npy_format.read_magic(f)
            read = npy_format.read_array_header_1_0 if version == (1, 0) else npy_format.read_array_header_2_0
            shape, _, dtype = read(f)
            claimed = math.prod(shape) * dtype.itemsize
            if path.stat().st_size < f.tell() + claimed:
                raise ValueError(f"its header claims an array of shape {tuple(shape)} ({claimed:,} bytes), more than "
                                 f"the file's {path.stat().st_size:,}")
            return claimed
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            return sum(info.file_size for info in archive.infolist())
    return path.stat().st_size


def read_npy(path: Path) -> np.ndarray | np.lib.npyio.NpzFile:
    """A .npy or .npz file, never unpickling; a clear error for anything else. Only a regular file is opened (a FIFO
    would block), and only after what it would take in memory is known to fit."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: {'a folder' if path.is_dir() else 'not a regular file'}, not a .npy/.npz array")
    try:
        check_fits(2.0 * _claimed_bytes(path), f"{path}")
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
        raise ValueError(f"{path}: not a readable .npy/.npz array without pickled objects "
                         f"({str(error).splitlines()[0][:200] if str(error) else type(error).__name__})") from None


def load_array(path: Path, labels: Path | None = None) -> Split:
    """A .npy array (N, ...) with optional labels (a .npy of N integers), or a .npz with 'x' (or 'X') and optional
    'y'. Never unpickles."""
    loaded = read_npy(path)
    if isinstance(loaded, np.ndarray):
        return _as_split(loaded, None if labels is None else read_npy(labels), path)
    with loaded:
        keys = set(loaded.files)
        key = "x" if "x" in keys else "X" if "X" in keys else None
        if key is None:
            raise ValueError(f"{path}: an .npz needs an array named 'x' (found {sorted(keys)})")
        return _as_split(loaded[key], loaded["y"] if "y" in keys else None, path)


def image_files(folder: Path) -> list[Path]:
    """The PNG and JPEG files under ``folder``, sub-folders included, in sorted order."""
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


MAX_PIXELS = 64_000_000  # an image file claiming more is refused before it is decoded (a 48 KB PNG can claim 400 MP)


@contextmanager
def _opened_image(path: Path | BinaryIO) -> Iterator[Image.Image]:
    """``Image.open``, with anything unreadable, here or in the caller's work on the image, as one clear error."""
    where = f"{path}: the" if isinstance(path, (str, Path)) else "The uploaded"
    try:
        with Image.open(path) as image:
            if image.width * image.height > MAX_PIXELS:  # known from the header, before any pixel is decoded
                raise ValueError(f"{where} image is {image.width}x{image.height} pixels "
                                 f"({image.width * image.height / 1e6:.0f} megapixels); vaekit reads images of at "
                                 f"most {MAX_PIXELS // 1_000_000} megapixels")
            yield image
    except Image.DecompressionBombError as error:  # Pillow's own refusal, past twice its limit
        raise ValueError(f"{where} image has more than {MAX_PIXELS // 1_000_000} megapixels ({error})") from None
    except (UnidentifiedImageError, OSError) as error:
        if not isinstance(path, (str, Path)):
            raise ValueError("the uploaded file is not a readable PNG or JPEG image") from None
        raise ValueError(f"{path}: not a readable PNG or JPEG image ({error})") from None


DEEP_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")  # PIL's modes of 16-bit (and 32-bit integer) grey images
GREY_MODES = ("1", "L", "LA", "F", *DEEP_MODES)


def bits_per_channel(image: Image.Image) -> int:
    """16 for a 16-bit grey image (PIL has no 16-bit colour mode: it reads those as 8 bits), else 8."""
    return 16 if image.mode in DEEP_MODES else 8


def _eight_bit(image: Image.Image) -> Image.Image:
    """A 16-bit grey image scaled to 8 bits (v / 257, so 65535 is 255), not clipped as ``convert("L")`` does;
    other images as they are."""
    if image.mode not in DEEP_MODES:
        return image
    values = np.asarray(image).astype(np.int64)
    if values.min(initial=0) < 0 or values.max(initial=0) > 65535:
        raise ValueError("the image holds values outside 0..65535, not a 16-bit image")
    return Image.fromarray(np.round(values / 257.0).astype(np.uint8))


TRANSPARENT_MODES = ("RGBA", "LA", "PA")  # PIL's modes with an alpha channel (a palette may name one colour too)


def _opaque(image: Image.Image) -> Image.Image:
    """An image with transparency composited onto white, as a viewer shows it; dropping the alpha channel kept the
    colour stored under invisible pixels (an icon's transparent background read as red, or black)."""
    if image.mode not in TRANSPARENT_MODES and "transparency" not in image.info:
        return image
    rgba = image.convert("RGBA")
    return Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)


def image_depth(path: Path) -> int:
    """Bits per channel of an image file, from its header (:func:`bits_per_channel`)."""
    with _opened_image(path) as image:
        return bits_per_channel(image)


def read_image(path: Path | BinaryIO, size: tuple[int, int] | None, resize: str, mode: str) -> np.ndarray:
    """One image (a file, or bytes in memory) as uint8 (C, H, W) in PIL ``mode``, resized or center-cropped to
    ``size`` unless it is None."""
    with _opened_image(path) as opened:
        image = _opaque(_eight_bit(opened)).convert(mode)
        if size is not None and image.size != (size[1], size[0]):
            height, width = size
            if resize == "center-crop":
                scale = max(width / image.width, height / image.height)
                image = image.resize((max(width, round(image.width * scale)),
                                      max(height, round(image.height * scale))), Image.Resampling.BILINEAR)
                left, top = (image.width - width) // 2, (image.height - height) // 2
                image = image.crop((left, top, left + width, top + height))
            else:
                image = image.resize((width, height), Image.Resampling.BILINEAR)
        array = np.asarray(image, dtype=np.uint8)
    return array[None] if array.ndim == 2 else array.transpose(2, 0, 1)  # (C, H, W)


def _probe(path: Path) -> tuple[str, tuple[int, int]]:
    """An image's PIL mode and (height, width), from its header alone."""
    with _opened_image(path) as image:
        return image.mode, (image.height, image.width)


def folder_images(folder: Path, image_size: tuple[int, int] | None = None, channels: int | None = None
                  ) -> tuple[list[Path], np.ndarray | None, list[str] | None, tuple[int, int], str]:
    """The images under ``folder`` (files, labels, class names: :func:`folder_labels`), the (height, width) they
    are read at (default the first image's) and the PIL mode (default: RGB if any image has colour)."""
    files = image_files(folder)
    if not files:
        raise ValueError(f"{folder}: no PNG or JPEG images found")
    labels, classes = folder_labels(folder, files)
    headers = [_probe(p) for p in files] if image_size is None or channels is None else [_probe(files[0])]
    if any(mode in TRANSPARENT_MODES for mode, _ in headers):
        log.info("%s: images with transparency are composited onto white", folder)
    if channels is None:  # colour if any image is: a grey first image made every photo grey
        grey = sum(mode in GREY_MODES for mode, _ in headers)
        channels = 1 if grey == len(headers) else 3
        if 0 < grey < len(headers):
            log.info("%s: %d grey and %d colour images, all read as RGB (set data.channels=1 for grey)", folder,
                     grey, len(headers) - grey)
    if image_size is None:
        image_size = headers[0][1]
        sizes = {size for _, size in headers}
        if len(sizes) > 1:
            log.warning("%s: images of %d sizes; all are resized to %dx%d, the first one's (set data.image_size "
                        "to choose)", folder, len(sizes), *image_size)
    y = None if labels is None else np.array(labels)
    return files, y, classes, image_size, "L" if channels == 1 else "RGB"


def decode_images(files: list[Path], y: np.ndarray | None, size: tuple[int, int], resize: str, mode: str,
                  folder: Path) -> Split:
    """The images ``files`` (:func:`folder_images`) decoded into memory."""
    split = _as_split(np.stack([read_image(p, size, resize, mode) for p in files]), y, folder)
    return Split(split.x, split.y, "8bit")  # pixels are always 8-bit here, even if only 0 and 255 occur


def warn_if_off_scale(name: str, x: torch.Tensor) -> None:
    """Warn when continuous data lie far from the unit scale: a VAE's networks start near 0 with unit-sized weights
    and barely get there (20 features of mean 1000 and sd 10: a test ELBO of -332,500 nats after 20 epochs; the same
    data standardized, -11.3, which is -57.3 in the original units)."""
    head = x[:10_000]
    flat = head.reshape(len(head), -1).double()
    if len(flat) < 2:
        return
    offset, spread = float(flat.mean(0).abs().max()), float(flat.std(0).max())
    if offset > 10 or spread > 10 or spread < 0.01:
        log.warning("%s: continuous data far from the unit scale (features' means up to %.3g in size, sds up to %.3g):"
                    " the networks learn it badly; standardize it first, (x - mean) / sd per feature", name, offset,
                    spread)
