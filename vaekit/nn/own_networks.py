"""A user's own networks in a model: checked once on a probe batch, so that a wrong shape is one line at build
time instead of a failure deep in training, and called on any leading batch dimensions."""
from __future__ import annotations

import math

import torch
from torch import nn


def checked_network(role: str, net: nn.Module, in_shape: tuple[int, ...], outputs: int, labels: int = 0) -> nn.Module:
    """``net`` itself, after checking that it maps a batch of 2 inputs of ``in_shape`` (and a one-hot label of
    ``labels`` classes, when not 0) to ``outputs`` values each; a TypeError saying what it returned otherwise."""
    if not isinstance(net, nn.Module):
        raise TypeError(f"the {role} must be a torch.nn.Module, got {type(net).__name__}")
    parameter = next(net.parameters(), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    probe = [torch.zeros(2, *in_shape, device=device)] + ([torch.zeros(2, labels, device=device)] if labels else [])
    was_training = net.training
    try:
        with torch.no_grad(), torch.random.fork_rng(devices=[]):
            out = net.eval()(*probe)
    except Exception as error:  # noqa: BLE001 (the user's network: any failure is reported in one line)
        message = str(error).splitlines()[0][:200] if str(error) else ""
        raise TypeError(f"the {role} fails on a batch of shape {tuple(probe[0].shape)}"
                        + (f" with labels {tuple(probe[1].shape)}" if labels else "")
                        + f": {type(error).__name__}: {message}") from None
    finally:
        net.train(was_training)
    if not isinstance(out, torch.Tensor) or out.shape[0] != 2 or math.prod(out.shape[1:]) != outputs:
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise TypeError(f"the {role} must map a batch of shape {tuple(probe[0].shape)} to (2, {outputs}) values "
                        f"(any shape with {outputs} per example); it returned {got}")
    return net


class AnyLeadingDims(nn.Module):
    """Calls ``net`` on (N, D) for inputs (*lead, D) (k importance samples of B codes) and restores the lead."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        out = self.net(z.reshape(-1, z.shape[-1]))  # (N, ...)
        return out.reshape(*z.shape[:-1], -1)  # (*lead, outputs)
