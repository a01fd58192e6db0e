"""Tests read real data from ../shared/data (VAEKIT_DATA) and never touch the network."""
from __future__ import annotations

import os
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
if "VAEKIT_DATA" not in os.environ and SHARED.is_dir():
    os.environ["VAEKIT_DATA"] = str(SHARED)
DATA_DIR = Path(os.environ.get("VAEKIT_DATA") or SHARED)


@pytest.fixture(autouse=True, scope="session")
def _offline(tmp_path_factory: pytest.TempPathFactory):
    """Keep the download cache out of the home directory, and make any download attempt fail loudly (this
    machine's own servers, such as the browser test's driver, stay reachable)."""
    real = urllib.request.urlopen

    def local_only(url: object, *args: object, **kwargs: object) -> object:
        target = url.full_url if isinstance(url, urllib.request.Request) else str(url)
        if urllib.parse.urlparse(target).hostname in ("localhost", "127.0.0.1", "::1"):
            return real(url, *args, **kwargs)  # type: ignore[arg-type]
        raise OSError("tests never use the network")

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
        patch.setattr("urllib.request.urlopen", local_only)
        yield


@pytest.fixture(scope="session")
def mnist_binary():
    """Binarized MNIST with a small training slice, for fast real-data runs."""
    from vaekit import DataConfig, load_data

    return load_data(DataConfig(name="binarized-mnist", limit=2000, validation=500))


@pytest.fixture
def tiny_vae():
    from vaekit import VAE

    torch.manual_seed(0)
    return VAE(data_shape=(1, 28, 28), latent_dim=4, hidden=[64])
