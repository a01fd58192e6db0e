"""The GPU check anyone can run (``make gpu-check``, at most about 5 minutes on one GPU).

On synthesized 64x64 RGB images (coloured rectangles on 256 levels, made in memory) it trains the convolutional
VAE (channels 32, 64, 128; the logistic mixture of 8-bit data) with torch.compile in fp32 and in bf16, by vaekit's
Trainer and by a plain PyTorch loop of the same model (compiled loss, Adam, autocast) in the same run, and gives
samples/s and the share of the GPU's dense bf16 peak the bf16 Trainer reaches (FLOPs of a step counted by
torch.utils.flop_counter). Then: the k=5000 log p(x) estimate (images/s), a lossless codec round trip of an
MLP VAE trained on the GPU (exact, and the same bytes as on the CPU), and, with 2 GPUs, a DDP step over NCCL.
Without a GPU it says so and exits 0, measuring nothing.
"""
from __future__ import annotations

import sys
import time

import torch
from common import save_result

STEPS, WARMUP, BATCH = 60, 15, 128
PEAK_BF16_TFLOPS = {"H200": 989, "H100": 989, "A100": 312, "L40S": 362, "L4": 121, "A10": 125, "RTX 4090": 165}


def synthetic(count: int, seed: int = 0) -> torch.Tensor:
    """``count`` 64x64 RGB images of v / 255: a random colour ground with a rectangle of another colour."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 256, (count, 3, 1, 1), generator=g).expand(count, 3, 64, 64).clone()
    for i in range(count):
        top, left = torch.randint(0, 48, (2,), generator=g).tolist()
        x[i, :, top:top + 16, left:left + 16] = torch.randint(0, 256, (3, 1, 1), generator=g)
    return x.float() / 255


def conv_vae() -> torch.nn.Module:
    from vaekit import VAE

    torch.manual_seed(0)
    return VAE(data_shape=(3, 64, 64), latent_dim=32, architecture="conv", channels=[32, 64, 128],
               likelihood="logistic-mixture")


def trainer_rate(x: torch.Tensor, precision: str) -> float:
    """Samples/s of the Trainer between steps WARMUP and STEPS (after compilation), from its metrics log (each
    step's loss is read back to the CPU for the log, so the times are the GPU's)."""
    import json
    import tempfile
    from pathlib import Path

    from vaekit import TrainConfig
    from vaekit.data import Data, Split
    from vaekit.train import Trainer

    split = Split(x, None, "8bit")
    data = Data("synthetic", split, split.subset(slice(0, 0)), split.subset(slice(0, 0)))
    config = TrainConfig(steps=STEPS, batch_size=BATCH, device="cuda", precision=precision, compile=True,
                         progress=False, log_every=1, checkpoint_every=10**9, expected_steps=0)
    with tempfile.TemporaryDirectory() as run_dir:
        Trainer(conv_vae(), config, run_dir).fit(data)
        lines = [json.loads(line) for line in (Path(run_dir) / "metrics.jsonl").read_text().splitlines()]
    seconds = {line["step"]: line["seconds"] for line in lines if line["split"] == "train"}
    return (STEPS - WARMUP) * BATCH / (seconds[STEPS] - seconds[WARMUP])


def plain_rate(x: torch.Tensor, precision: str) -> float:
    """Samples/s of a plain loop: the same model, compiled loss, Adam, autocast."""
    model = conv_vae().cuda()
    loss = torch.compile(model.loss)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    batches = x.cuda().split(BATCH)
    dtype = torch.bfloat16 if precision == "bf16" else None
    for step in range(STEPS):
        if step == WARMUP:
            torch.cuda.synchronize()
            start = time.perf_counter()
        with torch.autocast("cuda", dtype=dtype, enabled=dtype is not None):
            value = loss(batches[step % len(batches)]).value
        optimizer.zero_grad(set_to_none=True)
        value.backward()
        optimizer.step()
    torch.cuda.synchronize()
    return (STEPS - WARMUP) * BATCH / (time.perf_counter() - start)


def step_flops(x: torch.Tensor) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    model = conv_vae().cuda()
    with FlopCounterMode(display=False) as counter:
        model.loss(x[:BATCH].cuda()).value.backward()
    return counter.get_total_flops()


def codec_round_trip() -> dict:
    from vaekit import VAE, compress, decompress, fit, load_data

    data = load_data(name="binarized-mnist", limit=5000, validation=500)
    torch.manual_seed(0)
    model = VAE(data_shape=(1, 28, 28), latent_dim=16, hidden=[256])
    fit(model, data, epochs=2, device="cuda", progress=False, expected_steps=0)
    x = data.test.x[:50]
    start = time.perf_counter()
    coded = compress(model, x)
    exact = torch.equal(torch.as_tensor(decompress(model, coded).x), x)
    return {"exact": exact, "same_bytes_as_cpu": compress(model.cpu(), x) == coded, "images": len(x),
            "bits_per_dim": round(8 * len(coded) / x.numel(), 4), "seconds": round(time.perf_counter() - start, 2)}


def k5000_rate() -> float:
    model = conv_vae().cuda().eval()
    x = synthetic(100, seed=1)
    torch.cuda.synchronize()
    start = time.perf_counter()
    model.log_likelihood(x.cuda(), k=5000)
    torch.cuda.synchronize()
    return len(x) / (time.perf_counter() - start)


def _ddp_rank(rank: int) -> None:
    import os

    import torch.distributed as dist

    from vaekit.contract import Batch
    from vaekit.train.distributed import phase_runner

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT="29517")
    torch.cuda.set_device(rank)
    dist.init_process_group("nccl", rank=rank, world_size=2)
    model = conv_vae().cuda()
    runner = phase_runner(model, torch.device("cuda", rank))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    _, loss = runner(iter(model.steps(Batch(synthetic(64, seed=rank).cuda()))))
    loss.value.backward()
    optimizer.step()
    flat = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    copies = [torch.empty_like(flat) for _ in range(2)]
    dist.all_gather(copies, flat)
    if rank == 0 and not torch.equal(copies[0], copies[1]):
        raise SystemExit("the two GPUs' weights differ after a DDP step")
    dist.destroy_process_group()


def main() -> None:
    if not torch.cuda.is_available():
        print("no CUDA GPU on this machine: nothing measured (run this where there is one)")
        return
    name = torch.cuda.get_device_name()
    x = synthetic(4096)
    rows = {}
    for precision in ("fp32", "bf16"):
        rows[precision] = {"trainer": round(trainer_rate(x, precision), 1), "plain": round(plain_rate(x, precision), 1)}
        print(precision, rows[precision], flush=True)
    peak = next((tflops for key, tflops in PEAK_BF16_TFLOPS.items() if key in name), None)
    flops = step_flops(x)
    result = {"gpu": name, "batch": BATCH, "steps": STEPS, "warmup": WARMUP, "rows": rows,
              "bf16_vs_fp32": round(rows["bf16"]["trainer"] / rows["fp32"]["trainer"], 2),
              "step_gflops": round(flops / 1e9, 2),
              "bf16_peak_share": None if peak is None else
              round(flops * rows["bf16"]["trainer"] / BATCH / (peak * 1e12), 4),
              "k5000_images_per_second": round(k5000_rate(), 1), "codec": codec_round_trip()}
    if torch.cuda.device_count() >= 2:
        torch.multiprocessing.spawn(_ddp_rank, nprocs=2)
        result["ddp_two_gpus"] = "weights equal after a step"
    print(result, flush=True)
    save_result("gpu", result)
    if not result["codec"]["exact"]:
        sys.exit("the codec round trip on the GPU was not exact")


if __name__ == "__main__":
    main()
