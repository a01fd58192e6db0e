"""Progress on long work, one helper for every command: a tqdm bar on a terminal, and plain lines through
``logging`` elsewhere (a log file, CI, a notebook's subprocess), where a bar's carriage returns would be noise."""
from __future__ import annotations

import logging
import sys
import time
from typing import Any

from tqdm import tqdm

log = logging.getLogger("vaekit.progress")

LINE_EVERY_SECONDS = 30.0  # a plain line at each tenth of the work, and at least this often


class LogLines:
    """tqdm's ``update``/``set_postfix``/``close`` written as log lines: ``training: 600/2,400 steps (25%), 41 s,
    about 2 min left, loss=98.1``."""

    def __init__(self, total: int, desc: str, unit: str, initial: int = 0) -> None:
        self.total, self.desc, self.unit, self.n = total, desc, unit, initial
        self.start = self.last = time.monotonic()
        self.initial, self.shown, self.postfix = initial, initial, ""
        self.tenth = self._tenth()

    def _tenth(self) -> int:
        return (10 * self.n) // self.total if self.total else 0

    def update(self, n: int = 1) -> None:
        self.n += n
        now = time.monotonic()
        if self._tenth() > self.tenth or now - self.last >= LINE_EVERY_SECONDS:
            self._line(now)

    def set_postfix(self, **values: Any) -> None:
        self.postfix = ", ".join(f"{k}={v}" for k, v in values.items())

    def _line(self, now: float) -> None:
        self.tenth, self.last, self.shown = self._tenth(), now, self.n
        elapsed = now - self.start
        parts = [f"{self.desc}: {self.n:,}/{self.total:,} {self.unit}s"
                 + (f" ({100 * self.n / self.total:.0f}%)" if self.total else ""), _duration(elapsed)]
        done = self.n - self.initial
        if 0 < done and self.n < self.total:
            parts.append(f"about {_duration(elapsed / done * (self.total - self.n))} left")
        if self.postfix:
            parts.append(self.postfix)
        log.info("%s", ", ".join(parts))

    def close(self) -> None:
        if self.n != self.shown:
            self._line(time.monotonic())

    def __enter__(self) -> "LogLines":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def progress(total: int, desc: str, unit: str = "item", enabled: bool = True, initial: int = 0) -> Any:
    """A bar on a terminal, log lines elsewhere, nothing when not ``enabled``; use as tqdm (``update``,
    ``set_postfix``, ``close``, or a ``with`` block)."""
    if not enabled:
        return tqdm(total=total, disable=True)
    if sys.stderr.isatty():
        return tqdm(total=total, desc=desc, unit=unit, initial=initial)
    return LogLines(total, desc, unit, initial)
