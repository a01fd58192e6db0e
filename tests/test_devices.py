"""Devices and precisions: names resolved or refused in one line, bf16 autocast training on the CPU, and the same
device-aware code the CUDA tests (tests/test_cuda.py) run, here on the CPU."""
from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from vaekit import VAE, DataConfig, TrainConfig, devices, fit, load_data
from vaekit.cli import main
from vaekit.devices import compiled, cpu_bf16_units, resolve_device
from vaekit.evaluate import mean_elbo
from vaekit.train import Trainer

ABSENT = f"cuda:{torch.cuda.device_count()}"  # one past the last GPU: absent on every machine


def test_device_names_resolve_or_are_refused_naming_what_is_there() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto") == (torch.device("cuda", 0) if torch.cuda.is_available() else
                                      torch.device("mps") if torch.backends.mps.is_available() else torch.device("cpu"))
    with pytest.raises(ValueError, match=r"not present on this machine; it has cpu"):
        resolve_device(ABSENT)
    with pytest.raises(ValueError, match="not a device name|not one vaekit runs on"):
        resolve_device("tpu")


def test_an_absent_device_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["train", "data.name=binarized-mnist", "data.limit=200", "train.epochs=1", f"out_dir={tmp_path}",
                 "--device", ABSENT])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "not present on this machine" in err
    assert not any(tmp_path.iterdir())  # refused before the run folder is written
    with pytest.raises(ValueError, match="fp16 is for GPUs"):
        Trainer(VAE(data_shape=(1, 28, 28), latent_dim=2, hidden=[8]), TrainConfig(device="cpu", precision="fp16"))


def test_bf16_on_a_cpu_without_bf16_units_warns_that_it_is_emulated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    intel, arm, old = tmp_path / "intel", tmp_path / "arm", tmp_path / "old"
    intel.write_text("processor\t: 0\nflags\t\t: fpu avx512f avx512_bf16 amx_bf16 amx_tile\n")
    arm.write_text("processor\t: 0\nFeatures\t: fp asimd sve bf16 i8mm\n")
    old.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f\n")
    assert cpu_bf16_units(str(intel)) == ("amx_bf16", "avx512_bf16")
    assert cpu_bf16_units(str(arm)) == ("bf16",)
    assert cpu_bf16_units(str(old)) == ()
    assert cpu_bf16_units(str(tmp_path / "absent")) is None  # not Linux: nothing said
    model = VAE(data_shape=(1, 28, 28), latent_dim=2, hidden=[8])
    for units, warns in (((), True), (("avx512_bf16",), False), (None, False)):
        monkeypatch.setattr(devices, "cpu_bf16_units", lambda units=units: units)
        caplog.clear()
        Trainer(model, TrainConfig(device="cpu", precision="bf16"))
        Trainer(model, TrainConfig(device="cpu", precision="fp32"))
        assert [r.getMessage().split(":")[0] for r in caplog.records if "emulates" in r.getMessage()] == (
            ["train.precision bf16 on a CPU without bf16 units (no AMX, AVX-512 BF16 or Arm BF16)"] if warns else [])


def test_bf16_autocast_trains_on_the_cpu_as_well_as_fp32() -> None:
    data = load_data(DataConfig(name="binarized-mnist", limit=3000, validation=500))
    elbos = {}
    for precision in ("fp32", "bf16"):
        torch.manual_seed(0)
        model = VAE(data_shape=(1, 28, 28), latent_dim=8, hidden=[128])
        before = mean_elbo(model, data.valid)["elbo"]
        fit(model, data, epochs=2, batch_size=100, device="cpu", precision=precision, progress=False,
            expected_steps=0)
        assert all(p.dtype == torch.float32 and p.device.type == "cpu" for p in model.parameters())
        elbos[precision] = mean_elbo(model, data.valid)["elbo"]
        assert math.isfinite(elbos[precision]) and elbos[precision] > before + 150  # it learns (-549 -> about -200)
    assert abs(elbos["bf16"] - elbos["fp32"]) < 5.0  # bf16 rounding costs little at this size


def test_a_resumed_run_keeps_the_loss_scale_of_fp16(mnist_binary, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # fp16 itself runs on a GPU only (tests/test_cuda.py resumes it there); the scaler's checkpointing is the same
    def trainer(init_scale: float) -> Trainer:
        torch.manual_seed(0)
        t = Trainer(VAE(data_shape=(1, 28, 28), latent_dim=4, hidden=[16]),
                    TrainConfig(epochs=2, batch_size=100, progress=False, max_minutes=1e-9), tmp_path)
        t.scalers = {name: torch.amp.GradScaler("cpu", init_scale=init_scale, growth_interval=1)
                     for name in t.scalers}
        return t

    first = trainer(2.0 ** 10)
    first.fit(mnist_binary)  # one step: no overflow, so the scale grows once
    assert first.scalers["model"].get_scale() == 2.0 ** 11
    resumed = trainer(1.0)
    resumed.fit(mnist_binary, resume=True)  # restores 2^11, takes one more step
    assert resumed.scalers["model"].get_scale() == 2.0 ** 12



def test_training_flushes_denormals_on_every_thread_and_only_while_it_runs(mnist_binary) -> None:
    """A product of floats of 1e-39 (under float32's smallest normal) splits across torch's two threads; while a
    model trains, each thread reads them as zero (a 100-fold slow path otherwise), and after, none does."""
    torch.set_num_threads(2)
    tiny, ones = torch.full((1000, 500), 1e-39), torch.ones(500, 500)
    nonzero: list[int] = []
    config = TrainConfig(epochs=1, batch_size=100, progress=False)
    Trainer(VAE(data_shape=(1, 28, 28), latent_dim=2, hidden=[16]), config,
            on_epoch_end=[lambda trainer, counters: nonzero.append(int((tiny @ ones).count_nonzero()))]).fit(
        mnist_binary)
    assert nonzero == [0]
    assert int((tiny @ ones).count_nonzero()) == 1000 * 500


def test_a_compiler_failure_falls_back_to_eager_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    double = compiled(lambda x: 2 * x, backend="no-such-backend")
    with caplog.at_level("WARNING"):
        assert double(torch.ones(3)).tolist() == [2.0, 2.0, 2.0]
        assert double(torch.ones(1)).tolist() == [2.0]  # eager from then on, warned once
    assert sum("torch.compile failed" in r.getMessage() for r in caplog.records) == 1
