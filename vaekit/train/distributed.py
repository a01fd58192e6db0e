"""Data-parallel training over ``torch.distributed``: one process per rank, launched by ``torchrun`` (or
``vaekit train --nproc N``), gloo on CPU and NCCL on CUDA.

Every rank draws the same seeded global batch and trains on its share (rows ``rank::world``); after each backward
pass the gradients are averaged over the ranks by one ``all_reduce`` of a flat buffer, so every rank takes the same
optimizer step and the weights stay identical, as with ``DistributedDataParallel`` (whose wrapper needs a
``forward``; the Trainer calls ``loss`` and the adversarial models' phases, so the averaging is done here).
Each rank draws its own noise (seed + rank). Only rank 0 writes checkpoints, logs and figures; a checkpoint
holds every rank's RNG state, so a resumed run repeats an uninterrupted one.
"""
from __future__ import annotations

import os
import sys

import torch
import torch.distributed as dist


def world() -> tuple[int, int]:
    """(rank, number of ranks); (0, 1) outside distributed training."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_main() -> bool:
    return world()[0] == 0


def init_from_environment() -> bool:
    """Join the process group that ``torchrun`` describes in the environment (WORLD_SIZE > 1); True if joined."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or (dist.is_available() and dist.is_initialized()):
        return dist.is_available() and dist.is_initialized()
    dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return True


def shard(x: torch.Tensor, y: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """This rank's rows of a global batch."""
    rank, size = world()
    if size == 1:
        return x, y
    return x[rank::size], None if y is None else y[rank::size]


def average_gradients(parameters: list[torch.nn.Parameter]) -> None:
    """Replace each gradient by its mean over the ranks (one all_reduce of a flat buffer).

    A parameter that this rank's share of the batch left without a gradient counts as a zero gradient when another
    rank has one (so every rank reduces a buffer of the same size, and takes the same step); a parameter no rank
    touched keeps no gradient, as in one process."""
    _, size = world()
    if size == 1:
        return
    present = torch.tensor([p.grad is not None for p in parameters], dtype=torch.int32)
    dist.all_reduce(present)  # how many ranks have each gradient
    for p, count in zip(parameters, present.tolist()):
        if count and p.grad is None:
            p.grad = torch.zeros_like(p)
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= size
    offset = 0
    for g in grads:
        g.copy_(flat[offset:offset + g.numel()].view_as(g))
        offset += g.numel()


def broadcast_parameters(module: torch.nn.Module) -> None:
    """Start every rank from rank 0's weights and buffers."""
    if world()[1] > 1:
        for tensor in [*module.parameters(), *module.buffers()]:
            dist.broadcast(tensor.data, 0)


def gather_rng() -> list[torch.Tensor]:
    """Every rank's RNG state, in rank order (on every rank)."""
    state = torch.get_rng_state()
    if world()[1] == 1:
        return [state]
    states = [torch.empty_like(state) for _ in range(world()[1])]
    dist.all_gather(states, state)
    return states


def max_over_ranks(value: int) -> int:
    """The largest of every rank's ``value`` (a stop request seen by any rank)."""
    if world()[1] == 1:
        return value
    t = torch.tensor([value])
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return int(t)


def mean_over_ranks(values: dict[str, float]) -> dict[str, float]:
    """Each named value averaged over the ranks (the epoch means a model diagnoses itself from)."""
    if world()[1] == 1 or not values:
        return values
    keys = sorted(values)
    t = torch.tensor([values[k] for k in keys], dtype=torch.float64)
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
