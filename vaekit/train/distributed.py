"""Data-parallel training on PyTorch's own engine: one process per rank, launched by ``torchrun`` (or
``vaekit train --nproc N``), NCCL on CUDA and gloo on CPU, gradients averaged by ``DistributedDataParallel``.

Every rank plans the same seeded batches and reads only its rows of each (``rank::ranks``). DDP needs the forward
pass inside a module's ``forward``, and a model's step is a generator of phases (one for most models; the
autoencoder, then each adversary, for an adversarial one), so one wrapper, :class:`NextPhase`, runs the next phase
in its ``forward``: each phase's backward is reduced by DDP before that phase's optimizer steps.
``find_unused_parameters`` is on for a step of several phases, as each trains only some of the weights.
Each rank draws its own noise (seed + rank). Only rank 0 writes checkpoints, logs and figures; a checkpoint holds
every rank's RNG state, so a resumed run repeats an uninterrupted one with as many ranks.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from typing import Any

import torch
import torch.distributed as dist


def world() -> tuple[int, int]:
    """(rank, number of ranks); (0, 1) outside distributed training."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_main() -> bool:
    return world()[0] == 0


def init_from_environment(device: torch.device) -> bool:
    """Join the process group that ``torchrun`` describes in the environment (WORLD_SIZE > 1), NCCL for training on
    ``device`` a GPU, else gloo; True if joined."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or (dist.is_available() and dist.is_initialized()):
        return dist.is_available() and dist.is_initialized()
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return True


class NextPhase(torch.nn.Module):
    """A module whose ``forward`` runs the next phase of a step (``next(phases)``): what DDP wraps. None after the
    last phase."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, phases: Iterator[tuple[str, Any]]) -> tuple[str, Any] | None:
        return next(phases, None)


def phase_runner(model: torch.nn.Module, device: torch.device, phased: bool = False) -> torch.nn.Module:
    """:class:`NextPhase` of ``model``, under ``DistributedDataParallel`` when there are several ranks (which also
    starts every rank from rank 0's weights and buffers); ``phased``: a step of several phases, each training part of
    the weights (DDP then looks for the unused ones, a traversal of the graph each phase)."""
    runner = NextPhase(model)
    if world()[1] == 1:
        return runner
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(runner, device_ids=[device.index] if device.type == "cuda" else None,
                                   find_unused_parameters=phased)


def _on_backend(t: torch.Tensor) -> torch.Tensor:
    """``t`` where the process group's collectives run: the GPU under NCCL, else the CPU."""
    return t.cuda() if dist.get_backend() == "nccl" else t


def rng_state(device: torch.device) -> torch.Tensor:
    """The CPU generator's state, followed on CUDA by ``device``'s own (dropout and noise drawn on the GPU)."""
    state = torch.get_rng_state()
    return torch.cat([state, torch.cuda.get_rng_state(device)]) if device.type == "cuda" else state


def set_rng_state(state: torch.Tensor, device: torch.device) -> None:
    """Restore a :func:`rng_state` (a checkpoint written before the device's state was kept has the CPU's only)."""
    cpu = len(torch.get_rng_state())
    torch.set_rng_state(state[:cpu].clone())
    if device.type == "cuda" and len(state) > cpu:
        torch.cuda.set_rng_state(state[cpu:].clone(), device)


def gather_rng(device: torch.device) -> list[torch.Tensor]:
    """Every rank's :func:`rng_state`, in rank order (on every rank)."""
    state = rng_state(device)
    if world()[1] == 1:
        return [state]
    states = [_on_backend(torch.empty_like(state)) for _ in range(world()[1])]
    dist.all_gather(states, _on_backend(state))
    return [s.cpu() for s in states]


def max_over_ranks(values: list[int]) -> list[int]:
    """Each of ``values`` maximized over the ranks in one collective (a stop request or a fault seen by any rank)."""
    if world()[1] == 1:
        return values
    t = _on_backend(torch.tensor(values))
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return t.tolist()


def mean_over_ranks(values: dict[str, float]) -> dict[str, float]:
    """Each named value averaged over the ranks (logged means, the epoch means a model diagnoses itself from)."""
    if world()[1] == 1 or not values:
        return values
    keys = sorted(values)
    t = _on_backend(torch.tensor([values[k] for k in keys], dtype=torch.float64))
    dist.all_reduce(t)
    return dict(zip(keys, (t / world()[1]).tolist()))


def barrier() -> None:
    if world()[1] > 1:
        dist.barrier()


def launch(nproc: int, argv: list[str]) -> int:
    """Run ``vaekit`` with ``argv`` (its ``--nproc N`` left out) in ``nproc`` processes on this machine under
    torchrun; its exit status."""
    import subprocess

    each, skip = [], False
    for arg in argv:
        if not skip and arg != "--nproc" and not arg.startswith("--nproc="):
            each.append(arg)
        skip = arg == "--nproc"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
               "-m", "vaekit.cli", *each]
    return subprocess.run(command, check=False).returncode
