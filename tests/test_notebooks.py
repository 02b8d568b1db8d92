"""The gallery notebooks are their own source: plain ``.ipynb`` files committed without outputs.

Edit ``notebooks/NN_name.ipynb`` in Jupyter, then strip what running it added
before committing (the docs build executes every notebook anyway):

    nbstripout --keep-id notebooks/NN_name.ipynb   # or Jupyter's "Clear All Outputs", then save

(``pip install -e ".[test]"`` installs nbstripout; ``nbstripout --install --keep-id``
sets it up as a git filter.) Cell ids are kept, so diffs and links to cells stay
stable.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))
FIX = "nbstripout --keep-id notebooks/{name} (or Clear All Outputs in Jupyter, then save)"


def _problems(path: Path) -> list[str]:
    """What keeps a notebook from being a clean source: outputs, counts, bad structure."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    problems = []
    kernel = nb.metadata.get("kernelspec", {}).get("name")
    if kernel != "python3":
        problems.append(f"kernelspec name is {kernel!r}, not 'python3' (the docs build's kernel)")
    ids = [cell.get("id") for cell in nb.cells]
    if None in ids or len(set(ids)) != len(ids):
        problems.append("cell ids are missing or repeated (nbformat >= 4.5 gives each cell one)")
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        where = f"cell {i} (id {cell.get('id')})"
        if cell.outputs:
            problems.append(f"{where} has {len(cell.outputs)} output(s)")
        if cell.execution_count is not None:
            problems.append(f"{where} has execution count {cell.execution_count}")
    if "widgets" in nb.metadata:
        problems.append("notebook metadata holds widget state")
    return problems


def test_the_gallery_has_notebooks_and_no_generators() -> None:
    assert len(PATHS) >= 6, f"expected the gallery notebooks in {NOTEBOOKS}; found {PATHS}"
    scripts = sorted(p.name for p in NOTEBOOKS.glob("*.py"))
    assert not scripts, (
        f"notebooks/ holds scripts {scripts}: the .ipynb files are the only source of the "
        f"gallery (edit them in Jupyter), nothing writes them."
    )


@pytest.mark.parametrize("path", PATHS, ids=[p.name for p in PATHS])
def test_notebook_is_committed_without_outputs(path: Path) -> None:
    problems = _problems(path)
    assert not problems, (
        f"{path.name}: " + "; ".join(problems) + ". Strip it: " + FIX.format(name=path.name)
    )


def test_the_check_catches_outputs_and_counts(tmp_path: Path) -> None:
    """An executed notebook (outputs, counts) fails the check; the same one stripped passes."""
    import nbformat

    source = PATHS[0]
    nb = nbformat.read(source, as_version=4)
    code = next(cell for cell in nb.cells if cell.cell_type == "code")
    code.execution_count = 3
    code.outputs = [nbformat.v4.new_output("stream", name="stdout", text="hi\n")]
    dirty = tmp_path / source.name
    nbformat.write(nb, dirty)
    problems = _problems(dirty)
    assert any("output" in p for p in problems) and any("execution count" in p for p in problems)
    code.execution_count, code.outputs = None, []
    nbformat.write(nb, dirty)
    assert not _problems(dirty)
    assert json.loads(dirty.read_text()) == json.loads(source.read_text())
