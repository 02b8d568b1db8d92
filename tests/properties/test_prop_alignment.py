"""Properties of neurorep.alignment.score_matrix.

Run with the default ``ci`` profile by ``pytest tests/properties``; the ``long``
profile (ten times the examples, fresh random draws) by
``NEUROREP_HYPOTHESIS_PROFILE=long pytest tests/properties --hypothesis-show-statistics``.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from neurorep import NeurorepWarning, alignment, data, rsa

from .strategies import Refused, budget, ids, matrices, outcome, permutations, succeeds

BOUNDS = {
    "cka": (0.0, 1.0),
    "cka_debiased": (-1.0, 1.0),
    "procrustes": (0.0, 1.0),
    "rsa": (-1.0, 1.0),
    "rsa_pearson": (-1.0, 1.0),
    "rsa_tau_a": (-1.0, 1.0),
    "rsa_cosine": (-1.0, 1.0),
    "encoding": (-1.0, 1.0),
}
EPS = 1e-9


@st.composite
def brain_and_model(
    draw: st.DrawFn, *, min_stimuli: int = 5, min_units: int = 1, continuous: bool = False
) -> tuple:
    """Responses whose units carry 1-2 regions, and a two-layer activations tree, on the
    same arbitrary-text stimulus ids (the model in another stimulus order).

    ``continuous``: generic values only, no duplicated stimuli or constant units (see
    test_scores_are_bounded_and_free_of_stimulus_and_unit_order).
    """
    kw: dict = {"styles": ("random",), "structure": False} if continuous else {}
    n = draw(st.integers(min_stimuli, 20))
    stim = draw(ids(n))
    x = draw(matrices(shape=(n, draw(st.integers(2 * min_units, 12))), **kw))
    regions = np.where(np.arange(x.shape[1]) % 2 == 0, "V1", draw(st.sampled_from(("V1", "IT"))))
    brain = outcome(data.responses, x, stimulus=stim, region=regions)
    layers = {
        k: draw(matrices(shape=(n, draw(st.integers(min_units, 10))), **kw)) for k in ("conv", "fc")
    }
    order = draw(permutations(n))
    model = outcome(data.activations, {k: v[order] for k, v in layers.items()},
                    stimulus=np.asarray(stim)[order].tolist())
    assume(not isinstance(brain, Refused) and not isinstance(model, Refused))
    return brain, model


def _score(brain: object, model: object, metric: str) -> object:
    return outcome(alignment.score_matrix, brain, model, metric=metric, n_bootstrap=0,
                   allowed=(ValueError,), warns=(NeurorepWarning,))


@pytest.mark.parametrize("metric", sorted(set(BOUNDS) - {"encoding"}))
@settings(max_examples=budget(25))
@given(data_=st.data())
def test_scores_are_bounded_and_free_of_stimulus_and_unit_order(metric, data_):
    """Scores within the metric's bounds, the same in any stimulus and unit order.

    Known limit: the rank-based RSA metrics (Spearman, Kendall's tau-a) see exact ties
    between dissimilarities (integer data, duplicated stimuli) only as far as rounding
    lets them: the RDM is computed with matrix products whose rounding depends on the
    order of stimuli and units, so mathematically tied distances can differ in the last
    bit and a reordering can break a tie the other way (scores moved by ~1% on small
    integer data). Those metrics are therefore checked on generic continuous data here.
    """
    # correlation RDMs (the RSA metrics) need patterns that vary over units
    ranked = metric in ("rsa", "rsa_tau_a")
    brain, model = data_.draw(
        brain_and_model(min_units=3 if metric.startswith("rsa") else 1, continuous=ranked)
    )
    res = _score(brain, model, metric)
    if isinstance(res, Refused):  # only the documented refusals of the data themselves
        assert "constant" in str(res.error) or "too large" in str(res.error) or (
            "flow" in str(res.error)
        ), res.error
        return
    s = np.asarray(res["score"].values)
    lo, hi = BOUNDS[metric]
    ok = np.isfinite(s)
    assert ((s[ok] >= lo - EPS) & (s[ok] <= hi + EPS)).all(), s
    n = brain.sizes["stimulus"]
    perm = data_.draw(permutations(n))
    units = data_.draw(permutations(brain.sizes["unit"]))
    shuffled = brain.isel(stimulus=perm, unit=units)
    res2 = succeeds(alignment.score_matrix, shuffled, model, metric=metric, n_bootstrap=0,
                    allowed=(ValueError,), warns=(NeurorepWarning,))
    s2 = res2["score"].sel(region=res["region"], layer=res["layer"]).values
    np.testing.assert_array_equal(np.isnan(s2), np.isnan(s))
    tol = _atol(metric, brain, model, res) + 1e-9 * np.abs(s)
    assert (np.abs(s2 - s)[ok] <= tol[ok]).all(), (s2 - s, tol)


def _atol(metric: str, brain: object, model: object, res: object) -> np.ndarray:
    """1e-9, widened for Pearson/cosine RSA by the rounding the RDMs carry.

    A correlation RDM entry ``1 - r`` is exact to an absolute ~p * 1e-16 (rsatoolbox and
    scipy compute it the same way), and a reordering moves it by that much. The Pearson
    r (cosine) between two RDMs moves by at most that over the RDM's standard deviation
    (root mean square), which is tiny for a representation whose patterns all correlate
    ~1 (one unit far from the others): then the score itself is only that precise.
    """
    base = np.full(res["score"].shape, 1e-9)
    if metric not in ("rsa_pearson", "rsa_cosine"):
        return base

    def spread(x: object) -> float:
        d = rsa.compute_rdm(x, metric="correlation").values
        v = d[np.triu_indices_from(d, 1)]
        return float(np.std(v) if metric == "rsa_pearson" else np.sqrt(np.mean(v**2)))

    for i, region in enumerate(res["region"].values):
        sb = spread(brain.isel(unit=brain["region"].values == region))
        for j, layer in enumerate(res["layer"].values):
            sm = spread(model[str(layer)].to_dataset()["activations"])
            base[i, j] += 1e-14 / max(min(sb, sm), 1e-300)
    return base


@settings(max_examples=budget(6))
@given(sets=brain_and_model(min_stimuli=10), data_=st.data())
def test_encoding_scores_are_bounded_and_free_of_stimulus_order(sets, data_):
    brain, model = sets
    res = _score(brain, model, "encoding")
    if isinstance(res, Refused):
        assert "spread" in str(res.error) or "too large" in str(res.error), res.error
        return
    s = np.asarray(res["score"].values)
    ok = np.isfinite(s)
    assert (np.abs(s[ok]) <= 1.0 + EPS).all(), s
    units = data_.draw(permutations(brain.sizes["unit"]))
    res2 = succeeds(alignment.score_matrix, brain.isel(unit=units), model, metric="encoding",
                    n_bootstrap=0, allowed=(ValueError,), warns=(NeurorepWarning,))
    s2 = res2["score"].sel(region=res["region"], layer=res["layer"]).values
    np.testing.assert_allclose(s2[ok], s[ok], rtol=1e-5, atol=1e-7)
