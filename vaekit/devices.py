"""Devices and precisions by name: what ``train.device``, ``train.precision`` and ``--device`` accept.

``auto`` picks the first CUDA GPU when one is present, then Apple's MPS, else the CPU. A device that is not there
is a ValueError naming what is, so a command exits with one line. Mixed precision is ``torch.autocast``: bf16 on a
CPU with AMX or a recent GPU, fp16 on a GPU (with a gradient scaler, :func:`grad_scaler`).
"""
from __future__ import annotations

import ctypes
import functools
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any, Literal, TypeVar

import torch

DeviceName = str  # auto | cpu | cuda | cuda:N | mps
Precision = Literal["fp32", "bf16", "fp16"]
DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def _present() -> str:
    found = ["cpu"]
    if torch.cuda.is_available():
        found += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if torch.backends.mps.is_available():
        found.append("mps")
    return ", ".join(found)


def resolve_device(name: DeviceName) -> torch.device:
    """The device ``name`` stands for, or a ValueError saying which devices this machine has."""
    local = int(os.environ.get("LOCAL_RANK", "0"))  # under torchrun, each rank on this machine its own GPU
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", local % torch.cuda.device_count())
        return torch.device("mps" if torch.backends.mps.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise ValueError(f"device {name!r} is not a device name: give auto, cpu, cuda, cuda:N or mps") from None
    if device.type == "cpu":
        return device
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        index = local if device.index is None else device.index
        if index < count:
            return torch.device("cuda", index)
    elif device.type == "mps" and torch.backends.mps.is_available():
        return device
    elif device.type not in ("cuda", "mps"):
        raise ValueError(f"device {name!r} is not one vaekit runs on: give auto, cpu, cuda, cuda:N or mps")
    raise ValueError(f"device {name!r} is not present on this machine; it has {_present()} (or give auto)")


def autocast(device: torch.device, precision: Precision) -> AbstractContextManager[object]:
    """``torch.autocast`` for ``precision`` on ``device`` (nothing for fp32)."""
    if precision == "fp32":
        return nullcontext()
    if precision == "fp16" and device.type == "cpu":
        raise ValueError("precision fp16 is for GPUs; on a CPU use bf16 (fast where the CPU has AMX) or fp32")
    return torch.autocast(device.type, dtype=DTYPES[precision])


@functools.cache
def cpu_bf16_units(cpuinfo: str = "/proc/cpuinfo") -> tuple[str, ...] | None:
    """The CPU's bf16 instructions as ``cpuinfo`` lists them (amx_bf16, avx512_bf16; bf16 on Arm); None where there
    is no such file to tell. Without any, CPU autocast's bf16 is emulated in float32 arithmetic."""
    try:
        with open(cpuinfo) as info:
            flags = {word for line in info if line.startswith(("flags", "Features")) for word in line.split()}
    except OSError:
        return None
    return tuple(unit for unit in ("amx_bf16", "avx512_bf16", "bf16") if unit in flags)


def warn_if_emulated(device: torch.device, precision: Precision) -> None:
    """A warning when bf16 is asked of a CPU that has no bf16 units: it runs, emulated, and may be slower than fp32
    (a recipe's bf16 timings were measured on CPUs with AMX or AVX-512 BF16)."""
    if precision == "bf16" and device.type == "cpu" and cpu_bf16_units() == ():
        logging.getLogger(__name__).warning(
            "train.precision bf16 on a CPU without bf16 units (no AMX, AVX-512 BF16 or Arm BF16): torch emulates "
            "it, which may be slower than fp32; set train.precision=fp32 to compare")


def grad_scaler(device: torch.device, precision: Precision) -> torch.amp.GradScaler | None:
    """A gradient scaler for fp16 (whose small gradients underflow without one); None otherwise."""
    return torch.amp.GradScaler(device.type) if precision == "fp16" else None


def fork_rng_devices(device: torch.device) -> list[torch.device]:
    """The devices whose random state ``torch.random.fork_rng`` must save to leave draws on ``device`` unchanged."""
    return [device] if device.type == "cuda" else []


@contextmanager
def seeded(seed: int, device: torch.device | str = "cpu") -> Iterator[None]:
    """Draws inside are seeded with ``seed``; the caller's random state (CPU, and ``device``'s) is restored after."""
    with torch.random.fork_rng(devices=fork_rng_devices(torch.device(device))):
        torch.manual_seed(seed)
        yield


F = TypeVar("F", bound=Callable[..., Any])


def keeps_mode(function: F) -> F:
    """Decorate a function of a model (its first argument) that switches it to eval mode: the caller's train or
    eval mode is restored when it returns or raises."""
    @functools.wraps(function)
    def wrapper(model: torch.nn.Module, *args: Any, **kwargs: Any) -> Any:
        was_training = model.training
        try:
            return function(model, *args, **kwargs)
        finally:
            model.train(was_training)
    return wrapper  # type: ignore[return-value]


def compiled(fn: Callable[..., Any], **options: Any) -> Callable[..., Any]:
    """``torch.compile(fn, **options)``, made on the first call (importing the compiler takes seconds), falling back
    to ``fn`` (with a warning) if compilation fails on this machine, e.g. for want of a C++ compiler."""
    current: list[Callable[..., Any]] = []

    def call(*args: Any) -> Any:
        try:
            if not current:
                current.append(torch.compile(fn, **options))
            return current[0](*args)
        except Exception as error:  # noqa: BLE001 - any compiler failure; real errors recur in eager mode
            if current and current[0] is fn:
                raise
            logging.getLogger(__name__).warning("torch.compile failed (%s); going on without it",
                                                str(error).splitlines()[0])
            current[:] = [fn]
            return fn(*args)

    return call


EXP_FLOOR = 80.0  # nats: exp(-80) is 1.8e-35, below float32's resolution of 1, so flooring changes no sum of them


@contextmanager
def denormals_flushed() -> Iterator[None]:
    """On a CPU, floats under float32's smallest normal (1.2e-38) read and compute as zero while the block runs.

    Trained nets make such floats (gradients weighted by a confident classifier's e^-80 probabilities, a softplus
    far below zero), and a matrix product that meets them takes a slow path: 100 times slower when every input is
    one, and M2 on M1's codes took 38 ms a step after 60 epochs against 21 ms fresh. The setting is per thread and
    torch.set_flush_denormal sets only the caller's, so each of torch's OpenMP threads sets its own."""
    if not _on_every_thread(True):
        yield
        return
    try:
        yield
    finally:
        _on_every_thread(False)


def _on_every_thread(flush: bool) -> bool:
    if not torch.set_flush_denormal(flush):  # not an x86 CPU with SSE3
        return False
    gomp = Path(torch.__file__).parent / "lib" / "libgomp.so.1"  # the OpenMP runtime of torch's Linux wheels
    if "parallel backend: OpenMP" in torch.__config__.parallel_info() and gomp.exists():
        each = ctypes.CFUNCTYPE(None, ctypes.c_void_p)(lambda _: torch.set_flush_denormal(flush))
        ctypes.CDLL(str(gomp)).GOMP_parallel(each, None, ctypes.c_uint(torch.get_num_threads()), ctypes.c_uint(0))
    return True


def floored_exp(x: torch.Tensor) -> torch.Tensor:
    """exp(x) with x floored at -80. On CPUs torch's exp takes a slow path for results under float32's smallest
    normal (inputs below -87): 9 times slower on 10,000 values, 60 times on 318,000, measured on this project's Xeon."""
    return x.clamp(min=-EXP_FLOOR).exp()


def floored_log_softmax(logits: torch.Tensor) -> torch.Tensor:
    """log_softmax over the last axis with every logit raised to at least the largest minus 80 (the classes below
    that have probabilities under 1.8e-35 either way), so its exp keeps off the slow path of :func:`floored_exp`.
    Always in float32: CPU autocast leaves log_softmax in bf16 (CUDA's upcasts it), and in M2's unlabelled bound,
    which weighs bounds of about -100 nats by these probabilities, bf16's rounding pushed the classifier's logits
    up without end (to 10^7) until it collapsed to chance (docs/semi_supervised.md, "Mixed precision")."""
    logits = logits.float()
    top = logits.detach().max(-1, keepdim=True).values
    return torch.log_softmax(torch.maximum(logits, top - EXP_FLOOR), dim=-1)
