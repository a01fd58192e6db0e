"""The one Trainer: any model on the contract, any data split, exact resume.

Each step: a :class:`vaekit.contract.Batch` in seeded order (x, labels, the KL warm-up weight and the batch's
share of a Bayesian network's complexity cost), then for each (optimizer, loss) pair of ``model.steps(batch)``
(one for most models; an adversarial autoencoder's reconstruction, discriminator and generator phases in turn):
backward, optional gradient clipping and that optimizer's step; then a schedule step. The Trainer knows the
model only through the contract (:class:`vaekit.contract.Trainable`). Each epoch ends with the model's own
diagnosis (``model.diagnose``), the validation score (the first of ``model.scores``: the ELBO, the reconstruction
term of a model without a bound, a classifier's log predictive), early stopping on it, and a checkpoint.
A checkpoint holds everything the next step depends on (weights, optimizers, schedules, RNG, counters), so a resumed
run repeats an uninterrupted one.
"""
from __future__ import annotations

import logging
import math
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from vaekit.config import DataRecord, TrainConfig
from vaekit.contract import Batch, LearnsFromLabels, Loss, describe
from vaekit.data import Data
from vaekit.devices import (
    autocast,
    compiled,
    denormals_flushed,
    fork_rng_devices,
    grad_scaler,
    resolve_device,
    warn_if_emulated,
)
from vaekit.distributions.likelihoods import check_likelihood
from vaekit.evaluate import validation_scores
from vaekit.models import Model
from vaekit.nn.bayes import minibatch_weights
from vaekit.progress import progress
from vaekit.train import distributed
from vaekit.train.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from vaekit.train.metrics_log import MetricsLog
from vaekit.train.schedules import kl_weight, make_optimizer, make_scheduler

log = logging.getLogger(__name__)


class NonFiniteLossError(RuntimeError):
    """The loss became NaN or infinite; the message names the step and the last good checkpoint."""


class CheckpointWriteError(OSError):
    """A checkpoint could not be written (disk full, folder not writable); the previous checkpoint is intact."""


class TrainingFailed(RuntimeError):
    """The model's own diagnosis after an epoch (e.g. an adversary that won outright), with advice."""


def check_labels_of(model: Any, data: Data) -> None:
    """A model that learns from labels refuses the training and validation labels it cannot learn from."""
    if isinstance(model, LearnsFromLabels):
        for split in (data.train, data.valid) if len(data.valid) else (data.train,):
            model.check_labels(split.y)


class TrainingInterrupted(KeyboardInterrupt):
    """SIGINT/SIGTERM arrived; a checkpoint was written first."""


@dataclass
class TrainResult:
    steps: int
    epochs: int
    seconds: float
    stopped: str                  # "completed", "early-stopping" or "time-budget"
    best_valid: float | None      # the best validation ELBO (the reconstruction term for models without one)


def _check_counters(path: Path | None, counters: object, epochs: int, steps_per_epoch: int) -> None:
    """A checkpoint's counters are refused unless they could be a run's: whole numbers, the batch within an epoch,
    at least one step per finished epoch. (Past this run's end is allowed: train settings may change on resume.)"""
    names = ("step", "epoch", "batch")
    given = [counters.get(k) for k in names] if isinstance(counters, dict) else []
    values = [v for v in given if isinstance(v, int) and not isinstance(v, bool) and v >= 0]
    if not (len(values) == 3 and values[2] <= steps_per_epoch and values[1] <= values[0]):
        raise CheckpointError(f"{path} holds counters {str(dict(zip(names, given)) or counters)[:200]} that no run "
                              f"of {steps_per_epoch} steps an epoch can be at: it is damaged or forged")
    if values[1] >= epochs:
        log.warning("the checkpoint is at epoch %d, past train.epochs=%d: nothing is left to train", values[1], epochs)


