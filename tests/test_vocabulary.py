"""One vocabulary over every public signature (DESIGN.md section 6, docs/glossary.md).

The same idea has the same name and the same default everywhere. These tests read the
signatures of every public function and public class method of every family, so a new
function that says ``n_boot=`` or ``seed=`` fails here with the name it should use.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from pathlib import Path

import numpy as np
import pytest

FAMILIES = [
    "data", "datasets", "models", "stats", "encoding", "rsa", "topology", "selectivity",
    "alignment", "plotting",
]
ROOT = Path(__file__).resolve().parents[1]

# a parameter name the glossary does not allow -> the name to use instead
RENAMED = {
    "n_boot": "n_bootstrap",
    "n_boots": "n_bootstrap",
    "n_bootstraps": "n_bootstrap",
    "n_resamples": "n_bootstrap or n_permutations",
    "n_perm": "n_permutations",
    "n_perms": "n_permutations",
    "n_permutation": "n_permutations",
    "n_shuffles": "n_permutations",
    "cv_folds": "cv",
    "n_folds": "cv",
    "folds": "cv",
    "n_splits": "cv (folds) or n_split_halves (random split-half repeats)",
    "seed": "rng",
    "random_state": "rng",
    "random_seed": "rng",
    "ci_level": "ci",
    "confidence": "ci",
    "confidence_level": "ci",
    "parallel": "scheduler",
    "n_jobs": "scheduler",
    "n_workers": "scheduler",
    "n_threads": "scheduler",
}
# where a listed name is the right word after all, and why
EXEMPT = {
    # the salt of a deterministic feature hash: nothing is drawn at random
    ("selectivity.hashing_embedder", "seed"),
    ("datasets.hashing_embedder", "seed"),
}
# parameter names with one fixed default wherever they appear
DEFAULTS = {"rng": None, "ci": 0.95}


def _public_callables(families=FAMILIES):
    """(qualified name, callable) for every public function and public method."""
    out = []
    for fam in families:
        mod = importlib.import_module(f"neurorep.{fam}")
        for name in getattr(mod, "__all__", []):
            obj = getattr(mod, name)
            if inspect.isclass(obj):
                if issubclass(obj, BaseException):
                    continue
                for attr, member in vars(obj).items():
                    if (attr == "__init__" or not attr.startswith("_")) and callable(member):
                        out.append((f"{fam}.{name}.{attr}", member))
            elif callable(obj):
                out.append((f"{fam}.{name}", obj))
    return out


def _signatures():
    sigs = []
    for qual, obj in _public_callables():
        try:
            sigs.append((qual, inspect.signature(obj)))
        except (TypeError, ValueError):  # builtins without a signature
            continue
    return sigs


SIGNATURES = _signatures()


def test_the_scan_sees_the_whole_api():
    names = {q for q, _ in SIGNATURES}
    for expected in ("alignment.score_matrix", "rsa.evaluate", "encoding.cross_validate_ridge",
                     "stats.bootstrap", "stats.noise_ceiling", "topology.agtdm"):
        assert expected in names
    assert len(SIGNATURES) > 120


def test_no_parameter_uses_a_name_the_glossary_replaces():
    bad = [f"{q}({p}=...): use {RENAMED[p]}" for q, s in SIGNATURES for p in s.parameters
           if p in RENAMED and (q, p) not in EXEMPT]
    assert not bad, "parameters outside the vocabulary (docs/glossary.md):\n" + "\n".join(bad)


@pytest.mark.parametrize("param", sorted(DEFAULTS))
def test_one_default_per_name(param):
    want = DEFAULTS[param]
    bad = [f"{q}: {param}={s.parameters[param].default!r}" for q, s in SIGNATURES
           if param in s.parameters
           and s.parameters[param].default is not inspect.Parameter.empty
           and s.parameters[param].default != want]
    assert not bad, f"{param} defaults to {want!r} everywhere:\n" + "\n".join(bad)


def test_options_are_keyword_only():
    """Resampling counts, folds, randomness and parallelism are never positional."""
    options = {"rng", "n_bootstrap", "n_permutations", "cv", "inner_cv", "n_split_halves",
               "ci", "scheduler"}
    # the subject of the call itself: the generator normaliser's input, the count an
    # index generator draws, the folds a split maker makes
    primary = {("stats.as_generator", "rng"), ("stats.permutation_indices", "n_permutations"),
               ("stats.bootstrap_indices", "n_bootstrap"), ("encoding.make_splits", "cv")}
    bad = [f"{q}({p})" for q, s in SIGNATURES for p, par in s.parameters.items()
           if p in options and par.kind is not inspect.Parameter.KEYWORD_ONLY
           and (q, p) not in primary]
    assert not bad, "make these keyword-only (after *):\n" + "\n".join(bad)


def test_argument_order():
    """Predictive functions take (features, responses) like scikit-learn's (X, y);
    comparisons take (brain, model)."""
    bad = []
    for q, s in SIGNATURES:
        names = list(s.parameters)
        for first, second in (("features", "responses"), ("prediction", "responses"),
                              ("brain", "model"), ("data", "models")):
            if first in names and second in names and names.index(first) > names.index(second):
                bad.append(f"{q}: {second} before {first}")
    assert not bad, "\n".join(bad)


def test_score_names_are_defined_once():
    """The score names {"r", "r2"} are one constant (neurorep.stats.SCORES), not copies."""
    from neurorep import stats

    assert tuple(stats.SCORES) == ("r", "r2")
    copies = []
    for path in (ROOT / "neurorep").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        # a type annotation (Literal["r", "r2"]) names the values for type checkers only
        hints = {id(n.slice) for n in ast.walk(tree) if isinstance(n, ast.Subscript)}
        for node in ast.walk(tree):
            if id(node) in hints:
                continue
            if isinstance(node, (ast.Tuple, ast.List, ast.Set)) and len(node.elts) == 2:
                vals = [e.value for e in node.elts if isinstance(e, ast.Constant)]
                if sorted(map(str, vals)) == ["r", "r2"]:
                    copies.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    owner = [c for c in copies if c.startswith("neurorep/stats/")]
    assert len(owner) == 1 and len(copies) == 1, copies


def test_glossary_page_names_every_vocabulary_term():
    page = (ROOT / "docs" / "glossary.md").read_text(encoding="utf-8")
    spans = " ".join(re.findall(r"`([^`]+)`", page))
    for term in ("rng", "n_bootstrap", "n_permutations", "cv", "inner_cv", "n_split_halves",
                 "ci", "ci_low", "ci_high", "scheduler", "compute", "bound", "features",
                 "responses", "brain", "model", '"r"', '"r2"'):
        assert re.search(rf"(?<![\w\"]){re.escape(term)}(?![\w\"])", spans), term


# ---------------------------------------------------------------------------------------
# results: one ceiling schema, netCDF-safe attrs


def _results():
    from neurorep import alignment, data, datasets, encoding, rsa, stats, topology

    g = np.random.default_rng(3)
    ids = [f"s{i:02d}" for i in range(16)]
    rep = data.responses(g.standard_normal((16, 3, 5)), stimulus=ids,
                         dims=("stimulus", "repetition", "unit"))
    y = data.responses(g.standard_normal((16, 5)), stimulus=ids)
    x = data.responses(g.standard_normal((16, 3)), stimulus=ids, unit=["f0", "f1", "f2"])
    rdms = rsa.compute_rdm(data.responses(g.standard_normal((16, 4, 6)), stimulus=ids,
                                          dims=("stimulus", "repetition", "unit")))
    acts = datasets.make_model_activations(16, n_layers=2, width=6, rng=0)
    acts_ids = data.members(acts)["layer1"]["stimulus"].values
    brain = {"V1": data.responses(g.standard_normal((16, 5)), stimulus=acts_ids),
             "V2": data.responses(g.standard_normal((16, 5)), stimulus=acts_ids)}
    return {
        "stats.noise_ceiling": stats.noise_ceiling(rep, rng=0),
        "encoding.cross_validate_ridge": encoding.cross_validate_ridge(x, y, cv=4, inner_cv=3),
        "rsa.compute_rdm": rdms,
        "alignment.score_matrix": alignment.score_matrix(brain, acts, metric="cka",
                                                         n_bootstrap=20, rng=0),
        "topology.persistence": topology.persistence(rdms.isel(repetition=0)
                                                     if "repetition" in rdms.dims else rdms),
    }


@pytest.fixture(scope="module")
def results():
    return _results()


def test_every_result_writes_to_plain_netcdf(results, tmp_path):
    for name, res in results.items():
        out = tmp_path / f"{name}.nc"
        obj = res.to_dataset(name="value") if hasattr(res, "to_dataset") and not hasattr(
            res, "data_vars") else res
        try:
            obj.to_netcdf(out)
        except Exception as exc:  # pragma: no cover - the assertion names the result
            pytest.fail(f"{name}: plain to_netcdf() failed: {type(exc).__name__}: {exc}")


def test_ceilings_have_one_schema(results):
    """Two bounds are one ``ceiling`` variable with a ``bound`` dim (lower, upper)."""
    assert "bound" not in results["stats.noise_ceiling"]["ceiling"].dims  # one value per unit
    for name in ("alignment.score_matrix",):
        res = results[name]
        ceiling = res["ceiling"]
        assert "bound" in ceiling.dims, name
        assert list(ceiling["bound"].values) == ["lower", "upper"], name
        assert "ceiling_upper" not in getattr(res, "data_vars", {}), name
