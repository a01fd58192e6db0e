from __future__ import annotations

import json

import pytest
import torch

from vaekit import VAE, TrainConfig
from vaekit.train import CheckpointError, NonFiniteLossError, Trainer, load_checkpoint


def _model() -> VAE:
    torch.manual_seed(0)
    return VAE(data_shape=(1, 28, 28), latent_dim=4, hidden=[32])


CONFIG = dict(epochs=3, batch_size=100, progress=False, checkpoint_every=7, log_every=5,
              schedule="cosine", kl_warmup_steps=30)


def test_resume_equals_an_uninterrupted_run(mnist_binary, tmp_path) -> None:
    whole = _model()
    Trainer(whole, TrainConfig(**CONFIG), tmp_path / "whole").fit(mnist_binary)

    # run A stops after 1 epoch and 6 steps, then resumes from its checkpoint in a new model
    first = _model()
    Trainer(first, TrainConfig(**CONFIG, max_minutes=1e-9), tmp_path / "cut").fit(mnist_binary)
    state = load_checkpoint(tmp_path / "cut" / "checkpoints" / "last.safetensors")
    assert state["counters"]["step"] == 1  # stopped by the (tiny) time budget after one step
    for _ in range(3):  # resume, interrupt again, several times
        partial = _model()
        trainer = Trainer(partial, TrainConfig(**CONFIG), tmp_path / "cut")
        trainer.config = TrainConfig(**{**CONFIG, "max_minutes": 1e-9})
        trainer.fit(mnist_binary, resume=True)
    resumed = _model()
    Trainer(resumed, TrainConfig(**CONFIG), tmp_path / "cut").fit(mnist_binary, resume=True)
    for name, value in whole.state_dict().items():
        assert torch.equal(resumed.state_dict()[name], value), name
    steps = [json.loads(line)["step"] for line in (tmp_path / "cut" / "metrics.jsonl").read_text().splitlines()
             if json.loads(line)["split"] == "train"]
    assert steps == sorted(set(steps))  # no step logged twice after the resumes

    def train_lines(run: str) -> list[dict]:
        lines = [json.loads(line) for line in (tmp_path / run / "metrics.jsonl").read_text().splitlines()]
        return [{k: v for k, v in line.items() if k != "seconds"} for line in lines if line["split"] == "train"]
    assert train_lines("cut") == train_lines("whole")  # each line averages the same steps, resumed or not


def test_non_finite_loss_stops_with_the_step(mnist_binary, tmp_path) -> None:
    model = _model()
    with torch.no_grad():
        model.decoder[-1].bias.fill_(float("nan"))
    with pytest.raises(NonFiniteLossError, match="at step 1"):
        Trainer(model, TrainConfig(progress=False), tmp_path).fit(mnist_binary)


def test_early_stopping_restores_the_best_weights(mnist_binary) -> None:
    model = _model()
    result = Trainer(model, TrainConfig(epochs=50, lr=0.05, early_stopping=1, progress=False)).fit(mnist_binary)
    assert result.stopped == "early-stopping" and result.epochs < 50
    from vaekit.evaluate import mean_elbo
    torch.manual_seed(0)
    assert mean_elbo(model, mnist_binary.valid)["elbo"] == pytest.approx(result.best_valid, abs=2.0)


def test_corrupt_checkpoint_is_refused(mnist_binary, tmp_path) -> None:
    Trainer(_model(), TrainConfig(epochs=1, progress=False), tmp_path).fit(mnist_binary)
    path = tmp_path / "checkpoints" / "last.safetensors"
    data = bytearray(path.read_bytes())
    data[-5] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="checksum"):
        Trainer(_model(), TrainConfig(epochs=2, progress=False), tmp_path).fit(mnist_binary, resume=True)
    path.write_bytes(bytes(data[:100]))
    with pytest.raises(CheckpointError):
        load_checkpoint(path)


def test_sgd_and_gradient_clipping_train(mnist_binary) -> None:
    from vaekit.evaluate import mean_elbo
    model = _model()
    before = mean_elbo(model, mnist_binary.valid)["elbo"]
    result = Trainer(model, TrainConfig(epochs=3, optimizer="sgd", lr=0.01, grad_clip=50.0,
                                        schedule="exponential", progress=False)).fit(mnist_binary)
    assert result.best_valid is not None and result.best_valid > before + 50


def test_compiled_training_matches_the_loss_of_eager(mnist_binary) -> None:
    from vaekit.evaluate import mean_elbo
    initial = mean_elbo(_model(), mnist_binary.valid)["elbo"]
    results = {}
    for compile in (False, True):
        model = _model()
        Trainer(model, TrainConfig(epochs=3, batch_size=64, compile=compile, progress=False)).fit(mnist_binary)
        results[compile] = mean_elbo(model, mnist_binary.valid)["elbo"]
    assert results[True] == pytest.approx(results[False], abs=5.0)  # same training, other kernels and RNG streams
    assert results[True] > initial + 100


def test_a_full_disk_stops_with_a_clear_error_and_the_previous_checkpoint_intact(mnist_binary, tmp_path,
                                                                                  monkeypatch) -> None:
    import errno

    from vaekit.train import CheckpointWriteError
    from vaekit.train import checkpoint as checkpoint_module

    real_save, calls = checkpoint_module.save_file, []

    def save_until_full(tensors, path, metadata=None):  # type: ignore[no-untyped-def]
        calls.append(path)
        if len(calls) > 1:  # the disk fills after the first checkpoint
            with open(path, "wb") as partial:
                partial.write(b"half a checkpoint")
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(tensors, path, metadata=metadata)

    monkeypatch.setattr(checkpoint_module, "save_file", save_until_full)
    config = TrainConfig(**{**CONFIG, "checkpoint_every": 5})
    with pytest.raises(CheckpointWriteError, match="No space left on device.*previous one, if any, is intact"):
        Trainer(_model(), config, tmp_path / "full").fit(mnist_binary)
    path = tmp_path / "full" / "checkpoints" / "last.safetensors"
    assert load_checkpoint(path)["counters"]["step"] == 5  # the first checkpoint, whole and verified
    assert [p.name for p in path.parent.iterdir()] == ["last.safetensors"]  # the half-written file is gone
