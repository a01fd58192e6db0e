"""Generation from any model on the contract: samples, reconstructions, interpolations, traversals,
and the 2-D learned manifold of Kingma & Welling 2013 (fig. 4). Each returns images (N, C, H, W)
in [0, 1]; ``save_grid`` writes them as one PNG. A conditional model takes the labels ``y`` of its inputs
(or of the class to draw); ``samples_per_class`` draws a row per class.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from PIL import Image
from torch.distributions import Normal

from vaekit.contract import Conditional, given
from vaekit.data.user_files import is_image_shape
from vaekit.models import LatentVariableModel


def _require_images(model: LatentVariableModel) -> None:
    if not is_image_shape(model.data_shape):
        raise ValueError(f"image figures need images (1 or 3 channels, H, W); this model's data has shape "
                         f"{model.data_shape}")


def to_picture(image: torch.Tensor) -> Image.Image:
    """An image (C, H, W) in [0, 1] as an 8-bit grey or RGB picture."""
    array = (image.detach().clamp(0, 1).permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    return Image.fromarray(array[..., 0] if array.shape[2] == 1 else array)


def save_grid(images: torch.Tensor, path: str | Path, nrow: int = 8, scale: int = 2, pad: int = 2) -> Path:
    """Tile images (N, C, H, W) in [0, 1] into a grid with ``nrow`` per row, upscaled ``scale`` times."""
    if images.dim() != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"expected images (N, 1 or 3, H, W), got shape {tuple(images.shape)}")
    images = images.detach().cpu()
    n, c, h, w = images.shape
    rows = math.ceil(n / nrow)
    grid = torch.ones(c, rows * (h + pad) + pad, nrow * (w + pad) + pad)
    for i, img in enumerate(images.clamp(0, 1)):
        r, col = divmod(i, nrow)
        grid[:, pad + r * (h + pad): pad + r * (h + pad) + h, pad + col * (w + pad): pad + col * (w + pad) + w] = img
    picture = to_picture(grid)
    picture = picture.resize((picture.width * scale, picture.height * scale), Image.Resampling.NEAREST)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    picture.save(path)
    return path


@torch.no_grad()
def class_names(model: LatentVariableModel) -> list[str]:
    """The name of each of a model's classes: those of its training data (folders' names), else the indices."""
    count = getattr(model, "num_classes", 0)  # a model without labels: none
    recorded = None if model.trained_on is None else model.trained_on.classes
    return list(recorded) if recorded is not None and len(recorded) == count else [str(c) for c in range(count)]


def class_index(model: LatentVariableModel, given: str) -> int:
    """A class given by name (or by index) as its index, refused with the names if it is neither."""
    names = class_names(model)
    if given in names:
        return names.index(given)
    if given.isdigit() and int(given) < len(names):
        return int(given)
    shown = ", ".join(names[:20]) + (", ..." if len(names) > 20 else "")
    raise ValueError(f"class {given!r} is not one of this model's {len(names)} classes ({shown})")


def samples_per_class(model: LatentVariableModel, per_class: int = 8, seed: int = 0) -> torch.Tensor:
    """A conditional model's samples, one row of ``per_class`` for each class in turn."""
    if not isinstance(model, Conditional):
        raise ValueError(f"samples per class need a model conditioned on labels; {model.registered_name} is not")
    classes = model.num_classes
    return model.sample(classes * per_class, seed=seed, y=torch.arange(classes).repeat_interleave(per_class))


