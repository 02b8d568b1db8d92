"""neurorep.alignment: CKA / Procrustes kernels, score matrices, held-out best layers."""

from __future__ import annotations

import numpy as np
import pytest

from neurorep import AlignmentError, NeurorepWarning, data, datasets
from neurorep.alignment import (
    best_layer,
    cka_debiased,
    cka_linear,
    depth_index,
    procrustes_similarity,
    score_matrix,
)


def _cka_reference(x, y):
    """Kornblith et al. (2019) eq. via HSIC with centring matrix H."""
    n = x.shape[0]
    h = np.eye(n) - 1 / n
    kx, ky = h @ x @ x.T @ h, h @ y @ y.T @ h
    return np.sum(kx * ky) / np.sqrt(np.sum(kx * kx) * np.sum(ky * ky))


def test_cka_matches_reference_both_routes(rng):
    x, y = rng.standard_normal((30, 5)), rng.standard_normal((30, 8))
    assert cka_linear(x, y) == pytest.approx(_cka_reference(x, y), rel=1e-10)
    xw, yw = rng.standard_normal((10, 40)), rng.standard_normal((10, 50))  # Gram route
    assert cka_linear(xw, yw) == pytest.approx(_cka_reference(xw, yw), rel=1e-10)


def test_cka_invariances(rng):
    x = rng.standard_normal((40, 6))
    q, _ = np.linalg.qr(rng.standard_normal((6, 6)))
    assert cka_linear(x, 3.0 * x @ q + 2.0) == pytest.approx(1.0)
    assert cka_debiased(x, x @ q) == pytest.approx(1.0)
    assert procrustes_similarity(x, 5 * x @ q) == pytest.approx(1.0, abs=1e-6)


def test_debiased_cka_near_zero_for_independent(rng):
    vals = [cka_debiased(rng.standard_normal((200, 20)), rng.standard_normal((200, 20))) for _ in range(5)]
    biased = [cka_linear(rng.standard_normal((200, 20)), rng.standard_normal((200, 20))) for _ in range(5)]
    assert abs(np.mean(vals)) < 0.02 < np.mean(biased)


def _hsic1_exact(x, y):
    """Song et al. (2012) unbiased HSIC, transcribed term by term in exact rational
    arithmetic on the uncentred linear Gram matrices of integer data."""
    from fractions import Fraction

    n = len(x)
    k = [[Fraction(0) if i == j else Fraction(int(np.dot(x[i], x[j]))) for j in range(n)]
         for i in range(n)]
    l_ = [[Fraction(0) if i == j else Fraction(int(np.dot(y[i], y[j]))) for j in range(n)]
          for i in range(n)]
    trace_kl = sum(k[i][j] * l_[j][i] for i in range(n) for j in range(n))
    sum_k = sum(map(sum, k))
    sum_l = sum(map(sum, l_))
    col_k = [sum(k[i][j] for i in range(n)) for j in range(n)]  # 1'K
    row_l = [sum(l_[j]) for j in range(n)]  # L1
    one_kl_one = sum(c * r for c, r in zip(col_k, row_l, strict=True))
    return (trace_kl + sum_k * sum_l / ((n - 1) * (n - 2)) - 2 * one_kl_one / (n - 2)) / (
        n * (n - 3)
    )


@pytest.mark.parametrize("seed", range(6))
def test_debiased_cka_matches_the_formula_exactly_on_small_tied_inputs(seed):
    """Against the formula of Song et al. in exact arithmetic: integers in -2..2 (many
    ties, duplicated stimuli), 4 to 8 stimuli, widths 1 to 4."""
    gen = np.random.default_rng(seed)
    n = int(gen.integers(4, 9))
    x = gen.integers(-2, 3, size=(n, int(gen.integers(1, 5))))
    y = gen.integers(-2, 3, size=(n, int(gen.integers(1, 5))))
    y[:, 0] = x[:, 0] + (seed % 2)  # some shared structure
    x[1] = x[0]  # a tied (duplicated) stimulus
    hxy, hxx, hyy = _hsic1_exact(x, y), _hsic1_exact(x, x), _hsic1_exact(y, y)
    assert hxx >= 0 and hyy >= 0  # a sum of squares (U-centred form)
    if hxx == 0 or hyy == 0:
        with pytest.warns(NeurorepWarning, match="undefined"):
            assert np.isnan(cka_debiased(x, y))
        return
    ref = float(hxy) / np.sqrt(float(hxx) * float(hyy))
    assert cka_debiased(x, y) == pytest.approx(ref, rel=1e-12, abs=1e-14)
    assert cka_debiased(x.astype(np.float32), y) == pytest.approx(ref, rel=1e-12, abs=1e-14)


