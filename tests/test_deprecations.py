"""Renamed parameters keep working for a deprecation period (docs/glossary.md)."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from neurorep import SchemaError, alignment, data, datasets, rsa, stats
from neurorep.plotting import plot_model_comparison

ROOT = Path(__file__).resolve().parents[1]
IDS = [f"s{i:02d}" for i in range(12)]


@pytest.fixture(scope="module")
def rsa_problem():
    g = np.random.default_rng(11)
    truth = g.random(66)
    subj = data.rdm(truth + 0.4 * g.random((5, 66)), stimulus=IDS, dim="subject")
    mods = data.rdm(np.stack([truth, g.random(66), truth + g.random(66)]), stimulus=IDS,
                    dim="model", index=["good", "bad", "mixed"])
    return subj, mods


def _same(a: xr.Dataset, b: xr.Dataset) -> None:
    xr.testing.assert_identical(a.drop_attrs(), b.drop_attrs())


def test_evaluate_keywords_and_the_old_positional_order(rsa_problem):
    subj, mods = rsa_problem
    new = rsa.evaluate(data=subj, models=mods, n_bootstrap=50, rng=3)
    with pytest.warns(FutureWarning, match=r"evaluate\(data=\.\.\., models=\.\.\.\)"):
        old = rsa.evaluate(mods, subj, n_bootstrap=50, rng=3)
    _same(new, old)
    # keyword order is irrelevant
    _same(new, rsa.evaluate(models=mods, data=subj, n_bootstrap=50, rng=3))
    with pytest.raises(TypeError, match="missing: models"):
        rsa.evaluate(data=subj)
    with pytest.raises(TypeError, match="as keywords"):
        rsa.evaluate(mods, data=subj)
    with pytest.raises(TypeError, match="3 positional"):
        rsa.evaluate(mods, subj, "corr")


def test_evaluate_returns_fdr_adjusted_pvalues(rsa_problem):
    subj, mods = rsa_problem
    res = rsa.evaluate(data=subj, models=mods, n_bootstrap=80, rng=0)
    np.testing.assert_array_equal(res["pvalue_fdr"].values, stats.fdr(res["pvalue"].values))
    pp, pq = res["pvalue_pairwise"].values, res["pvalue_pairwise_fdr"].values
    ii, jj = np.triu_indices(3, 1)
    np.testing.assert_array_equal(pq[ii, jj], stats.fdr(pp[ii, jj]))
    np.testing.assert_array_equal(pq, pq.T)
    assert (pq[ii, jj] >= pp[ii, jj]).all()


def test_the_plot_marks_evaluates_adjusted_pvalues(rsa_problem):
    subj, mods = rsa_problem
    res = rsa.evaluate(data=subj, models=mods, n_bootstrap=80, rng=0)
    # a p-value the adjustment pushes over alpha: the raw one is marked, the adjusted is not
    res["pvalue"][:] = [0.04, 0.04, 0.5]
    res["pvalue_fdr"][:] = stats.fdr(res["pvalue"].values)
    stars = [sum(t.get_text() == "*" for t in plot_model_comparison(res, correction=c,
                                                                        sort=False).ax_.texts)
             for c in (False, True)]
    assert stars == [2, 0]
    with pytest.raises(SchemaError, match="correction=False"):
        plot_model_comparison(res.drop_vars(["pvalue_fdr", "pvalue_pairwise_fdr"]))


def _renamed_calls():
    g = np.random.default_rng(0)
    rep = data.responses(g.standard_normal((10, 3, 4)), stimulus=IDS[:10],
                         dims=("stimulus", "repetition", "unit"))
    sim = datasets.make_layered_brain(n_stimuli=40, rng=0)
    return [
        (stats.bootstrap, (g.standard_normal(20), np.mean), {"rng": 0}, "n_boot", "n_bootstrap", 30),
        (stats.noise_ceiling, (rep,), {"rng": 0}, "n_splits", "n_split_halves", 4),
        (alignment.score_matrix, (sim["brain"], sim["model"]), {"metric": "cka", "rng": 0},
         "n_boot", "n_bootstrap", 5),
        (alignment.best_layer, (sim["brain"], sim["model"]),
         {"metric": "cka", "n_bootstrap": 0, "rng": 0}, "n_splits", "cv", 3),
    ]


@pytest.mark.parametrize("case", range(4))
def test_old_keyword_names_give_the_same_result_with_a_warning(case):
    func, args, kw, old, new, value = _renamed_calls()[case]
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        want = func(*args, **kw, **{new: value})
    with pytest.warns(FutureWarning, match=rf"{old}=\) is deprecated: use {new}="):
        got = func(*args, **kw, **{old: value})
    if isinstance(want, xr.Dataset | xr.DataArray):
        xr.testing.assert_identical(want.drop_attrs(), got.drop_attrs())
    else:
        np.testing.assert_array_equal(np.asarray(want), np.asarray(got))
    with pytest.raises(TypeError, match=f"both {old}="):
        func(*args, **kw, **{old: value, new: value})


def test_parallel_maps_to_the_threads_scheduler():
    sim = datasets.make_layered_brain(n_stimuli=40, rng=0)
    want = alignment.score_matrix(sim["brain"], sim["model"], metric="cka", n_bootstrap=5,
                                  scheduler="threads", rng=0)
    with pytest.warns(FutureWarning, match='scheduler=.threads.'):
        got = alignment.score_matrix(sim["brain"], sim["model"], metric="cka", n_bootstrap=5,
                                     parallel=True, rng=0)
    xr.testing.assert_identical(want.drop_attrs(), got.drop_attrs())


def test_the_glossary_lists_every_renamed_parameter():
    from tests.test_vocabulary import _public_callables

    rows = set(re.findall(r"^\| `([\w.]+)` \| `(\w+)", (ROOT / "docs" / "glossary.md")
                          .read_text(encoding="utf-8"), flags=re.M))
    renamed = [(q, old) for q, f in _public_callables()
               for old in getattr(f, "__renamed__", {})]
    assert renamed, "the scan found no renamed parameters"
    missing = [r for r in renamed if r not in rows]
    assert not missing, f"add these to docs/glossary.md 'Renamed parameters': {missing}"
