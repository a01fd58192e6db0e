from __future__ import annotations

import pytest
import torch
from PIL import Image

from vaekit import VAE
from vaekit.generate import interpolate, manifold_2d, reconstruction_pairs, save_grid, slerp, traversals


def test_interpolation_ends_are_the_reconstructions(tiny_vae) -> None:
    x = torch.rand(2, 1, 28, 28).round()
    recon = tiny_vae.reconstruct(x)
    for method in ("linear", "slerp"):
        path = interpolate(tiny_vae, x[0], x[1], steps=7, method=method)
        assert path.shape == (7, 1, 28, 28)
        torch.testing.assert_close(path[0], recon[0], atol=1e-4, rtol=0)
        torch.testing.assert_close(path[-1], recon[1], atol=1e-4, rtol=0)
    with pytest.raises(ValueError, match="'linear' or 'slerp'"):
        interpolate(tiny_vae, x[0], x[1], method="cubic")


def test_slerp_keeps_the_norm_between_equal_norm_ends() -> None:
    a, b = torch.tensor([[3.0, 0.0]]), torch.tensor([[0.0, 3.0]])
    mid = slerp(a.expand(5, 2), b.expand(5, 2), torch.linspace(0, 1, 5))
    torch.testing.assert_close(mid.norm(dim=-1), torch.full((5,), 3.0))


def test_traversal_rows_vary_one_dimension(tiny_vae) -> None:
    images = traversals(tiny_vae, dims=[0, 2], steps=5)
    assert images.shape == (10, 1, 28, 28)
    assert not torch.allclose(images[0], images[4])
    with pytest.raises(ValueError, match="latent dimensions"):
        traversals(tiny_vae, dims=[9])


def test_manifold_needs_two_latent_dimensions(tiny_vae) -> None:
    with pytest.raises(ValueError, match="2-D latent"):
        manifold_2d(tiny_vae)
    two = VAE(data_shape=(1, 28, 28), latent_dim=2, hidden=[8])
    assert manifold_2d(two, n=6).shape == (36, 1, 28, 28)


def test_grid_png_has_the_tiled_size(tmp_path, tiny_vae) -> None:
    images = reconstruction_pairs(tiny_vae, torch.rand(4, 1, 28, 28).round(), nrow=4)
    assert images.shape == (8, 1, 28, 28)
    path = save_grid(images, tmp_path / "g.png", nrow=4, scale=1, pad=2)
    with Image.open(path) as picture:
        assert picture.size == (4 * 30 + 2, 2 * 30 + 2)
