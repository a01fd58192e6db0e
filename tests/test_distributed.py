"""Data-parallel training: 2 processes (gloo) reach the weights of 1 process with the same global batch and seed."""
from __future__ import annotations

import json
import time
from pathlib import Path

from safetensors.torch import load_file
from test_cli import vaekit

RECIPE = ["data.name=mnist", "model.name=classifier", "model.hidden=[64]",
          "data.limit=2000", "data.validation=500", "train.epochs=2", "train.batch_size=64", "evaluate.ood=null",
          "train.progress=false"]


def test_two_processes_match_one(tmp_path: Path) -> None:
    one = vaekit("train", *RECIPE, f"out_dir={tmp_path}", "name=one")
    assert one.returncode == 0, one.stderr
    two = vaekit("train", "--nproc", "2", *RECIPE, f"out_dir={tmp_path}", "name=two")
    assert two.returncode == 0, two.stderr
    a = load_file(str(tmp_path / "one" / "model" / "model.safetensors"))
    b = load_file(str(tmp_path / "two" / "model" / "model.safetensors"))
    assert a.keys() == b.keys()
    worst = max(float((a[k] - b[k]).abs().max()) for k in a)
    assert worst < 1e-4  # the same steps, summed in another order (measured below 1e-6)
    metrics = json.loads((tmp_path / "two" / "metrics.json").read_text())
    assert metrics["train"]["steps"] == json.loads((tmp_path / "one" / "metrics.json").read_text())["train"]["steps"]
    assert len((tmp_path / "two" / "metrics.jsonl").read_text().splitlines()) > 0  # written once, by rank 0


def _uneven_rank(rank: int, store: str, out: str) -> None:
    """Rank 1's share of the batch never reaches the second layer; a third layer is used by no rank."""
    import torch
    import torch.distributed as dist

    from vaekit.train.distributed import average_gradients

    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=2)
    torch.manual_seed(0)
    first, second, unused = torch.nn.Linear(3, 3), torch.nn.Linear(3, 1), torch.nn.Linear(3, 1)
    x = torch.full((2, 3), float(rank + 1))
    hidden = first(x)
    (second(hidden).sum() if rank == 0 else hidden.sum()).backward()
    parameters = [*first.parameters(), *second.parameters(), *unused.parameters()]
    average_gradients(parameters)
    torch.save([None if p.grad is None else p.grad for p in parameters], f"{out}/{rank}.pt")
    dist.destroy_process_group()


def test_a_gradient_only_some_ranks_have_is_averaged(tmp_path: Path) -> None:
    import torch
    import torch.multiprocessing as mp

    context = mp.start_processes(_uneven_rank, args=(str(tmp_path / "store"), str(tmp_path)), nprocs=2, join=False,
                                 start_method="spawn")
    deadline = time.monotonic() + 120
    while not context.join(timeout=max(0.0, deadline - time.monotonic())):
        if time.monotonic() > deadline:  # buffers of different sizes on the two ranks would hang here
            for process in context.processes:
                process.kill()
            raise AssertionError("the ranks did not finish")
    zero, one = torch.load(tmp_path / "0.pt"), torch.load(tmp_path / "1.pt")
    assert all(torch.equal(a, b) for a, b in zip(zero[:4], one[:4]))  # every rank takes the same step
    assert zero[4] is None and zero[5] is None and one[4] is None  # no rank used it: no gradient, as in one process
    assert float(zero[2].abs().sum()) > 0  # rank 0's gradient of the second layer, halved, on both ranks
