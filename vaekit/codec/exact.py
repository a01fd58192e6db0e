"""Networks evaluated identically on every CPU: the coding distributions of a file must not depend on the machine.

A float32 network's outputs change in their last bits with the thread count and the instruction set (the
reductions inside a matrix product run in another order), and an entropy coder amplifies one changed bit into a
failed decode. Following Ballé, Johnston & Minnen 2019 ("Integer networks for data compression with latent-variable
models", arXiv:1905.07376, sec. 2), every linear map is computed in integer arithmetic: its input is rounded to
multiples of 2^-a and its weights to multiples of 2^-w, and the products and their sums are integers below 2^53,
which float64 holds exactly, so any order of summation gives the same result. The activations between them are the
fixed-operation functions of :mod:`vaekit.codec.portable_math`. Other float64 operations (additions, a distribution's
few-term sums) round once each; what they may still differ by, a unit in the 53rd bit, is absorbed by the grid
(2^-10) that :func:`vaekit.codec.coding_dists.snap` rounds every parameter to.

Use it as ``with exact_model(model) as m:``, and code with ``m``: a float64 copy with its weights on the grid.
"""
from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

from vaekit.codec import portable_math as pm
from vaekit.models.base import LatentVariableModel

WEIGHT_BITS = 16  # weights are multiples of 2^-16
INPUT_BITS = 16  # inputs of a linear map are multiples of 2^-16, fewer where its sums would pass 2^53
_EXACT = 2.0**52  # every partial sum stays below this many units


def _integers(t: torch.Tensor, bits: int) -> torch.Tensor:
    return torch.round(t.double() * 2.0**bits)


def _input_bits(x: torch.Tensor, row_sums: torch.Tensor, bias: torch.Tensor | None) -> int:
    """The finest input grid 2^-a (a <= INPUT_BITS) at which every sum stays below 2^52 units of 2^-(a + w):
    |x| 2^a R + R + |b| 2^(a + w) for R the largest row sum of integer weights. An exact function of exact
    values, so both ends choose the same."""
    rows = float(row_sums.max()) if row_sums.numel() else 0.0
    largest = float(x.abs().max()) if x.numel() else 0.0
    biggest_bias = float(bias.abs().max()) if bias is not None and bias.numel() else 0.0
    per_unit = largest * rows + biggest_bias * 2.0**WEIGHT_BITS  # times 2^a
    bits = INPUT_BITS
    while bits > -1000 and per_unit * 2.0**bits + rows >= _EXACT:
        bits -= 1
    return bits


def _exact_map(apply: Callable[..., torch.Tensor], x: torch.Tensor, weight: torch.Tensor,
               bias: torch.Tensor | None, row_sums_dims: tuple[int, ...], bias_dims: int = 1, **options: Any
               ) -> torch.Tensor:
    """``apply(x, weight, bias, **options)`` in integers: (x in 2^-a)(w in 2^-w) summed exactly, then scaled."""
    w = _integers(weight, WEIGHT_BITS)
    row_sums = w.abs().sum(row_sums_dims) if row_sums_dims else w.abs()
    bits = _input_bits(x.double(), row_sums, bias)
    total = apply(_integers(x, bits), w, None, **options)
    scale = 2.0 ** (bits + WEIGHT_BITS)
    if bias is not None:
        b = _integers(bias, bits + WEIGHT_BITS)
        total = total + b.reshape(-1, *([1] * (bias_dims - 1)))
    return total / scale


def _linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    return _exact_map(F.linear, x, weight, bias, (1,))


def _conv(convolve: Callable[..., torch.Tensor], sum_dims: tuple[int, ...]) -> Callable[..., torch.Tensor]:
    def conv(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None, *args: Any,
             **kwargs: Any) -> torch.Tensor:
        spatial = weight.dim() - 2

        def apply(xi: torch.Tensor, wi: torch.Tensor, _: None) -> torch.Tensor:
            return convolve(xi, wi, None, *args, **kwargs)
        return _exact_map(apply, x, weight, bias, sum_dims, bias_dims=spatial + 1)
    return conv


def _matmul(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    bq = _integers(b, WEIGHT_BITS)
    column_sums = bq.abs().sum(-2) if bq.dim() > 1 else bq.abs()
    bits = _input_bits(a.double(), column_sums, None)
    return torch.matmul(_integers(a, bits), bq) / 2.0 ** (bits + WEIGHT_BITS)


def _along(f: Callable[[torch.Tensor, int], torch.Tensor]) -> Callable[..., torch.Tensor]:
    """``f(x, dim)`` under the signatures of ``F.softmax`` and ``Tensor.softmax`` (dim, then dtype options)."""
    def apply(x: torch.Tensor, dim: int = -1, *args: Any, **kwargs: Any) -> torch.Tensor:
        return f(x, dim)
    return apply


def _activation(f: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
    def apply(x: torch.Tensor, *args: Any, inplace: bool = False, **kwargs: Any) -> torch.Tensor:
        return f(x, *args, **kwargs)
    return apply


_REPLACED: dict[Callable[..., Any], Callable[..., torch.Tensor]] = {
    F.linear: _linear,
    F.conv1d: _conv(F.conv1d, (1, 2)), F.conv2d: _conv(F.conv2d, (1, 2, 3)),
    F.conv_transpose1d: _conv(F.conv_transpose1d, (0, 2)), F.conv_transpose2d: _conv(F.conv_transpose2d, (0, 2, 3)),
    torch.matmul: _matmul, torch.Tensor.__matmul__: _matmul,
    torch.exp: pm.exp, torch.Tensor.exp: pm.exp, torch.log: pm.log, torch.Tensor.log: pm.log,
    torch.sigmoid: pm.sigmoid, torch.Tensor.sigmoid: pm.sigmoid, torch.tanh: pm.tanh, torch.Tensor.tanh: pm.tanh,
    F.softplus: pm.softplus, F.elu: _activation(pm.elu), torch.log1p: pm.log1p, torch.expm1: pm.expm1,
    torch.softmax: _along(pm.softmax), F.softmax: _along(pm.softmax), torch.Tensor.softmax: _along(pm.softmax),
    torch.log_softmax: _along(pm.log_softmax), F.log_softmax: _along(pm.log_softmax),
    torch.Tensor.log_softmax: _along(pm.log_softmax),
    torch.special.ndtr: pm.ndtr, torch.special.ndtri: pm.ndtri, torch.logsumexp: pm.logsumexp,
}


class ExactArithmetic(TorchFunctionMode):
    """Inside, linear maps run in integers and transcendental functions in fixed operations."""

    def __torch_function__(self, func: Callable[..., Any], types: Any, args: tuple = (),
                           kwargs: dict | None = None) -> Any:
        replacement = _REPLACED.get(func)
        kwargs = kwargs or {}
        if replacement is not None and all(not isinstance(a, torch.Tensor) or a.is_floating_point()
                                           for a in args[:1]):
            return replacement(*args, **kwargs)
        return func(*args, **kwargs)


Model = TypeVar("Model", bound=LatentVariableModel)


@contextmanager
def exact_model(model: Model) -> Iterator[Model]:
    """A float64 copy of ``model`` on the CPU (eval mode) evaluated with :class:`ExactArithmetic`, float64 the
    default dtype: whatever device the model is on, files are coded on the CPU, where the arithmetic is the same on
    every machine."""
    twin = copy.deepcopy(model).to("cpu", torch.float64).eval()
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        with torch.no_grad(), ExactArithmetic():
            yield twin
    finally:
        torch.set_default_dtype(default)