class Trainer:
    """Train ``model`` under ``config``; with a ``run_dir``, write checkpoints and metrics there.

    ``on_epoch_end`` callbacks receive the trainer and its counters (step, epoch, elapsed seconds, ...).
    """

    def __init__(self, model: Model, config: TrainConfig | None = None,
                 run_dir: str | Path | None = None,
                 on_epoch_end: list[Callable[["Trainer", dict[str, Any]], None]] | None = None) -> None:
        self.model, self.config = model, config or TrainConfig()
        self.device = resolve_device(self.config.device)
        model.to(self.device)
        self.on_epoch_end = on_epoch_end or []
        self.run_dir = None if run_dir is None else Path(run_dir)
        groups = model.optimizer_groups()
        unknown = set(self.config.phase_lr) - set(groups)
        if unknown:
            raise ValueError(f"train.phase_lr names {sorted(unknown)}; {describe(model)}'s optimizers are "
                             f"{sorted(groups)}")
        self.optimizers = {name: make_optimizer(params, self.config, self.config.phase_lr.get(name))
                           for name, params in groups.items()}
        autocast(self.device, self.config.precision)  # refuses fp16 on a CPU before anything runs
        warn_if_emulated(self.device, self.config.precision)
        self.scalers = {name: grad_scaler(self.device, self.config.precision) for name in self.optimizers}
        self._stop_signal: int | None = None
        self._fault: str | None = None  # a non-finite loss on this rank, raised at the end of the step

    @property
    def checkpoint_path(self) -> Path | None:
        return None if self.run_dir is None else self.run_dir / "checkpoints" / "last.safetensors"

    # --- state -----------------------------------------------------------------------------
    def _state(self, counters: dict[str, Any], schedulers: dict[str, Any], best: dict | None) -> dict[str, Any]:
        return {"model": self.model.state_dict(),
                "optimizers": {name: o.state_dict() for name, o in self.optimizers.items()},
                "schedulers": {name: s.state_dict() for name, s in schedulers.items()},
                "scalers": {name: s.state_dict() for name, s in self.scalers.items() if s is not None},
                "rng": distributed.gather_rng(self.device), "counters": counters, "best_model": best}

    def _save(self, counters: dict[str, Any], schedulers: dict[str, Any], best: dict | None) -> None:
        """Every rank reaches each save at the same step (the RNG states are gathered); rank 0 writes."""
        state = self._state(counters, schedulers, best)
        if self.checkpoint_path is not None and distributed.is_main():
            try:
                self.checkpoint_path.parent.mkdir(parents=True, exist_ok=True)
                save_checkpoint(self.checkpoint_path, state)
            except OSError as error:  # a full disk, a folder that cannot be written: the old checkpoint stands
                raise CheckpointWriteError(
                    f"could not write the checkpoint {self.checkpoint_path} at step {counters['step']} "
                    f"({error.strerror or error}); the previous one, if any, is intact: free space or choose "
                    "another out_dir, then --resume") from None

    def _restore(self, schedulers: dict[str, Any]) -> tuple[dict[str, Any], dict | None]:
        assert self.checkpoint_path is not None
        folder = self.checkpoint_path.parent  # writes cut short by a kill: ours, and safetensors' own temp file
        for stale in [*folder.glob(f".{self.checkpoint_path.name}.*.tmp"), *folder.glob(".tmp*")]:
            stale.unlink()  # (the checkpoint itself is replaced atomically)
        state = load_checkpoint(self.checkpoint_path)
        try:
            self.model.load_state_dict(state["model"])
            for name, optimizer in self.optimizers.items():
                optimizer.load_state_dict(state["optimizers"][name])
            for name, schedule in schedulers.items():
                schedule.load_state_dict(state["schedulers"][name])
            for name, scaler in self.scalers.items():  # fp16's loss scale, grown and backed off so far
                if scaler is not None and name in state.get("scalers", {}):  # (absent: written before 0.4)
                    scaler.load_state_dict(state["scalers"][name])
        except (KeyError, TypeError, ValueError, RuntimeError) as error:
            raise CheckpointError(f"{self.checkpoint_path} does not hold this run's model and optimizer state "
                                  f"({type(error).__name__}: {str(error).splitlines()[0][:200]})") from None
        rng = state["rng"]
        rank, size = distributed.world()
        if isinstance(rng, list) and len(rng) != size:
            raise ValueError(f"the checkpoint was written by {len(rng)} processes; resume it with as many, not {size}")
        distributed.set_rng_state(rng[rank] if isinstance(rng, list) else rng, self.device)
        return state["counters"], state["best_model"]

    def _last_good(self) -> str:
        path = self.checkpoint_path
        return str(path) if path is not None and path.exists() else "none"

    # --- the loop --------------------------------------------------------------------------
    def fit(self, data: Data, resume: bool = False) -> TrainResult:
        """Train on ``data.train``, validating on ``data.valid`` after each epoch; denormal floats are flushed to
        zero meanwhile (:func:`vaekit.devices.denormals_flushed`)."""
        with denormals_flushed():
            return self._fit(data, resume)

    def _fit(self, data: Data, resume: bool) -> TrainResult:
        cfg, model = self.config, self.model
        uses_labels = isinstance(model, LearnsFromLabels)  # the others get no labels (as torch.compile sees them)
        check_labels_of(model, data)
        fills = getattr(model, "data_fills", ())
        if "likelihood" in fills:  # the API too: a likelihood that does not fit the data would train to nonsense
            check_likelihood(model.config.likelihood, data.kind, data.name)
        if "dataset_size" in fills and model.config.dataset_size != len(data.train):
            raise ValueError(f"{describe(model)} weighs its loss by dataset_size, {model.config.dataset_size}, but "
                             f"the training set has {len(data.train)} examples: build it with "
                             f"dataset_size={len(data.train)} (runs fill it in)")
        model.trained_on = DataRecord(data=data.source, classes=None if data.classes is None else list(data.classes))
        steps_per_epoch = data.train.steps_per_epoch(cfg.batch_size)
        shares = [1.0] * steps_per_epoch if cfg.complexity_weights == "uniform" else \
            (steps_per_epoch * minibatch_weights(steps_per_epoch, cfg.complexity_weights)).tolist()  # M pi_i
        epochs = cfg.epochs if cfg.steps is None else math.ceil(cfg.steps / steps_per_epoch)
        total = epochs * steps_per_epoch if cfg.steps is None else cfg.steps
        if total < cfg.expected_steps and distributed.is_main() and not resume:
            log.warning("training takes %s steps (%d epoch(s) of %d batch(es) of %d); this recipe expects at least %s "
                        "to fit well: set train.steps=%d", f"{total:,}", epochs, steps_per_epoch, cfg.batch_size,
                        f"{cfg.expected_steps:,}", cfg.expected_steps)
        schedulers = {name: s for name, optimizer in self.optimizers.items()
                      if (s := make_scheduler(optimizer, cfg, total)) is not None}
        counters: dict[str, Any] = {"step": 0, "epoch": 0, "batch": 0, "elapsed": 0.0,
                                    "best_valid": None, "bad_epochs": 0}
        best: dict | None = None
        if resume:
            if self.checkpoint_path is None or not self.checkpoint_path.exists():
                raise FileNotFoundError(f"nothing to resume: no checkpoint at {self.checkpoint_path}")
            counters, best = self._restore(schedulers)
            _check_counters(self.checkpoint_path, counters, epochs, steps_per_epoch)
            log.info("resuming at step %d (epoch %d)", counters["step"], counters["epoch"])
        else:
            torch.manual_seed(cfg.seed + distributed.world()[0])  # each rank its own noise
        runner = distributed.phase_runner(model, self.device, len(self.optimizers) > 1)  # DDP with several ranks
        rank, ranks = distributed.world()
        main = rank == 0
        metrics = None if self.run_dir is None or not main else MetricsLog(self.run_dir,
                                                                            counters["step"] if resume else None)
        if cfg.compile and len(self.optimizers) == 1:  # the one-loss step; phased steps run eagerly
            model.loss = compiled(model.loss)  # type: ignore[method-assign]  # steps() calls it; undone below
        first = next(iter(self.optimizers.values()))
        stopped = "completed"
        bar = progress(total, "training", "step", cfg.progress and main, counters["step"])
        previous_handlers = self._catch_signals()
        started = time.perf_counter() - counters["elapsed"]
        try:
            while counters["epoch"] < epochs and stopped == "completed":
                model.train()
                if counters["batch"] == 0 or "sums" not in counters:  # a new epoch; a resumed one keeps its sums
                    counters.update(sums={}, seen=0, epoch_sums={}, epoch_seen=0)
                sums, epoch_sums = counters["sums"], counters["epoch_sums"]
                for x, y, labelled in data.train.shards(cfg.batch_size, epoch=counters["epoch"], seed=cfg.seed,
                                                        start=counters["batch"], labelled_extra=cfg.labelled_per_batch,
                                                        rank=rank, ranks=ranks,
                                                        pin_memory=self.device.type == "cuda"):
                    x = x.to(self.device, non_blocking=True)
                    y = None if y is None or not uses_labels else y.to(self.device, non_blocking=True)
                    annealed = kl_weight(counters["step"], cfg.kl_warmup_steps, cfg.kl_schedule)
                    batch = Batch(x, y, torch.tensor(annealed), torch.tensor(shares[counters["batch"]]),
                                  step_labelled=labelled, ranks=ranks)
                    logged: dict[str, torch.Tensor] = {}
                    phases = iter(model.steps(batch))
                    while True:
                        with autocast(self.device, cfg.precision):  # the forward passes; backward outside it
                            item = runner(phases)
                        if item is None:
                            break
                        phase, out = item
                        self._step(phase, out, counters["step"])
                        logged |= {"loss" if not logged else f"{phase}_loss": out.value.detach(), **out.terms}
                    for schedule in schedulers.values():
                        schedule.step()
                    counters["step"] += 1
                    counters["batch"] += 1
                    counters["seen"] += 1
                    counters["epoch_seen"] += 1
                    for name, value in logged.items():
                        sums[name] = sums.get(name, 0.0) + float(value)
                        epoch_sums[name] = epoch_sums.get(name, 0.0) + float(value)
                    bar.update(1)
                    counters["elapsed"] = time.perf_counter() - started
                    if counters["step"] % cfg.log_every == 0:
                        means = distributed.mean_over_ranks({k: v / counters["seen"] for k, v in sums.items()})
                        bar.set_postfix(loss=f"{means['loss']:.2f}")
                        if metrics is not None:
                            metrics.write("train", counters["step"], {"epoch": counters["epoch"], **means,
                                          "lr": first.param_groups[0]["lr"],
                                          "seconds": round(counters["elapsed"], 3)})
                        sums.clear()
                        counters["seen"] = 0
                    if counters["step"] % cfg.checkpoint_every == 0:
                        self._save(counters, schedulers, best)
                    stop = self._must_stop(counters["elapsed"], counters["step"])
                    if stop == "signal":
                        self._save(counters, schedulers, best)
                        raise TrainingInterrupted(
                            f"stopped by signal {self._stop_signal or 'on another rank'} at step {counters['step']}; "
                            f"checkpoint written to {self.checkpoint_path}")
                    if stop == "time-budget":
                        stopped = "time-budget"
                        break
                    if counters["step"] >= total:  # a budget in steps: this epoch ends here
                        break
                if stopped != "completed":  # the time budget ran out mid-epoch: save where we are
                    self._save(counters, schedulers, best)
                    break
                counters["epoch"] += 1
                counters["batch"] = 0
                problem = model.diagnose(distributed.mean_over_ranks(
                    {k: v / max(1, counters["epoch_seen"]) for k, v in epoch_sums.items()}))
                if problem is not None:
                    self._save(counters, schedulers, best)
                    raise TrainingFailed(f"training stopped after epoch {counters['epoch']}: {problem}; the "
                                         f"checkpoint is {self._last_good()}")
                best, stopped = self._validate(data, counters, metrics, best, stopped)
                self._save(counters, schedulers, best)
                for callback in self.on_epoch_end:
                    callback(self, counters)
        finally:
            model.__dict__.pop("loss", None)  # a compiled loss, if any
            bar.close()
            self._restore_signals(previous_handlers)
            if metrics is not None:
                metrics.close()
        if best is not None:
            model.load_state_dict(best)
        return TrainResult(counters["step"], counters["epoch"], counters["elapsed"], stopped, counters["best_valid"])

    def _step(self, phase: str, out: Loss, step: int) -> None:
        """Backward ``out`` and step the optimizer named ``phase`` (after clipping its gradients). A non-finite loss
        stops training here in one process; with several ranks it is noted, and every rank stops together at the
        end of the step (its gradients, averaged into every rank's, are not finite either)."""
        if phase not in self.optimizers:
            raise TypeError(f"{describe(self.model)}.steps yielded a phase {phase!r}; its optimizers are "
                            f"{sorted(self.optimizers)}")
        if not torch.isfinite(out.value):
            where = "" if len(self.optimizers) == 1 else f" ({phase} phase)"
            message = (f"the loss became {out.value.item()} at step {step + 1}{where}; the last good checkpoint is "
                       f"{self._last_good()} (try a lower train.lr or set train.grad_clip)")
            if distributed.world()[1] == 1:
                raise NonFiniteLossError(message)
            self._fault = self._fault or message
        optimizer, scaler = self.optimizers[phase], self.scalers[phase]
        optimizer.zero_grad(set_to_none=True)
        (out.value if scaler is None else scaler.scale(out.value)).backward()
        if scaler is not None:
            scaler.unscale_(optimizer)  # clip the true gradients
        if self.config.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_([p for g in optimizer.param_groups for p in g["params"]],
                                           self.config.grad_clip)
        if scaler is None:
            optimizer.step()
        else:
            scaler.step(optimizer)
            scaler.update()

    def _validate(self, data: Data, counters: dict[str, Any], metrics: MetricsLog | None,
                  best: dict | None, stopped: str) -> tuple[dict | None, str]:
        if len(data.valid) == 0:
            return best, stopped
        with torch.random.fork_rng(devices=fork_rng_devices(self.device)):  # validation must not shift the RNG
            torch.manual_seed(self.config.seed)
            key, values = validation_scores(self.model, data.valid)
        score = values[key]
        if metrics is not None:
            metrics.write("valid", counters["step"], {"epoch": counters["epoch"], **values})
        patience = self.config.early_stopping
        if counters["best_valid"] is None or score > counters["best_valid"]:
            counters["best_valid"], counters["bad_epochs"] = score, 0
            if patience is not None:
                best = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        else:
            counters["bad_epochs"] += 1
            if patience is not None and counters["bad_epochs"] >= patience and stopped == "completed":
                log.info("early stopping: no better validation score for %d epochs", patience)
                stopped = "early-stopping"
        return best, stopped

    def _must_stop(self, elapsed: float, step: int) -> str | None:
        """"signal" after SIGINT/SIGTERM, "time-budget" past train.max_minutes, else None; agreed by all ranks in one
        collective with any rank's non-finite loss (which raises), so that they stop (and save) at the same step."""
        budget = self.config.max_minutes is not None and elapsed > 60 * self.config.max_minutes
        code = 2 if self._stop_signal is not None else 1 if budget else 0
        code, fault = distributed.max_over_ranks([code, int(self._fault is not None)])
        if fault:
            raise NonFiniteLossError(self._fault or f"the loss became non-finite on another rank at step {step}; "
                                     f"the last good checkpoint is {self._last_good()}")
        return {0: None, 1: "time-budget", 2: "signal"}[code]

    # --- signals ---------------------------------------------------------------------------
    def _catch_signals(self) -> dict[int, Any]:
        if threading.current_thread() is not threading.main_thread():
            return {}
        self._stop_signal = None

        def handler(signum: int, _frame: object) -> None:
            self._stop_signal = signum

        return {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}

    def _restore_signals(self, previous: dict[int, Any]) -> None:
        for s, h in previous.items():
            signal.signal(s, h)

