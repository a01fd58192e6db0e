"""Elementwise functions that give bit-identical float64 results on every CPU, thread count and instruction set.

torch's ``exp``, ``log``, ``sigmoid``, ``ndtr`` ... call vectorized kernels (Sleef on AVX2 and AVX-512) or the C
library (which has its own FMA variants), and these differ in the last bit. An entropy coder rounds probabilities to
integers, so one differing bit can change a table and end the decode. Here each function is a fixed sequence of
IEEE-754 additions, multiplications, divisions and exact operations (rounding, ``frexp``, comparisons), which every
processor computes identically, elementwise, whatever the vector width or the threads (Ballé, Johnston & Minnen 2019,
"Integer networks for data compression with latent-variable models", arXiv:1905.07376, make the same point for the
networks: :mod:`vaekit.codec.exact` does that part).

Accuracy: ``exp`` and ``log`` to a few units in the last place; ``ndtr`` to a relative 1.2e-7 (the erfc
approximation of Press et al., Numerical Recipes, 2nd ed., sec. 6.2), which moves a coding probability by far less
than its 24-bit rounding.
"""
from __future__ import annotations

import math

import torch

_LN2_HI = 6.93147180369123816490e-01  # ln 2 split so that k * _LN2_HI is exact for |k| < 2^11 (fdlibm)
_LN2_LO = 1.90821492927058770002e-10
_EXP_P = [1.66666666666666019037e-01, -2.77777777770155933842e-03, 6.61375632143793436117e-05,
          -1.65339022054652515390e-06, 4.13813679705723846039e-08]  # fdlibm's e_exp.c: Remez, |r| <= ln2 / 2
_LOG_TERMS = [2.0 / (2 * n + 1) for n in range(12)]  # |s| <= 0.172: 2 atanh(s), error below 1e-19
_ERFC = [-1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806, 0.27886807, -1.13520398, 1.48851587,
         -0.82215223, 0.17087277]  # Numerical Recipes' erfcc: t exp(-z^2 + P(t)), t = 1 / (1 + z / 2)


def _horner(coefficients: list[float], x: torch.Tensor) -> torch.Tensor:
    """sum_n c_n x^n, one multiplication and one addition at a time (never fused)."""
    result = torch.full_like(x, coefficients[-1])
    for c in reversed(coefficients[:-1]):
        result.mul_(x).add_(c)
    return result


def _power_of_two(k: torch.Tensor) -> torch.Tensor:
    """2^k for integer-valued k in [-1022, 1023], built from the exponent bits (exact)."""
    return ((k.to(torch.int64) + 1023) << 52).view(torch.float64)


def exp(x: torch.Tensor) -> torch.Tensor:
    """e^x, for x clamped to [-700, 700] (beyond, e^x is below 1e-304 or above 1e304 for every use here)."""
    x = x.double().clamp(-700.0, 700.0)
    k = torch.round(x / math.log(2.0))
    r = (x - k * _LN2_HI) - k * _LN2_LO
    t = r * r
    c = r - t * _horner(_EXP_P, t)
    return (1.0 - ((r * c) / (c - 2.0) - r)) * _power_of_two(k)


def log(x: torch.Tensor) -> torch.Tensor:
    """The natural logarithm of positive x (-inf at 0)."""
    x = x.double()
    mantissa, exponent = torch.frexp(x.clamp(min=1e-300))  # x = m 2^e, m in [0.5, 1)
    small = mantissa < math.sqrt(0.5)
    mantissa = torch.where(small, mantissa * 2.0, mantissa)
    exponent = (exponent - small.to(exponent.dtype)).double()
    s = (mantissa - 1.0) / (mantissa + 1.0)
    series = _horner(_LOG_TERMS, s * s) * s
    result = (exponent * _LN2_HI + series) + exponent * _LN2_LO
    return torch.where(x > 0, result, -math.inf)


