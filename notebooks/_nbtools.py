"""Shared by the notebook generators: (kind, source) cells -> a notebook without outputs."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}


def build(cells: list[tuple[str, str]]) -> nbformat.NotebookNode:
    """A notebook from ``("md" | "code", source)`` pairs, with the python3 kernel."""
    nb = new_notebook()
    nb.cells = [new_markdown_cell(src) if kind == "md" else new_code_cell(src) for kind, src in cells]
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    return nb


def write(cells: list[tuple[str, str]], name: str) -> Path:
    """Write ``notebooks/<name>`` (no outputs: the docs build executes it)."""
    out = Path(__file__).with_name(name)
    nbformat.write(build(cells), out)
    print(f"wrote {out}")
    return out