@pytest.mark.parametrize("n", [4, 7, 40])
def test_debiased_cka_is_nan_with_a_warning_for_degenerate_representations(n):
    """Constant, or all stimuli but one alike: the unbiased HSIC of the representation with
    itself is exactly 0 (checked in exact arithmetic), so the score is 0 / 0."""
    gen = np.random.default_rng(n)
    y = gen.normal(size=(n, 3))
    one_out = np.tile([1, -2, 3], (n, 1))
    one_out[n // 2] = [2, 5, -1]
    assert _hsic1_exact(one_out, one_out) == 0
    for x in (one_out, np.full((n, 2), 7)):
        for order in (np.arange(n), gen.permutation(n), gen.permutation(n)):
            for a, b in ((x[order], y[order]), (y[order], x[order])):
                with pytest.warns(NeurorepWarning, match="no U-centred Gram structure"):
                    assert np.isnan(cka_debiased(a, b))


def test_procrustes_matches_scipy_orthogonal_procrustes(rng):
    from scipy.linalg import orthogonal_procrustes

    x, y = rng.standard_normal((30, 4)), rng.standard_normal((30, 4))
    xc, yc = x - x.mean(0), y - y.mean(0)
    xc, yc = xc / np.linalg.norm(xc), yc / np.linalg.norm(yc)
    r, _ = orthogonal_procrustes(xc, yc)
    cos = np.sum((xc @ r) * yc)
    expected = 1 - np.arccos(cos) / (np.pi / 2)
    assert procrustes_similarity(x, y) == pytest.approx(expected, abs=1e-8)
    xw, yw = rng.standard_normal((6, 10)), rng.standard_normal((6, 10))  # Gram route
    xc, yc = xw - xw.mean(0), yw - yw.mean(0)
    xc, yc = xc / np.linalg.norm(xc), yc / np.linalg.norm(yc)
    nuc = np.linalg.svd(xc.T @ yc, compute_uv=False).sum()
    assert procrustes_similarity(xw, yw) == pytest.approx(1 - np.arccos(nuc) / (np.pi / 2), abs=1e-6)


@pytest.fixture(scope="module")
def sim():
    return datasets.make_layered_brain(n_stimuli=120, n_units=30, noise=1.0, rng=2)


def test_score_matrix_shape_ci_and_ceiling(sim):
    res = score_matrix(sim["brain"], sim["model"], n_bootstrap=50, rng=0)
    assert res.score.dims == ("region", "layer") and res.sizes == {"region": 3, "layer": 6, "bound": 2}
    assert np.all(res.ci_low <= res.score + 1e-9) and np.all(res.score <= res.ci_high + 1e-9)
    lower = res.ceiling.sel(bound="lower")
    assert res.ceiling.dims == ("region", "bound")
    assert np.all((lower > 0.5) & (lower <= 1))
    assert np.isnan(res.ceiling.sel(bound="upper")).all()  # split halves: one estimate
    np.testing.assert_allclose(res.normalized_score, res.score / lower)
    truth = sim["truth"].to_dataset()
    argmax = res.score.idxmax("layer")
    assert list(argmax.values) == list(truth.best_layer.values)


def test_score_matrix_order_invariant(sim):
    brain = {k: v.isel(stimulus=np.arange(v.sizes["stimulus"])[::-1]) for k, v in data.members(sim["brain"]).items()}
    a = score_matrix(sim["brain"], sim["model"], n_bootstrap=0, rng=0)
    b = score_matrix(brain, sim["model"], n_bootstrap=0, rng=0)
    np.testing.assert_allclose(a.score, b.score, atol=1e-12)


def test_score_matrix_parallel_equals_serial(sim):
    a = score_matrix(sim["brain"], sim["model"], n_bootstrap=10, rng=1)
    b = score_matrix(sim["brain"], sim["model"], n_bootstrap=10, rng=1, scheduler="threads")
    np.testing.assert_allclose(a.ci_low, b.ci_low)


def test_best_layer_held_out_recovers_truth(sim):
    best = best_layer(sim["brain"], sim["model"], cv=4, n_bootstrap=30, rng=0)
    truth = sim["truth"].to_dataset()
    assert list(best.best_layer.values) == list(truth.best_layer.values)
    np.testing.assert_allclose(best.selection_frequency.sum("layer"), 1.0)
    di = best.depth_index.values
    assert di[0] < di[1] < di[2]


def test_depth_index_center_of_mass():
    import xarray as xr

    s = xr.DataArray([[0.0, 1.0, 0.0], [1.0, 0.0, 1.0]], dims=("region", "layer"),
                     coords={"depth": ("layer", [0.0, 0.5, 1.0])})
    np.testing.assert_allclose(depth_index(s), [0.5, 0.5])


def test_bad_inputs(sim, rng):
    other = data.responses(rng.standard_normal((10, 3)), stimulus=[f"x{i}" for i in range(10)])
    with pytest.raises(AlignmentError, match="share no stimulus"):
        score_matrix({"r": other}, sim["model"], n_bootstrap=0, rng=0)
    with pytest.raises(ValueError, match="metric must be one of"):
        score_matrix(sim["brain"], sim["model"], metric="nope", rng=0)
    small = {k: v.isel(stimulus=slice(0, 8)) for k, v in data.members(sim["brain"]).items()}
    model = {k: v.isel(stimulus=slice(0, 8)) for k, v in data.members(sim["model"]).items()}
    with pytest.raises(ValueError, match="lower cv"):
        best_layer(small, model, cv=5, rng=0)


@pytest.mark.parametrize("metric", ["rsa", "encoding"])
def test_rsa_and_encoding_metrics_recover_planted_layers(sim, metric):
    res = score_matrix(sim["brain"], sim["model"], metric=metric, n_bootstrap=20, rng=0)
    truth = sim["truth"].to_dataset()
    assert list(res.score.idxmax("layer").values) == list(truth.best_layer.values)
    assert np.all(res.ci_low <= res.score + 1e-9) and np.all(res.score <= res.ci_high + 1e-9)


def test_encoding_ceiling_matches_planted_ceiling(sim):
    res = score_matrix(sim["brain"], sim["model"], metric="encoding", n_bootstrap=0, rng=0)
    np.testing.assert_allclose(res.ceiling.sel(bound="lower"), sim["truth"].to_dataset().ceiling,
                               atol=0.03)


def test_rsa_metric_equals_rsa_compare(sim):
    from neurorep import rsa

    region = data.members(sim["brain"])["middle"]
    layer = data.members(sim["model"])["layer3"]
    res = score_matrix({"middle": region}, {"layer3": layer}, metric="rsa_pearson", n_bootstrap=0, rng=0)
    expected = rsa.compare(rsa.compute_rdm(region), rsa.compute_rdm(layer), method="corr")
    assert float(res.score.squeeze()) == pytest.approx(float(expected.squeeze()), abs=1e-10)


def test_per_subject_rdms_give_group_statistics(rng):
    """RDM stacks over subjects: per-subject scores, CI over subjects, LOSO ceilings."""
    from scipy.spatial.distance import pdist

    ids = [f"s{i}" for i in range(20)]
    base = rng.standard_normal((20, 10))
    subj = [pdist(base + 0.8 * rng.standard_normal((20, 10)), "correlation") for _ in range(6)]
    region = data.rdm(np.stack(subj), stimulus=ids, dim="subject", index=[f"p{i}" for i in range(6)])
    good = data.responses(base, stimulus=ids)
    bad = data.responses(rng.standard_normal((20, 10)), stimulus=ids)
    res = score_matrix({"V": region}, {"good": good, "bad": bad}, metric="rsa", n_bootstrap=200, rng=0)
    assert res.subject_score.dims == ("subject", "region", "layer")
    assert float(res.score.sel(layer="good").squeeze()) > 0.5 > float(res.score.sel(layer="bad").squeeze())
    assert float(res.pvalue.sel(layer="good").squeeze()) < 0.05
    lower, upper = res.ceiling.squeeze().values
    assert upper >= lower > 0
    np.testing.assert_allclose(res.score, res.subject_score.mean("subject"))


def test_unit_layer_scores_and_brain_map(rng):
    """Voxels planted on layer1 (left half) and layer6 (right half) get those best layers."""
    import nibabel as nib

    from neurorep.alignment import unit_layer_scores
    from neurorep.plotting import plot_best_layer_map

    model = datasets.make_model_activations(120, rng=0)
    layers = data.members(model)
    shape = (8, 8, 3)
    mask = np.zeros(shape, np.uint8)
    mask[1:7, 1:7, 1] = 1
    ijk = np.argwhere(mask)
    planted = np.where(ijk[:, 0] < 4, "layer1", "layer6")
    cols = []
    for w in planted:
        a = layers[w].values
        cols.append(((a - a.mean(0)) / (a.std(0) + 1e-9)) @ rng.standard_normal(a.shape[1]))
    y = np.stack(cols, 1)
    y = y / y.std(0) + 0.5 * rng.standard_normal(y.shape)
    vols = np.zeros((*shape, 120), np.float32)
    vols[mask == 1] = y.T
    resp = data.from_nifti(nib.Nifti1Image(vols, np.eye(4)), nib.Nifti1Image(mask, np.eye(4)),
                           stimulus=layers["layer1"].stimulus.values)
    res = unit_layer_scores(resp, model, cv=4)
    assert (res.best_layer.values == planted).mean() > 0.9
    fig = plot_best_layer_map(res, display_mode="z", cut_coords=[1]).figure_
    assert len(fig.axes) > 1  # the host Axes, nilearn's cut and its colour bar


def test_cka_from_grams_equals_cka_linear(rng):
    from neurorep._core.similarity import cka_from_grams

    x, y = rng.standard_normal((25, 7)), rng.standard_normal((25, 30))
    assert cka_from_grams(x @ x.T, y @ y.T) == pytest.approx(cka_linear(x, y), rel=1e-10)
    idx = rng.integers(0, 25, 25)
    gx, gy = x @ x.T, y @ y.T
    assert cka_from_grams(gx[np.ix_(idx, idx)], gy[np.ix_(idx, idx)]) == pytest.approx(cka_linear(x[idx], y[idx]), rel=1e-10)


@pytest.mark.parametrize("metric", ["cka", "rsa", "rsa_pearson"])
def test_batched_bootstrap_path_matches_pairwise_scores(sim, metric):
    """With a bootstrap, CKA/RSA use one matrix product per sample; the scores must not change."""
    from neurorep.alignment import get_metric

    fast = score_matrix(sim["brain"], sim["model"], metric=metric, n_bootstrap=5, rng=0)
    plain = score_matrix(sim["brain"], sim["model"], metric=metric, n_bootstrap=0, scheduler="threads", rng=0)  # per pair
    np.testing.assert_allclose(fast.score, plain.score, atol=1e-10)
    met = get_metric(metric)
    assert met.sample is not None
    region, layer = data.members(sim["brain"])["late"], data.members(sim["model"])["layer2"]
    pr, pl = met.prepare(region), met.prepare(layer)
    idx = np.unique(np.random.default_rng(1).integers(0, 120, 120))
    assert float(met.sample(pr, idx) @ met.sample(pl, idx)) == pytest.approx(met.score((pr, pl), idx), abs=1e-10)


def test_encoding_batched_over_regions_equals_per_pair(sim):
    """One ridge fit per layer for all regions gives the per-pair numbers (per-unit alphas)."""
    fast = score_matrix(sim["brain"], sim["model"], metric="encoding", n_bootstrap=0, rng=0)
    slow = score_matrix(sim["brain"], sim["model"], metric="encoding", n_bootstrap=0, scheduler="threads", rng=0)
    np.testing.assert_allclose(fast.score, slow.score, atol=1e-10)


def test_encoding_layers_as_tasks_equal_layers_in_order(sim, monkeypatch):
    """Small regions: the layers' fits run as parallel-engine tasks (one BLAS thread each);
    large ones (over PAIR_TASK_BYTES) one layer after the other. Same numbers."""
    from neurorep.alignment import _score

    calls = []
    real = _score.map_tasks

    def counting(fn, items):
        if fn.__name__ == "layer_states":
            calls.append(len(items))
        return real(fn, items)

    monkeypatch.setattr(_score, "map_tasks", counting)
    tasks = score_matrix(sim["brain"], sim["model"], metric="encoding", n_bootstrap=0, rng=0)
    assert calls == [len(data.members(sim["model"]))]
    calls.clear()
    monkeypatch.setattr(_score, "PAIR_TASK_BYTES", 0)
    in_order = score_matrix(sim["brain"], sim["model"], metric="encoding", n_bootstrap=0, rng=0)
    assert calls == []
    np.testing.assert_array_equal(tasks.score.values, in_order.score.values)


def test_small_pairs_bootstrap_in_order_on_one_blas_thread(sim, monkeypatch):
    """A metric without a batched sample path: small pairs' bootstraps run in order on one
    BLAS thread, larger ones (over SMALL_PAIR_VALUES) as parallel-engine tasks; the same
    numbers."""
    from neurorep._core import parallel
    from neurorep.alignment import _score

    job_calls = []
    real = _score.map_tasks

    def counting(fn, items):
        if items and isinstance(items[0], tuple) and len(items[0]) == 3:  # (region, subject, layer)
            job_calls.append(len(items))
        return real(fn, items)

    monkeypatch.setattr(_score, "map_tasks", counting)
    monkeypatch.setattr(parallel, "_workers", lambda: 2)  # tasks even on a 1-core runner
    in_order = score_matrix(sim["brain"], sim["model"], metric="procrustes", n_bootstrap=20,
                            rng=0)
    assert job_calls == []
    monkeypatch.setattr(_score, "SMALL_PAIR_VALUES", 0)
    tasks = score_matrix(sim["brain"], sim["model"], metric="procrustes", n_bootstrap=20,
                         rng=0)
    n_jobs = len(data.members(sim["brain"])) * len(data.members(sim["model"]))
    assert job_calls == [n_jobs]
    for var in ("score", "ci_low", "ci_high"):
        np.testing.assert_array_equal(tasks[var].values, in_order[var].values)


def test_encoding_metric_float32_option(sim):
    """dtype="float32" fits in float32 (the metric's predictions are cross_validate_ridge's
    float32 ones), scores within float32 rounding of the float64 default, recorded in the
    result's metric_params; a bad dtype is refused naming the choices."""
    import json

    from neurorep.alignment import encoding_metric
    from neurorep.encoding import cross_validate_ridge

    f64 = score_matrix(sim["brain"], sim["model"], metric="encoding", n_bootstrap=0, rng=0)
    f32 = score_matrix(sim["brain"], sim["model"], metric=encoding_metric(dtype="float32"),
                       n_bootstrap=0, rng=0)
    assert json.loads(f32.attrs["metric_params"])["dtype"] == "float32"
    assert json.loads(f64.attrs["metric_params"])["dtype"] == "float64"
    np.testing.assert_allclose(f32.score, f64.score, rtol=0, atol=1e-4)
    assert not np.array_equal(f32.score.values, f64.score.values)
    region, layer = data.members(sim["brain"])["late"], data.members(sim["model"])["layer2"]
    met = encoding_metric(dtype="float32")
    state = met.pair(met.prepare(region), met.prepare(layer))
    ref = cross_validate_ridge(met.prepare(layer), met.prepare(region), cv=5, inner_cv=3,
                               dtype="float32")
    np.testing.assert_allclose(met.score(state, None), float(ref["r"].values.mean()),
                               rtol=0, atol=1e-6)
    with pytest.raises(ValueError, match=r"dtype must be one of \['float64', 'float32'\]"):
        encoding_metric(dtype="float16")


# ---------------------------------------------------------------- one array, several regions (issue #13)
@pytest.fixture(scope="module")
def regions_in_one_array():
    """Three regions interleaved along unit in ONE responses array, as data.responses builds
    it with region=...; each region reads a different layer of a random network."""
    acts = datasets.make_model_activations(80, n_layers=4, width=16, rng=5)
    layers = data.members(acts)
    g = np.random.default_rng(11)
    names = {"V1": "layer1", "V4": "layer3", "IT": "layer4"}
    cols, region = [], []
    for r, layer in names.items():
        a = layers[layer].values
        cols.append(a @ g.standard_normal((a.shape[1], 7)) + 0.5 * g.standard_normal((80, 7)))
        region += [r] * 7
    order = g.permutation(21)  # interleave the regions' units
    values = np.concatenate(cols, axis=1)[:, order]
    region = np.asarray(region)[order]
    ids = layers["layer1"]["stimulus"].values
    one = data.responses(values, stimulus=ids, region=region)
    split = {r: one.isel(unit=np.flatnonzero(region == r)) for r in names}
    return one, split, acts


@pytest.mark.parametrize("metric", ["cka", "rsa", "procrustes"])
def test_region_coord_splits_one_array_like_separate_members(regions_in_one_array, metric):
    one, split, acts = regions_in_one_array
    a = score_matrix(one, acts, metric=metric, n_bootstrap=20, rng=3)
    b = score_matrix(split, acts, metric=metric, n_bootstrap=20, rng=3)
    assert sorted(a.region.values.tolist()) == sorted(split)
    for var in ("score", "ci_low", "ci_high"):
        np.testing.assert_allclose(a[var].sel(region=list(split)).values,
                                   b[var].sel(region=list(split)).values, atol=1e-12)


def test_best_layer_splits_by_region_too(regions_in_one_array):
    one, split, acts = regions_in_one_array
    a = best_layer(one, acts, cv=3, n_bootstrap=10, rng=0)
    b = best_layer(split, acts, cv=3, n_bootstrap=10, rng=0)
    assert sorted(a.region.values.tolist()) == sorted(split)
    for r in split:
        assert a.best_layer.sel(region=r).item() == b.best_layer.sel(region=r).item()
        assert float(a.score.sel(region=r)) == pytest.approx(float(b.score.sel(region=r)), abs=1e-12)
    assert a.best_layer.sel(region="V1").item() == "layer1"


def test_region_split_inside_a_set_member_and_missing_regions(regions_in_one_array):
    from neurorep import SchemaError

    one, split, acts = regions_in_one_array
    res = score_matrix({"monkey": one}, acts, n_bootstrap=0, rng=0)
    assert sorted(res.region.values.tolist()) == sorted(f"monkey/{r}" for r in split)
    # a single-region array keeps its region's name, not "responses"
    alone = score_matrix(split["IT"], acts, n_bootstrap=0, rng=0)
    assert alone.region.values.tolist() == ["IT"]
    holes = one.assign_coords(region=("unit", np.where(np.arange(21) == 4, None, one.region.values)))
    with pytest.raises(SchemaError, match=r"1 of 21 units have no 'region'"):
        score_matrix(holes, acts, n_bootstrap=0, rng=0)


def test_depth_index_needs_layer_and_depth():
    import xarray as xr

    from neurorep import SchemaError

    no_depth = xr.DataArray([[0.0, 1.0, 2.0]], dims=("region", "layer"),
                            coords={"layer": ["a", "b", "c"]})
    with pytest.raises(SchemaError, match=r"'depth' coordinate along 'layer'.*assign_coords"):
        depth_index(no_depth)
    with pytest.raises(SchemaError, match=r"need a 'layer' dim.*rename\(\{'level': 'layer'\}\)"):
        depth_index(no_depth.rename(layer="level"))
    with pytest.raises(SchemaError, match="'score' variable"):
        depth_index(xr.Dataset({"value": no_depth}))
    fixed = no_depth.assign_coords(depth=("layer", [0.0, 0.5, 1.0]))
    np.testing.assert_allclose(depth_index(fixed), [(0.5 * 1 + 1.0 * 2) / 3])


def test_complex_representations_are_refused(rng):
    import xarray as xr

    from neurorep import SchemaError

    ids = [f"s{i}" for i in range(10)]
    cplx = xr.DataArray(rng.standard_normal((10, 4)) + 1j, dims=("stimulus", "unit"),
                        coords={"stimulus": ids, "unit": list("abcd")})
    real = data.responses(rng.standard_normal((10, 3)), stimulus=ids)
    with pytest.raises(SchemaError, match=r"brain\['V'\]: values must be real"):
        score_matrix({"V": cplx}, {"l": real}, n_bootstrap=0, rng=0)
    with pytest.raises(SchemaError, match=r"model\['l'\]: values must be real"):
        score_matrix({"V": real}, {"l": cplx}, n_bootstrap=0, rng=0)
    with pytest.raises(SchemaError, match="complex"):
        cka_linear(cplx.values, real.values)
    with pytest.raises(SchemaError, match="complex"):
        procrustes_similarity(real.values, cplx.values)


@pytest.mark.parametrize("scale", [1e200, 1e-200])
def test_scale_free_kernels_at_extreme_scales(rng, scale):
    """CKA / Procrustes are scale-invariant: 1e200 data gave NaN (CKA) or 0 (Procrustes)."""
    x, y = rng.standard_normal((30, 5)), rng.standard_normal((30, 4))
    y = y + x[:, :4]
    for fn in (cka_linear, cka_debiased, procrustes_similarity):
        assert fn(x * scale, y) == pytest.approx(fn(x, y), rel=1e-10)
    ids = [f"s{i}" for i in range(30)]
    a = score_matrix({"V": data.responses(x * scale, stimulus=ids)},
                     {"l": data.responses(y, stimulus=ids)}, metric="cka", n_bootstrap=0, rng=0)
    b = score_matrix({"V": data.responses(x, stimulus=ids)},
                     {"l": data.responses(y, stimulus=ids)}, metric="cka", n_bootstrap=0, rng=0)
    assert float(a.score.squeeze()) == pytest.approx(float(b.score.squeeze()), rel=1e-10)


def test_procrustes_wide_low_rank_data_is_exact_in_any_order(rng):
    """More units than stimuli, rank 2: the Gram route took square roots of eigenvalues
    that are 0 up to rounding (errors ~1e-8, different in another unit order)."""
    x = rng.standard_normal((7, 2)) @ rng.standard_normal((2, 12))
    y = x[:, :5] + 0.1 * rng.standard_normal((7, 5))
    xc, yc = x - x.mean(0), y - y.mean(0)
    xc, yc = xc / np.linalg.norm(xc), yc / np.linalg.norm(yc)
    nuc = np.linalg.svd(xc.T @ yc, compute_uv=False).sum()  # the direct definition
    ref = 1.0 - np.arccos(min(nuc, 1.0)) / (np.pi / 2)
    for _ in range(4):
        units = rng.permutation(12)
        stim = rng.permutation(7)
        assert procrustes_similarity(x[stim][:, units], y[stim]) == pytest.approx(ref, abs=1e-12)


def test_cka_score_matrix_keeps_its_digits_for_data_far_from_zero(rng):
    """The Gram matrix was formed before centring: responses around 1e4 lost ~8 digits."""
    x, y = rng.standard_normal((25, 6)), rng.standard_normal((25, 4))
    y[:, 0] += x[:, 0]
    ids = [f"s{i}" for i in range(25)]
    ref = cka_linear(x, y)
    res = score_matrix({"V": data.responses(3e4 + x, stimulus=ids)},
                       {"l": data.responses(y - 5e3, stimulus=ids)}, metric="cka", n_bootstrap=0, rng=0)
    assert float(res.score.squeeze()) == pytest.approx(ref, rel=1e-12)


def test_cka_score_matrix_past_the_gram_limit_computes_each_wide_gram_once(rng, monkeypatch):
    """Past 1500 stimuli a region at least as wide as the stimuli keeps its Gram matrix
    (no bigger than its data): every layer reuses it instead of recomputing it per pair;
    narrower layers keep their features, and every score equals cka_linear."""
    from neurorep._core import similarity

    n = 1600
    ids = [f"s{i}" for i in range(n)]
    wide = rng.standard_normal((n, n + 5))
    narrow = {f"l{k}": rng.standard_normal((n, 3 + k)) for k in range(3)}
    narrow["l0"][:, 0] += wide[:, 0]
    calls = {"cka_linear": 0}
    real = similarity.cka_linear

    def counted(x, y):
        calls["cka_linear"] += 1
        return real(x, y)

    monkeypatch.setattr(similarity, "cka_linear", counted)
    res = score_matrix(
        {"V": data.responses(wide, stimulus=ids), "N": data.responses(narrow["l2"], stimulus=ids)},
        {k: data.responses(v, stimulus=ids) for k, v in narrow.items()},
        metric="cka", n_bootstrap=0, rng=0,
    )
    # the narrow region against narrow layers is the only features x features route
    assert calls["cka_linear"] == len(narrow)
    monkeypatch.setattr(similarity, "cka_linear", real)
    for k, v in narrow.items():
        assert float(res.score.sel(region="V", layer=k)) == pytest.approx(real(wide, v), rel=1e-10)
        assert float(res.score.sel(region="N", layer=k)) == pytest.approx(
            real(narrow["l2"], v), rel=1e-10)
