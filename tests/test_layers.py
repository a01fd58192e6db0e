"""The layers of docs/architecture.md, as the import-linter contracts in pyproject.toml: a change that makes an
import point up (a model importing the trainer, the data layer importing a model) fails here. (import-linter runs
in a process of its own: it reconfigures logging.)"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_LINT = "import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports(config_filename=sys.argv[1], " \
        "no_cache=True))"


def _lint(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", _LINT, str(config)], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


def test_imports_point_down_the_layers() -> None:
    result = _lint(ROOT / "pyproject.toml")
    assert result.returncode == 0, result.stdout[-3000:]
    assert "2 kept, 0 broken" in result.stdout


def test_the_contract_can_fail(tmp_path: Path) -> None:
    """The same check on a contract that today's code breaks (the trainer imports models), so a broken layer is
    reported as one, not passed over."""
    broken = tmp_path / "broken.toml"
    broken.write_text('[tool.importlinter]\nroot_package = "vaekit"\n\n[[tool.importlinter.contracts]]\n'
                      'name = "upside down"\ntype = "layers"\nlayers = ["vaekit.models", "vaekit.train"]\n')
    result = _lint(broken)
    assert result.returncode != 0 and "upside down BROKEN" in result.stdout
