"""tRSA identification (leave-one-subject-out nearest centroid) and AGTDM."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import pdist, squareform
from sklearn.neighbors import NearestCentroid

from neurorep import AlignmentError, SchemaError, data
from neurorep.topology import agtdm, gt_transform, score_identification, threshold_grid
from neurorep.topology._identify import _loso

N_STIM = 10
IDS = [f"s{i}" for i in range(N_STIM)]


def _set(rng, n_region=3, n_subj=6, noise=0.6, regions=None, subjects=None):
    m = N_STIM * (N_STIM - 1) // 2
    out = {}
    for r in range(n_region):
        base = rng.random(m)
        subj = subjects or [f"sub{i}" for i in range(n_subj)]
        vals = np.abs(base + noise * rng.standard_normal((len(subj), m)))
        name = regions[r] if regions else f"R{r}"
        out[name] = data.rdm(vals, stimulus=IDS, dim="subject", index=subj)
    return out


def _vectors(rdm_set, lo=None, up=None):
    xs, ys, gs = [], [], []
    for r, (_, da) in enumerate(rdm_set.items()):
        t = da if lo is None else gt_transform(da, lo, up)
        for s in range(da.sizes["subject"]):
            xs.append(squareform(t.isel(subject=s).values, checks=False))
            ys.append(r)
            gs.append(str(da.subject.values[s]))
    return np.array(xs), np.array(ys), np.array(gs)


def _sk_loso(x, y, g, train_mask=None):
    pred = np.empty(len(y), dtype=int)
    for s in np.unique(g):
        test = g == s
        train = ~test if train_mask is None else (~test & train_mask)
        pred[test] = NearestCentroid().fit(x[train], y[train]).predict(x[test])
    return pred


# ---------------------------------------------------------------- reference: scikit-learn
@pytest.mark.parametrize("kw", [{}, {"regime": "topology"}, {"lower": 0.1, "upper": 0.7}])
def test_matches_sklearn_nearest_centroid(rng, kw):
    rs = _set(rng)
    res = score_identification(rs, **kw)
    x, y, g = _vectors(rs, kw.get("lower"), kw.get("upper"))
    if "regime" in kw:
        x, y, g = _vectors(rs, 0.4, 0.6)
    pred = _sk_loso(x, y, g)
    assert float(res.score) == pytest.approx(np.mean(pred == y))
    names = list(rs)
    table = res.prediction.values  # (subject, region)
    got = np.array(
        [
            names.index(table[list(res.subject.values).index(s), r])
            for s, r in zip(g, y, strict=True)
        ]
    )
    np.testing.assert_array_equal(got, pred)
    assert 0.3 < float(res.score) < 1.0  # an informative, not trivial, case
    assert res.confusion.values.sum() == len(y)
    assert res.attrs["chance"] == pytest.approx(1 / 3)


@pytest.mark.filterwarnings("ignore:self.within_class_std_dev_:UserWarning")
def test_threshold_search_is_nested_in_training_folds(rng):
    rs = _set(rng, n_subj=5, noise=0.8)
    cands = np.array([[0.0, 1.0], [0.2, 0.5], [0.4, 0.6], [0.6, 0.9]])
    res = score_identification(rs, grid=cands)
    per = [_vectors(rs, lo, up) for lo, up in cands]
    y, g = per[0][1], per[0][2]
    pred = np.empty(len(y), dtype=int)
    chosen = {}
    for s in np.unique(g):
        train = g != s
        inner = [np.mean(_sk_loso(x[train], y[train], g[train]) == y[train]) for x, _, _ in per]
        k = int(np.argmax(inner))  # first best, as documented
        chosen[s] = cands[k]
        x = per[k][0]
        pred[g == s] = NearestCentroid().fit(x[train], y[train]).predict(x[g == s])
    assert float(res.score) == pytest.approx(np.mean(pred == y))
    for s, (lo, up) in chosen.items():
        assert float(res.lower.sel(subject=s)) == lo and float(res.upper.sel(subject=s)) == up


def test_weighted_kernel_equals_materialised_bootstrap(rng):
    """Subject counts and stimulus pair weights reproduce an explicitly resampled data set."""
    rs = _set(rng, n_subj=5)
    x, y, g = _vectors(rs, 0.0, 1.0)
    labels = np.unique(g)
    gi = np.searchsorted(labels, g)
    subj_counts = np.array([2, 0, 1, 1, 1])
    stim = rng.integers(0, N_STIM, N_STIM)
    c = np.bincount(stim, minlength=N_STIM).astype(float)
    iu = np.triu_indices(N_STIM, 1)
    pair_w = c[iu[0]] * c[iu[1]]
    gram = (x * pair_w) @ x.T
    pred, _ = _loso(gram, y, gi, subj_counts[gi].astype(float), 3, 5, inner=False)
    # materialise: duplicate subjects (same label), resample stimuli, drop self-pairs
    rows, ys, gs = [], [], []
    a, b = np.triu_indices(N_STIM, 1)
    keep = stim[a] != stim[b]
    for i in range(len(y)):
        full = squareform(x[i])
        for _ in range(subj_counts[gi[i]]):
            rows.append(full[stim[a], stim[b]][keep])
            ys.append(y[i])
            gs.append(g[i])
    want = _sk_loso(np.array(rows), np.array(ys), np.array(gs))
    got = np.concatenate([[pred[i]] * subj_counts[gi[i]] for i in range(len(y))])
    np.testing.assert_array_equal(got, want)


# ---------------------------------------------------------------- ground truth
def test_planted_regions_identified(rng):
    rs = _set(rng, n_region=4, n_subj=8, noise=0.05)
    res = score_identification(rs, regime="geometry", n_bootstrap=20, rng=1)
    assert float(res.score) == 1.0
    assert float(res.ci_low) <= float(res.score) <= float(res.ci_high)
    assert res.bootstrap_score.sizes["bootstrap"] == 20


def test_unbalanced_design_and_id_alignment(rng):
    rs = _set(rng, n_region=3, n_subj=4, noise=0.05)
    rs["R2"] = rs["R2"].isel(subject=slice(0, 3))  # R2 lacks sub3
    ids = np.array(IDS)[rng.permutation(N_STIM)]
    shuffled = {k: v.sel(stimulus_i=ids, stimulus_j=ids) for k, v in rs.items()}
    a = score_identification(rs, regime="geometry")
    b = score_identification(shuffled, regime="geometry")
    assert float(a.score) == float(b.score) == 1.0
    assert a.prediction.sel(subject="sub3", region="R2").item() == ""


def test_bootstrap_reproducible_with_rng(rng):
    rs = _set(rng)
    a = score_identification(rs, regime="local", n_bootstrap=15, rng=7)
    b = score_identification(rs, regime="local", n_bootstrap=15, rng=np.random.default_rng(7))
    np.testing.assert_array_equal(a.bootstrap_score.values, b.bootstrap_score.values)


def test_identification_bad_inputs(rng):
    rs = _set(rng)
    with pytest.raises(SchemaError, match="at least 2 regions"):
        score_identification({"R0": rs["R0"]})
    with pytest.raises(SchemaError, match="xr.concat"):
        score_identification({k: v.isel(subject=0) for k, v in rs.items()})
    other = dict(rs)
    other["R1"] = other["R1"].assign_coords(
        stimulus_i=[f"x{i}" for i in range(N_STIM)], stimulus_j=[f"x{i}" for i in range(N_STIM)]
    )
    with pytest.raises(AlignmentError):
        score_identification(other)
    with pytest.raises(ValueError, match="either grid="):
        score_identification(rs, grid=4, regime="local")
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        score_identification(rs, grid=[[0.2, 1.4]])
    with pytest.raises(ValueError, match="bootstrap must be one of"):
        score_identification(rs, regime="local", bootstrap="pairs")  # type: ignore[arg-type]
    with pytest.raises(SchemaError, match="representation set"):
        score_identification(rs["R0"])


def test_real_cichy_evc_vs_it(data_home):
    from neurorep import datasets

    rs = data.members(datasets.load("cichy2014_92img", data_home=data_home))
    raw = score_identification(rs)
    topo = score_identification(rs, regime="topology")
    assert float(raw.score) > 0.6 and float(topo.score) > 0.8  # 0.73 and 0.93 at writing
    assert raw.sizes["subject"] == 15


# ---------------------------------------------------------------- AGTDM
def test_agtdm_pvalue_valid_under_independence():
    n_draws, rejections, pvals = 300, 0, []
    for i in range(n_draws):
        g = np.random.default_rng(1000 + i)
        a = data.responses(g.standard_normal((12, 2)))
        b = data.responses(g.standard_normal((12, 2)))
        p = float(agtdm(a, b, grid=4, n_permutations=39, rng=i).pvalue)
        pvals.append(p)
        rejections += p <= 0.05
    # binomial(300, 0.05): sd 0.0126; allow 3 sd
    assert rejections / n_draws <= 0.05 + 0.038
    assert 0.35 < np.mean(pvals) < 0.65  # roughly uniform, not all-1 conservative


def test_agtdm_detects_nonlinear_dependence(rng):
    t = rng.uniform(0, 2 * np.pi, 40)
    a = data.responses(np.c_[np.cos(t), np.sin(t)] + 0.05 * rng.standard_normal((40, 2)))
    b = data.responses(np.c_[t, t**2] + 0.05 * rng.standard_normal((40, 2)))
    res = agtdm(a, b, grid=5, n_permutations=199, rng=0)
    assert float(res.pvalue) <= 0.01
    assert res.null_distribution.sizes["permutation"] == 199
    assert res.dcor2.sizes["threshold"] == len(threshold_grid(5))
    assert float(res.score) == float(res.dcor2.max())


def test_agtdm_rank_invariance_and_alignment(rng):
    x = rng.standard_normal((15, 3))
    y = x + 0.5 * rng.standard_normal((15, 3))
    ra = data.rdm(pdist(x), stimulus=[f"s{i}" for i in range(15)])
    rb = data.responses(y, stimulus=ra.stimulus_i.values)
    base = agtdm(ra, rb, grid=4, n_permutations=49, rng=3)
    mono = ra.copy(data=ra.values**3)
    ids = ra.stimulus_i.values[rng.permutation(15)]
    moved = agtdm(mono.sel(stimulus_i=ids, stimulus_j=ids), rb, grid=4, n_permutations=49, rng=3)
    assert float(moved.score) == pytest.approx(float(base.score))


def test_agtdm_bad_inputs(rng):
    a = data.responses(rng.standard_normal((3, 2)))
    with pytest.raises(ValueError, match="at least 4"):
        agtdm(a, a)
    b = data.responses(rng.standard_normal((8, 2)))
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        agtdm(b, b, grid=[[0.5, 2.0]])
    with pytest.raises(ValueError, match="lower must be <= upper"):
        agtdm(b, b, grid=[[0.5, 0.2]])
    c = data.responses(rng.standard_normal((8, 2)), stimulus=[f"z{i}" for i in range(8)])
    with pytest.raises(AlignmentError):
        agtdm(b, c)
    r = data.rdm(np.ones((2, 28)), dim="subject")
    with pytest.raises(ValueError, match="one RDM"):
        agtdm(r, r)


def test_centered_ci_corrects_bootstrap_bias(rng):
    """Weak signal: bootstrap accuracies fall (fewer distinct subjects/stimuli per sample);
    the centred interval is the percentile interval shifted back by that bias."""
    rs = _set(rng, n_region=4, n_subj=8, noise=2.0)
    pct = score_identification(rs, regime="geometry", n_bootstrap=60, ci_method="percentile", rng=5)
    cen = score_identification(rs, regime="geometry", n_bootstrap=60, rng=5)
    bias = cen.attrs["bootstrap_bias"]
    assert bias == pytest.approx(float(pct.bootstrap_score.mean() - pct.score))
    assert bias < 0
    assert float(cen.ci_low) == pytest.approx(max(0.0, float(pct.ci_low) - bias))
    assert float(cen.ci_high) == pytest.approx(min(1.0, float(pct.ci_high) - bias))
    assert float(cen.ci_low) <= float(cen.score) <= float(cen.ci_high)
    with pytest.raises(ValueError, match="ci_method must be one of"):
        score_identification(rs, regime="geometry", ci_method="bca")  # type: ignore[arg-type]