def log1p(x: torch.Tensor) -> torch.Tensor:
    """log(1 + x), accurate for small x (Goldberg's correction: log(u) x / (u - 1), u = 1 + x)."""
    x = x.double()
    u = x + 1.0
    nonzero = u != 1.0
    return torch.where(nonzero, log(u) * x / torch.where(nonzero, u - 1.0, 1.0), x)


def expm1(x: torch.Tensor) -> torch.Tensor:
    """e^x - 1, accurate for small x (Kahan's correction: (u - 1) x / log(u), u = e^x)."""
    x = x.double()
    u = exp(x)
    exact = (u == 1.0) | (x.abs() > 0.5)
    return torch.where(exact, torch.where(u == 1.0, x, u - 1.0), (u - 1.0) * x / torch.where(exact, 1.0, log(u)))


def sigmoid(x: torch.Tensor) -> torch.Tensor:
    return 1.0 / (1.0 + exp(-x.double()))


def softplus(x: torch.Tensor, beta: float = 1.0, threshold: float = 20.0) -> torch.Tensor:
    """log(1 + e^(beta x)) / beta, linear above ``threshold`` as torch's."""
    bx = x.double() * beta
    soft = (bx.clamp(min=0.0) + log1p(exp(-bx.abs()))) / beta
    return torch.where(bx > threshold, x.double(), soft)


def tanh(x: torch.Tensor) -> torch.Tensor:
    x = x.double()
    t = expm1(-2.0 * x.abs())
    return torch.sign(x) * (-t / (2.0 + t))


def elu(x: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
    x = x.double()
    return torch.where(x > 0, x, alpha * expm1(x.clamp(max=0.0)))


def ordered_sum(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """The sum along ``dim`` in a fixed pairwise order (halves added elementwise), unlike ``torch.sum``, whose
    order follows the vector width."""
    x = x.double().movedim(dim, -1)
    while x.shape[-1] > 1:
        if x.shape[-1] % 2:
            x = torch.cat([x, torch.zeros_like(x[..., :1])], -1)
        half = x.shape[-1] // 2
        x = x[..., :half] + x[..., half:]
    return x[..., 0] if x.shape[-1] else x.sum(-1)


def log_softmax(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """log softmax along ``dim``, its sum in :func:`ordered_sum`'s fixed order."""
    x = x.double()
    shifted = x - x.amax(dim, keepdim=True)
    return shifted - log(ordered_sum(exp(shifted), dim)).unsqueeze(dim)


def softmax(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    return exp(log_softmax(x, dim))


def logsumexp(x: torch.Tensor, dim: int, keepdim: bool = False) -> torch.Tensor:
    x = x.double()
    top = x.amax(dim, keepdim=True)
    result = log(ordered_sum(exp(x - top), dim).unsqueeze(dim)) + top
    return result if keepdim else result.squeeze(dim)


def ndtr(x: torch.Tensor) -> torch.Tensor:
    """The standard normal CDF: erfc(-x / sqrt 2) / 2, each tail computed where it is small."""
    z = x.double().abs() / math.sqrt(2.0)
    t = 1.0 / (1.0 + 0.5 * z)
    tail = 0.5 * (t * exp(_horner(_ERFC, t) - z * z))  # P(X > |x|)
    return torch.where(x < 0, tail, 1.0 - tail)


def ndtri(p: torch.Tensor) -> torch.Tensor:
    """The inverse of :func:`ndtr` on [0, 1] (+-inf at the ends), by 64 bisections of [-38, 38]."""
    p = p.double()
    low, high = torch.full_like(p, -38.0), torch.full_like(p, 38.0)
    for _ in range(64):
        middle = 0.5 * (low + high)
        below = ndtr(middle) < p
        low, high = torch.where(below, middle, low), torch.where(below, high, middle)
    middle = 0.5 * (low + high)
    return torch.where(p <= 0, -math.inf, torch.where(p >= 1, math.inf, middle))
