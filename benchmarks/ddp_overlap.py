"""The gradient all-reduce under DistributedDataParallel: its time alone, and how much of it the backward pass hides.

Two gloo processes on this machine (one thread each, as ``vaekit train --nproc 2`` runs them) train the VAE of
configs/vae-mnist.yaml (MLP 784-400-20, and the convolutional one) on their halves of a global batch of 128
through vaekit's DDP wrapper (``vaekit.train.distributed.phase_runner``). Per step, in alternating blocks:
``synced`` (DDP's bucketed all-reduce during backward) and ``local`` (``no_sync``: the same step without
communication); and the all-reduce of one flat buffer of every gradient alone. The exposed communication is
synced - local; the share hidden behind backward is 1 - exposed / all-reduce alone.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from common import save_result, use_shared_data

use_shared_data()

BATCH = 128


def _rank(rank: int, store: str, architecture: str, steps: int, out: str) -> None:
    from vaekit import VAE, DataConfig, load_data
    from vaekit.contract import Batch
    from vaekit.train.distributed import phase_runner

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=2)
    data = load_data(DataConfig(name="binarized-mnist", limit=BATCH * 20, validation=0))
    torch.manual_seed(0)
    model = VAE(data_shape=(1, 28, 28), latent_dim=20, hidden=[400], architecture=architecture)
    runner = phase_runner(model, torch.device("cpu"))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    shards = [s.x for s in data.train.shards(BATCH, rank=rank, ranks=2)]

    def step(i: int, synced: bool) -> None:
        with nullcontext() if synced else runner.no_sync():
            _, loss = runner(iter(model.steps(Batch(shards[i % len(shards)]))))
            optimizer.zero_grad(set_to_none=True)
            loss.value.backward()
        optimizer.step()

    times: dict[str, list[float]] = {"synced": [], "local": []}
    for i in range(10):  # warm-up
        step(i, i % 2 == 0)
    for block in range(steps // 10):
        for mode in ("synced", "local") if block % 2 == 0 else ("local", "synced"):
            dist.barrier()
            start = time.perf_counter()
            for i in range(10):
                step(i, mode == "synced")
            dist.barrier()
            times[mode].append((time.perf_counter() - start) / 10)
    flat = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    alone = []
    for _ in range(steps):
        dist.barrier()
        start = time.perf_counter()
        dist.all_reduce(flat)
        alone.append(time.perf_counter() - start)
    if rank == 0:
        median = {k: sorted(v)[len(v) // 2] * 1000 for k, v in times.items()}
        reduce_ms = sorted(alone)[len(alone) // 2] * 1000
        exposed = max(0.0, median["synced"] - median["local"])
        Path(out).write_text(json.dumps({
            "architecture": architecture, "parameters": flat.numel(), "step_ms_synced": round(median["synced"], 2),
            "step_ms_local": round(median["local"], 2), "allreduce_ms_alone": round(reduce_ms, 2),
            "exposed_ms": round(exposed, 2), "hidden_share": round(max(0.0, 1 - exposed / reduce_ms), 3)}))
    dist.destroy_process_group()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args()
    rows = []
    for architecture in ("mlp", "conv"):
        with tempfile.TemporaryDirectory() as folder:
            out = f"{folder}/row.json"
            mp.start_processes(_rank, args=(f"{folder}/store", architecture, args.steps, out), nprocs=2,
                               start_method="spawn")
            rows.append(json.loads(Path(out).read_text()))
            print(rows[-1], flush=True)
    save_result("ddp_overlap", {"batch": BATCH, "steps": args.steps, "rows": rows})


if __name__ == "__main__":
    main()
