"""docs/methods/metrics.md lists every name each measure registry accepts, and nothing else.

Each table of the page follows a ``% registry: module.NAME`` line (a MyST comment);
the names are the backticked, double-quoted strings of its first column. A name
added to a registry (or removed) without its row here fails. A second check finds
every registry passed to ``check_option`` in the package and asks that its names
be in the table of a documented registry, unless it is not a measure (the
allowlist below), so a new registry cannot be missed either.
"""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PAGE = REPO / "docs" / "methods" / "metrics.md"

#: Registries of options that are not measures (resampling, folds, nulls, data).
NOT_MEASURES = {
    "neurorep.hftp._tagging.NULLS",
    "neurorep.selectivity._score.NULLS",
    "neurorep.rsa._evaluate.BOOTSTRAPS",
    "neurorep.topology._identify.BOOTSTRAPS",
    "neurorep.encoding._ridge.TIES",
    "neurorep.stats._fdr.FDR_METHODS",
    "neurorep.stats._permutation.ALTERNATIVES",
    "neurorep.datasets._pereira_full.EXPERIMENTS",
    "neurorep.models._hooks.POOLINGS",
    "neurorep.models._preprocess._RESAMPLE",
    "neurorep.hftp._tokens.SITES",
    "neurorep.selectivity._project.PROJECTION_METHODS",
}


def _names(registry: str) -> set[str]:
    module, _, attr = registry.rpartition(".")
    obj = getattr(importlib.import_module(module), attr)
    names = {str(k) for k in obj}
    if registry == "neurorep.rsa.COMPARE_METHODS":
        from neurorep._core.compare import ALIASES

        names |= set(ALIASES)
    return names


def _tables() -> dict[str, set[str]]:
    """registry -> the names in the first column of the table that follows its marker."""
    out: dict[str, set[str]] = {}
    lines = PAGE.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        m = re.fullmatch(r"% registry: (\S+)", line.strip())
        if not m:
            continue
        assert m.group(1) not in out, f"{m.group(1)} has two tables"
        rows = []
        j = i + 1
        while j < len(lines) and not lines[j].startswith("|"):
            assert not lines[j].strip(), f"text between the marker of {m.group(1)} and its table"
            j += 1
        while j < len(lines) and lines[j].startswith("|"):
            rows.append(lines[j])
            j += 1
        assert len(rows) > 2, f"no table after the marker of {m.group(1)}"
        names: set[str] = set()
        for row in rows[2:]:  # header and separator skipped
            first = row.split("|")[1]
            found = re.findall(r'`"([^"`]+)"`', first.split("(")[0])
            assert found, f"{m.group(1)}: a row without a name: {row}"
            names.update(found)
        out[m.group(1)] = names
    return out


TABLES = _tables()


@pytest.mark.parametrize("registry", sorted(TABLES))
def test_each_table_lists_exactly_its_registry(registry):
    got, want = TABLES[registry], _names(registry)
    assert got == want, (
        f"docs/methods/metrics.md, table of {registry}: missing {sorted(want - got)}, "
        f"not in the registry {sorted(got - want)}"
    )


def test_the_page_covers_the_measure_families():
    for registry in ("neurorep.rsa.METRICS", "neurorep.rsa.COMPARE_METHODS",
                     "neurorep.rsa.TRANSFORMS", "neurorep.rsa.FITS",
                     "neurorep.alignment.METRICS", "neurorep._core.shape.DISTANCES",
                     "neurorep.alignment._metric.CCA_KINDS", "neurorep.encoding.METRICS",
                     "neurorep.encoding.KERNELS", "neurorep.stats.CEILING_METHODS",
                     "neurorep.topology.RGTM_REGIMES", "neurorep.topology.GEODESIC_GRAPHS",
                     "neurorep.topology.DIAGRAM_DISTANCES"):
        assert registry in TABLES, f"no table for {registry}"
    text = PAGE.read_text(encoding="utf-8")
    for name in ("r2_score_split", "sigmoid_transform", "geodesic_transform", "agtdm",
                 "alpha_per_unit", "ridge_weight"):
        assert name in text


def _check_option_registries() -> set[str]:
    """``module.NAME`` of every registry passed by name to check_option in the package
    (a name imported inside an enclosing function resolves to the module it comes from)."""
    found: set[str] = set()

    def visit(node: ast.AST, module: str, local: dict[str, str]) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            local = {**local, **{
                alias.asname or alias.name: imp.module
                for imp in ast.walk(node) if isinstance(imp, ast.ImportFrom) and imp.module
                for alias in imp.names
            }}
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id == "check_option" and len(node.args) == 3
                and isinstance(node.args[2], ast.Name)):
            name = node.args[2].id
            found.add(f"{local.get(name, module)}.{name}")
        for child in ast.iter_child_nodes(node):
            visit(child, module, local)

    for path in (REPO / "neurorep").rglob("*.py"):
        module = ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
        visit(ast.parse(path.read_text(encoding="utf-8")), module, {})
    return found


def test_every_checked_registry_is_documented_or_not_a_measure():
    documented = {name for names in TABLES.values() for name in names}
    seen = _check_option_registries()
    assert len(seen) > 15  # the scan finds the registries (the test can fail)
    for registry in sorted(seen):
        if registry in NOT_MEASURES:
            continue
        names = _names(registry)
        assert names <= documented, (
            f"{registry} accepts {sorted(names - documented)}, which "
            f"docs/methods/metrics.md does not list; add a table (with a '% registry:' "
            f"line) or, if it is not a measure, add it to NOT_MEASURES here."
        )