@torch.no_grad()
def class_analogies(model: LatentVariableModel, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Kingma et al. 2014 fig. 1: a row per input, the input then the decoder's mean for its style z ~ q(z|x, y)
    (the posterior mean) with each class in turn; (N * (1 + C), C, H, W)."""
    if not isinstance(model, Conditional):
        raise ValueError(f"class analogies need a model conditioned on labels; {model.registered_name} is not")
    classes = model.num_classes
    style = given(model, y).encode(model.check_input(x)).mean  # (N, latent)
    every = torch.arange(classes).repeat(len(x))
    drawn = given(model, every).decode(style.repeat_interleave(classes, 0)).mean.view(len(x), classes, *x.shape[1:])
    return torch.cat([x[:, None], drawn], dim=1).flatten(0, 1)


@torch.no_grad()
def reconstruction_pairs(model: LatentVariableModel, x: torch.Tensor, nrow: int = 8,
                         y: torch.Tensor | None = None) -> torch.Tensor:
    """Rows of ``nrow`` originals, each followed by a row of their reconstructions."""
    _require_images(model)
    recon = model.reconstruct(x, y).cpu()
    x = x.cpu()
    rows = []
    for start in range(0, len(x), nrow):
        rows += [x[start:start + nrow], recon[start:start + nrow]]
    return torch.cat(rows)


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation (Shoemake 1985; White 2016, arXiv:1609.04468 for latent spaces)."""
    cos = (a * b).sum(-1, keepdim=True) / (a.norm(dim=-1, keepdim=True) * b.norm(dim=-1, keepdim=True)).clamp(min=1e-12)
    omega = torch.arccos(cos.clamp(-1 + 1e-7, 1 - 1e-7))  # (N, 1)
    t = t[:, None]
    return (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / torch.sin(omega)


@torch.no_grad()
def interpolate(model: LatentVariableModel, x1: torch.Tensor, x2: torch.Tensor, steps: int = 10,
                method: Literal["linear", "slerp"] = "linear", y: torch.Tensor | None = None) -> torch.Tensor:
    """Decode ``steps`` points between the posterior means of two inputs (the ends included). A conditional
    model takes the two inputs' labels ``y`` (2,); the label moves from one to the other with z, as class
    probabilities."""
    if steps < 2:
        raise ValueError(f"steps must be at least 2, got {steps}")
    if method not in ("linear", "slerp"):
        raise ValueError(f"method must be 'linear' or 'slerp', got {method!r}")
    ends: list[torch.Tensor | None] = [None, None] if y is None else [y[:1], y[1:2]]
    z1 = given(model, ends[0]).encode(model.check_input(x1)).mean[:1]
    z2 = given(model, ends[1]).encode(model.check_input(x2)).mean[:1]
    t = torch.linspace(0, 1, steps)
    z = z1 + t[:, None] * (z2 - z1) if method == "linear" else slerp(z1.expand(steps, -1), z2.expand(steps, -1), t)
    if y is None:
        return model.decode(z).mean
    onehot = torch.nn.functional.one_hot(torch.as_tensor(y[:2]).long(), model.num_classes).float()
    return given(model, onehot[0] + t[:, None] * (onehot[1] - onehot[0])).decode(z).mean


@torch.no_grad()
def traversals(model: LatentVariableModel, x: torch.Tensor | None = None, dims: list[int] | None = None,
               steps: int = 9, span: float = 3.0, y: torch.Tensor | None = None) -> torch.Tensor:
    """One row per latent dimension: that dimension swept over [-span, span], the rest held at
    the posterior mean of ``x`` (or at the prior's mean); a conditional model takes x's label ``y`` (1,)."""
    latent = model.latent_size
    dims = list(range(min(latent, 10))) if dims is None else dims
    if any(not 0 <= d < latent for d in dims):
        raise ValueError(f"latent dimensions must lie in 0..{latent - 1}, got {dims}")
    dists = given(model, y)
    base = dists.prior().mean if x is None else dists.encode(model.check_input(x)).mean[0]
    values = torch.linspace(-span, span, steps)
    z = base.repeat(len(dims) * steps, 1)
    for row, d in enumerate(dims):
        z[row * steps:(row + 1) * steps, d] = values
    return given(model, None if y is None else y[:1].expand(len(z))).decode(z).mean


@torch.no_grad()
def manifold_2d(model: LatentVariableModel, n: int = 20) -> torch.Tensor:
    """Kingma & Welling fig. 4: a 2-D latent space mapped through the inverse Gaussian CDF onto an n x n grid."""
    if model.latent_size != 2:
        raise ValueError(f"the learned-manifold figure needs a 2-D latent space, this model has {model.latent_size}")
    grid = Normal(0.0, 1.0).icdf(torch.linspace(0.05, 0.95, n))
    z = torch.stack(torch.meshgrid(grid, grid.flip(0), indexing="xy"), -1).reshape(-1, 2)
    return model.decode(z).mean
