"""docs/extending.md's promises: your own networks in a model of the family, and a model of your own registered
from outside vaekit, through `vaekit train --config`, save and load, with one-line refusals."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

import vaekit
from vaekit.config import ConfigError, make_config
from vaekit.models import ConditionalVAE

PLUGIN = '''
from typing import Literal

from pydantic import Field
from torch.distributions import Independent, Normal

from vaekit.model_fields import LatentCode, Networks, Observed
from vaekit.models import VAE, register


class ScaledPriorConfig(Networks, Observed, LatentCode):
    name: Literal["scaled-prior-vae"] = "scaled-prior-vae"
    prior_scale: float = Field(2.0, gt=0)


@register("scaled-prior-vae", ScaledPriorConfig)
class ScaledPriorVAE(VAE):
    def prior(self):
        return Independent(Normal(self.prior_loc, self.config.prior_scale * self.prior_scale), 1)
'''


VAEKIT = shutil.which("vaekit") or str(Path(sys.executable).parent / "vaekit")


def vaekit_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """The console script, as a user runs it: the current folder is not on its sys.path until vaekit puts it."""
    return subprocess.run([VAEKIT, *args], capture_output=True, text=True, cwd=cwd, timeout=600)


def test_a_plugin_model_trains_from_a_recipe_and_loads_in_another_process(tmp_path: Path) -> None:
    (tmp_path / "lab_models.py").write_text(PLUGIN)
    (tmp_path / "scaled.yaml").write_text(
        "name: scaled\nplugins: [lab_models]\ndata: {name: binarized-mnist, limit: 300, validation: 50, test: 50}\n"
        "model: {name: scaled-prior-vae, prior_scale: 3.0, latent_dim: 2, hidden: [32]}\n"
        "train: {epochs: 1, batch_size: 50, progress: false, expected_steps: 0}\nevaluate: {k: 10, limit: 20}\n")
    trained = vaekit_cli("train", "--config", "scaled.yaml", cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr[-2000:]
    saved = json.loads((tmp_path / "runs" / "scaled" / "model" / "config.json").read_text())
    assert saved["module"] == "lab_models" and saved["model"]["prior_scale"] == 3.0
    evaluated = vaekit_cli("evaluate", "runs/scaled/model", "--k", "5", "--limit", "10", cwd=tmp_path)
    assert evaluated.returncode == 0, evaluated.stderr[-2000:]
    assert "log_likelihood" in evaluated.stdout or "elbo" in evaluated.stdout
    (tmp_path / "lab_models.py").unlink()  # on a machine without the module: one line naming it
    missing = vaekit_cli("evaluate", "runs/scaled/model", "--k", "5", "--limit", "10", cwd=tmp_path)
    assert missing.returncode != 0 and "Traceback" not in missing.stderr
    assert "needs the module 'lab_models', which cannot be imported" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1


def test_a_recipe_without_the_plugin_or_with_a_broken_one_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown model 'scaled-prior-vae'"):
        make_config({"model": {"name": "scaled-prior-vae"}})
    with pytest.raises(ConfigError, match="needs the module 'no_such_lab', which cannot be imported"):
        make_config({"plugins": ["no_such_lab"]})
    with pytest.raises(ConfigError, match="is not a Python module name"):
        make_config({"plugins": ["../evil"]})


def test_own_networks_of_the_wrong_shape_are_refused_when_the_model_is_built() -> None:
    wrong = nn.Sequential(nn.Flatten(), nn.Linear(12, 5))
    with pytest.raises(TypeError, match=r"the encoder must map a batch of shape \(2, 1, 3, 4\) to \(2, 4\) values.*"
                                        r"returned \(2, 5\)"):
        vaekit.VAE(data_shape=(1, 3, 4), latent_dim=2, encoder=wrong)
    with pytest.raises(TypeError, match=r"the decoder fails on a batch of shape \(2, 2\): RuntimeError"):
        vaekit.VAE(data_shape=(1, 3, 4), latent_dim=2, decoder=nn.Linear(7, 12))
    with pytest.raises(TypeError, match="must be a torch.nn.Module"):
        vaekit.VAE(data_shape=(1, 3, 4), latent_dim=2, decoder=lambda z: z)  # type: ignore[arg-type]


class LabelledEncoder(nn.Module):
    """q(z|x, y)'s network: the conditional VAE calls it with the one-hot label too."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Linear(12 + 3, 4)

    def forward(self, x: torch.Tensor, onehot: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([x.flatten(1), onehot], 1))


def test_a_conditional_model_with_its_own_encoder_trains_saves_and_needs_it_back(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = ConditionalVAE(data_shape=(1, 3, 4), latent_dim=2, num_classes=3, hidden=[8], encoder=LabelledEncoder())
    x, y = (torch.rand(6, 1, 3, 4) > 0.5).float(), torch.tensor([0, 1, 2, 0, 1, 2])
    loss = model.loss(vaekit.models.base.Batch(x, y)).value
    loss.backward()
    assert model.encoder.net.weight.grad is not None and torch.isfinite(loss)
    vaekit.save(model, tmp_path / "m")
    with pytest.raises(vaekit.ModelFileError, match=r"saved with your own encoder: load it with "
                                                    r"vaekit.load\(path, encoder=...\)"):
        vaekit.load(tmp_path / "m")
    with pytest.raises(vaekit.ModelFileError, match="not decoder"):
        vaekit.load(tmp_path / "m", encoder=LabelledEncoder(), decoder=nn.Linear(2, 2))
    again = vaekit.load(tmp_path / "m", encoder=LabelledEncoder())
    torch.testing.assert_close(again.encoder.net.weight, model.encoder.net.weight)
    torch.testing.assert_close(again.reconstruct(x, y), model.eval().reconstruct(x, y))
