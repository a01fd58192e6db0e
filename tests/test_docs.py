"""Every ```python block in README.md and docs/*.md runs (each file's blocks in order, in a temp folder); a block
that starts ``# file: NAME.py`` is written to that file, a module the later blocks import."""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
PAGES = [p for p in PAGES if "```python" in p.read_text()]


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_examples_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.S)
    assert blocks
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__docs__"}
    monkeypatch.syspath_prepend(str(tmp_path))
    for block in blocks:
        if block.startswith("# file: "):  # a module the page's later blocks import: written, not run
            name, _, source = block.removeprefix("# file: ").partition("\n")
            (tmp_path / name.strip()).write_text(source)
            continue
        exec(compile(block, f"{page.name}", "exec"), namespace)  # noqa: S102 - our own documentation
    assert os.getcwd() == str(tmp_path)
