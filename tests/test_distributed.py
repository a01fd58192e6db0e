"""Data-parallel training under DistributedDataParallel: 2 processes (gloo) reach the weights of 1 process with the same
global batch and seed, launched as one machine or as two nodes, and a run killed under 2 processes resumes exactly."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from test_cli import ROOT, VAEKIT, vaekit
from test_faults import start_and_await_checkpoint

from vaekit.train import load_checkpoint

RECIPE = ["data.name=mnist", "model.name=classifier", "model.hidden=[64]",
          "data.limit=2000", "data.validation=500", "train.epochs=2", "train.batch_size=64", "evaluate.ood=null",
          "train.progress=false"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs")
    one = vaekit("train", *RECIPE, f"out_dir={out}", "name=one")
    assert one.returncode == 0, one.stderr
    two = vaekit("train", "--nproc", "2", *RECIPE, f"out_dir={out}", "name=two")
    assert two.returncode == 0, two.stderr
    return out


def _weights(run: Path) -> dict:
    return load_file(str(run / "model" / "model.safetensors"))


def test_two_processes_match_one(runs: Path) -> None:
    a, b = _weights(runs / "one"), _weights(runs / "two")
    assert a.keys() == b.keys()
    worst = max(float((a[k] - b[k]).abs().max()) for k in a)
    assert worst < 1e-6  # the same steps, summed in another order
    metrics = json.loads((runs / "two" / "metrics.json").read_text())
    assert metrics["train"]["steps"] == json.loads((runs / "one" / "metrics.json").read_text())["train"]["steps"]
    assert len((runs / "two" / "metrics.jsonl").read_text().splitlines()) > 0  # written once, by rank 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_two_nodes_on_this_machine_train_as_two_processes(runs: Path) -> None:
    # the multi-machine command of docs/training.md, both "machines" on 127.0.0.1
    port = _free_port()
    nodes = [subprocess.Popen([sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--nproc-per-node", "1",
                               "--node-rank", str(rank), "--master-addr", "127.0.0.1", "--master-port", str(port),
                               "-m", "vaekit.cli", "train", *RECIPE, f"out_dir={runs}", "name=nodes"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for rank in (0, 1)]
    for node in nodes:
        _, err = node.communicate(timeout=300)
        assert node.returncode == 0, err[-2000:]
    a, b = _weights(runs / "two"), _weights(runs / "nodes")
    # (torchrun gives each of 2 processes on a machine one thread, and 1 process all: sums in another order)
    assert max(float((a[k] - b[k]).abs().max()) for k in a) < 1e-6


KILLED = [str(ROOT / "configs" / "vae-mnist.yaml"), "data.limit=2000", "data.validation=200", "model.hidden=[32]",
          "train.epochs=6", "train.batch_size=32", "train.checkpoint_every=5", "train.compile=false",
          "train.early_stopping=null", "train.progress=false", "evaluate.k=5", "evaluate.limit=20"]


def _train_two(out: Path, name: str, resume: bool) -> subprocess.Popen:
    return subprocess.Popen([VAEKIT, "train", "--nproc", "2", "--config", *KILLED, f"out_dir={out}", f"name={name}",
                             "--resume" if resume else "--overwrite"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def test_sigkill_under_two_processes_then_resume_gives_the_uninterrupted_weights(tmp_path: Path) -> None:
    whole = _train_two(tmp_path, "whole", resume=False)
    assert whole.wait(timeout=300) == 0, whole.stderr.read() if whole.stderr else ""
    checkpoint = tmp_path / "killed" / "checkpoints" / "last.safetensors"
    steps = []
    for _ in range(2):  # start (or resume), wait for a fresh checkpoint, kill torchrun and both ranks
        process = start_and_await_checkpoint(lambda: _train_two(tmp_path, "killed", resume=checkpoint.exists()),
                                             checkpoint)
        time.sleep(0.3)
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=60)
        steps.append(load_checkpoint(checkpoint)["counters"]["step"])
    assert 0 < steps[0] < steps[1] < 6 * 57, steps  # killed twice in mid-training (57 batches of 32 an epoch)
    last = _train_two(tmp_path, "killed", resume=True)
    assert last.wait(timeout=300) == 0, last.stderr.read() if last.stderr else ""
    a, b = _weights(tmp_path / "whole"), _weights(tmp_path / "killed")
    assert all(torch.equal(a[k], b[k]) for k in a)  # bit for bit: every rank's RNG came back


def _adversarial_rank(rank: int, ranks: int, store: str, out: str) -> None:
    """An AAE without noise (a deterministic encoder, a prior of one point) and a semi-supervised AAE whose one
    labelled example a batch gets lands on rank 0's share only: its classification phase has nothing on rank 1."""
    import torch
    import torch.distributed as dist

    from vaekit import DataConfig, TrainConfig, load_data
    from vaekit.models import AAE, SemiSupervisedAAE
    from vaekit.train import Trainer

    if ranks > 1:
        dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=ranks)
    data = load_data(DataConfig(name="binarized-mnist", limit=640, validation=0, labels_per_class=1))
    config = TrainConfig(epochs=2, batch_size=64, progress=False, compile=False, checkpoint_every=10**9)
    torch.manual_seed(0)
    aae = AAE(data_shape=(1, 28, 28), latent_dim=4, hidden=[32], discriminator=[16], latent_prior="custom")
    Trainer(aae.use_prior(lambda n: torch.full((n, 4), 0.5)), config).fit(data)
    torch.manual_seed(0)
    semi = SemiSupervisedAAE(data_shape=(1, 28, 28), num_classes=10, latent_dim=4, hidden=[32], discriminator=[16])
    Trainer(semi, config.model_copy(update={"labelled_per_batch": 1})).fit(data)
    torch.save({"aae": aae.state_dict(), "semi": semi.state_dict()}, f"{out}/{ranks}-{rank}.pt")
    if ranks > 1:
        dist.destroy_process_group()


def test_an_adversarial_model_trains_in_two_processes_as_in_one(tmp_path: Path) -> None:
    import torch.multiprocessing as mp

    context = mp.start_processes(_adversarial_rank, args=(2, str(tmp_path / "store"), str(tmp_path)), nprocs=2,
                                 join=False, start_method="spawn")
    _adversarial_rank(0, 1, "", str(tmp_path))  # one process, meanwhile
    deadline = time.monotonic() + 300
    while not context.join(timeout=max(0.0, deadline - time.monotonic())):
        if time.monotonic() > deadline:  # ranks running different phases would hang here
            for process in context.processes:
                process.kill()
            raise AssertionError("the ranks did not finish")
    one, zero, first = (torch.load(tmp_path / f"{name}.pt") for name in ("1-0", "2-0", "2-1"))
    worst = max(float((one["aae"][k] - zero["aae"][k]).abs().max()) for k in one["aae"])
    assert worst < 1e-5  # every phase the same step as one process takes on the whole batch
    # the ranks agree (not with one process: they draw their own noise, and shares of 33 and 32 weigh apart)
    assert all(torch.equal(zero["semi"][k], first["semi"][k]) for k in zero["semi"])
