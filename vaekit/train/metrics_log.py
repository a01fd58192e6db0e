"""Where training writes its numbers: ``metrics.jsonl`` (one JSON object a line) and TensorBoard events."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any


class MetricsLog:
    """Append-only metrics; on resume, lines after the checkpoint's step are dropped so none repeat."""

    def __init__(self, run_dir: Path, resume_step: int | None = None) -> None:
        from torch.utils.tensorboard import SummaryWriter  # heavy import, only for runs that write

        run_dir.mkdir(parents=True, exist_ok=True)
        self.path = run_dir / "metrics.jsonl"
        if resume_step is not None and self.path.exists():
            kept = [line for line in self.path.read_text().splitlines()
                    if line.strip() and json.loads(line)["step"] <= resume_step]
            self.path.write_text("".join(line + "\n" for line in kept))
        elif self.path.exists():
            self.path.unlink()
        self.file = open(self.path, "a")
        self.tensorboard = SummaryWriter(str(run_dir / "tensorboard"), purge_step=resume_step)

    def write(self, split: str, step: int, values: dict[str, Any]) -> None:
        self.file.write(json.dumps({"split": split, "step": step, **values}) + "\n")
        self.file.flush()
        for key, value in values.items():
            if isinstance(value, (int, float)) and key != "epoch":
                self.tensorboard.add_scalar(f"{split}/{key}", value, step)

    def close(self) -> None:
        self.file.close()
        self.tensorboard.close()


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """All records of a ``metrics.jsonl``."""
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
