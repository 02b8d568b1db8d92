"""Image regression: every public ``plot_*`` function against a baseline PNG.

Each case draws one figure from small fixed inputs (built by hand, so an analysis
change cannot move a picture) under matplotlib's default rcParams, saves it at a
fixed dpi and compares it with ``tests/baseline_images/<function>.png`` using
``matplotlib.testing.compare.compare_images`` (RMS tolerance ``TOL``, which
absorbs font-rendering noise but not a changed colour map, label or layout).

After a deliberate change to a figure, regenerate the baselines and look at them:

    python tests/make_baseline_images.py            # all
    python tests/make_baseline_images.py plot_rdm   # some

A failing comparison leaves ``<function>.png`` and ``<function>-failed-diff.png``
in pytest's tmp_path for inspection.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pytest
import xarray as xr

BASELINE_DIR = Path(__file__).resolve().parent / "baseline_images"
DPI = 72
TOL = 5.0


# ----------------------------------------------------------------------------
# fixed inputs
# ----------------------------------------------------------------------------
def _rdm(n: int = 12, *, seed: int = 0) -> xr.DataArray:
    from neurorep import data

    g = np.random.default_rng(seed)
    centres = np.repeat(np.eye(3) * 3.0, n // 3, axis=0)
    points = centres + g.normal(size=(n, 3))
    d = np.sqrt(((points[:, None] - points[None]) ** 2).sum(-1))
    rdm = data.rdm(d, stimulus=[f"s{i:02d}" for i in range(n)], metric="euclidean")
    return rdm.assign_coords(category=("stimulus_i", np.repeat(["face", "body", "object"], n // 3)))


def _diagram() -> xr.Dataset:
    birth = np.array([0.0, 0.0, 0.0, 0.0, 0.6, 0.9])
    death = np.array([0.3, 0.5, 0.8, np.inf, 1.4, 1.1])
    dimension = np.array([0, 0, 0, 0, 1, 1])
    return xr.Dataset(
        {"birth": ("bar", birth), "death": ("bar", death)},
        coords={"dimension": ("bar", dimension)},
        attrs={"maxdim": 1},
    )


def _scores() -> xr.Dataset:
    regions, layers = ["V1", "V4", "IT"], ["conv1", "conv2", "conv3", "fc1", "fc2"]
    peak = np.array([0, 2, 4])
    x = np.arange(len(layers))
    score = 0.6 * np.exp(-0.5 * ((x[None] - peak[:, None]) / 1.2) ** 2) + 0.1
    return xr.Dataset(
        {
            "score": (("region", "layer"), score),
            "ci_low": (("region", "layer"), score - 0.05),
            "ci_high": (("region", "layer"), score + 0.05),
            "ceiling": ("region", [0.8, 0.75, 0.7]),
        },
        coords={"region": regions, "layer": layers, "depth": ("layer", np.linspace(0, 1, 5))},
        attrs={"metric": "cka"},
    )


def _voxel_result(variable: str, values: np.ndarray) -> xr.Dataset:
    """Per-voxel values on a 6 x 5 x 1 slice, as from_nifti-based results carry them."""
    i, j = np.meshgrid(np.arange(6), np.arange(5), indexing="ij")
    k = np.zeros_like(i)
    return xr.Dataset(
        {variable: ("unit", values)},
        coords={
            "unit": [f"v{a}_{b}" for a, b in zip(i.ravel(), j.ravel(), strict=True)],
            "i": ("unit", i.ravel()), "j": ("unit", j.ravel()), "k": ("unit", k.ravel()),
            "x": ("unit", 3.0 * i.ravel()), "y": ("unit", 3.0 * j.ravel()),
            "z": ("unit", np.zeros(30)),
        },
        attrs={"affine": (np.diag([3.0, 3.0, 3.0, 1.0])).ravel().tolist(),
               "volume_shape": [6, 5, 1]},
    )


def _captions() -> xr.Dataset:
    units = ["u0", "u1", "u2", "u3"]
    keywords = np.array([
        [["soup", "bread", "spicy"], ["", "", ""]],
        [["guitar", "song", "piano"], ["drum", "album", ""]],
        [["river", "forest", "hill"], ["", "", ""]],
        [["soup", "cake", "baked"], ["", "", ""]],
    ], dtype=object)
    top_text = np.array([
        ["The cook served the spicy soup.", "Fresh bread was baked at dawn."],
        ["She played the guitar at the concert.", "The drum solo closed the album."],
        ["The river ran through the forest.", "They climbed the green hill."],
        ["He baked a sweet cake.", "The soup tasted salty."],
    ], dtype=object)
    g = np.random.default_rng(1)
    return xr.Dataset(
        {
            "caption": ("unit", ["about soup, bread and spicy", "about guitar and drum",
                                 "about river, forest and hill", "about soup, cake and baked"]),
            "n_concepts": ("unit", [1, 2, 1, 1]),
            "keywords": (("unit", "concept", "keyword"), keywords),
            "concept_share": (("unit", "concept"), [[1.0, 0.0], [0.6, 0.4], [1.0, 0.0], [1.0, 0.0]]),
            "top_text": (("unit", "rank"), top_text),
            "top_concept": (("unit", "rank"), [[1, 1], [1, 2], [1, 1], [1, 1]]),
            "projection": (("unit", "feature"), g.normal(size=(4, 6))),
        },
        coords={"unit": units, "rank": [1, 2], "concept": [1, 2],
                "planted": ("unit", ["food", "music", "nature", "food"])},
    )


def _evaluation() -> xr.Dataset:
    models = ["animacy", "categories", "HMAX", "monkey IT"]
    pair = np.array([[np.nan, 0.2, 0.001, 0.4], [0.2, np.nan, 0.01, 0.5],
                     [0.001, 0.01, np.nan, 0.02], [0.4, 0.5, 0.02, np.nan]])
    from neurorep.stats import fdr

    ii, jj = np.triu_indices(4, 1)
    pair_q = pair.copy()  # what rsa.evaluate returns: BH over the model pairs, mirrored
    pair_q[ii, jj] = pair_q[jj, ii] = fdr(pair[ii, jj])
    p = np.array([0.01, 0.01, 0.3, 0.006])
    return xr.Dataset(
        {
            "pvalue_fdr": ("model", fdr(p)),
            "pvalue_pairwise_fdr": (("model", "model_b"), pair_q),
            "score": ("model", [0.39, 0.28, 0.05, 0.33]),
            "ci_low": ("model", [0.11, 0.08, -0.06, 0.14]),
            "ci_high": ("model", [0.66, 0.48, 0.17, 0.53]),
            "pvalue": ("model", p),
            "pvalue_pairwise": (("model", "model_b"), pair),
            "ceiling": ("bound", [0.39, 0.68]),
        },
        coords={"model": models, "model_b": models, "bound": ["lower", "upper"]},
        attrs={"method": "corr"},
    )


# ----------------------------------------------------------------------------
# one case per public plot function: (**kw passed to it, e.g. ax=) -> PlotDisplay
# ----------------------------------------------------------------------------
def _fig(obj: Any) -> Any:
    return obj.figure_


def _plot_score_matrix(**kw: Any) -> Any:
    from neurorep.plotting.alignment import plot_score_matrix

    best = xr.Dataset({"best_layer": ("region", ["conv1", "conv3", "fc2"])},
                      coords={"region": ["V1", "V4", "IT"]})
    scores = _scores()
    scores["score"][1, 4] = np.nan  # a missing cell is hatched, not coloured
    return plot_score_matrix(scores, best=best, **kw)


def _plot_layer_profiles(**kw: Any) -> Any:
    from neurorep.plotting.alignment import plot_layer_profiles

    # two equal ceilings share one line dashed in both colours
    return plot_layer_profiles(_scores().assign(ceiling=("region", [0.8, 0.8, 0.7])), **kw)


def _plot_best_layer_map(**kw: Any) -> Any:
    from neurorep.plotting.alignment import plot_best_layer_map

    depth = np.tile(np.linspace(0, 1, 5), 6)
    return plot_best_layer_map(_voxel_result("best_depth", depth), display_mode="z",
                               cut_coords=[0.0], annotate=False, draw_cross=False, **kw)


def _plot_score_vs_ceiling(**kw: Any) -> Any:
    from neurorep.plotting.encoding import plot_score_vs_ceiling

    g = np.random.default_rng(2)
    ceiling = g.uniform(0.2, 0.9, 60)
    res = xr.Dataset({"score": ("unit", ceiling * g.uniform(0.3, 0.9, 60)),
                      "ceiling": ("unit", ceiling)})
    return plot_score_vs_ceiling(res, **kw)


def _plot_alpha_histogram(**kw: Any) -> Any:
    from neurorep.plotting.encoding import plot_alpha_histogram

    alphas = 10.0 ** np.arange(-2, 7)
    chosen = alphas[np.r_[np.full(5, 2), np.full(12, 3), np.full(20, 4), np.full(8, 5), [8, 8]]]
    return plot_alpha_histogram(xr.Dataset({"alpha": ("unit", chosen)},
                                           attrs={"alphas": alphas.tolist()}), **kw)


def _plot_split_scores(**kw: Any) -> Any:
    from neurorep.plotting.encoding import plot_split_scores

    g = np.random.default_rng(3)
    split = np.abs(g.normal(0.15, 0.1, size=(2, 6))) * [[1.0], [0.6]]
    split[1, :2] = -0.03
    return plot_split_scores(xr.Dataset({"split_score": (("space", "unit"), split)},
                                        coords={"space": ["vision", "language"],
                                                "unit": [f"v{i}" for i in range(6)]}), **kw)


def _plot_score_map(**kw: Any) -> Any:
    from neurorep.plotting.encoding import plot_score_map

    values = np.linspace(-0.4, 0.6, 30)
    res = _voxel_result("score", values)
    return plot_score_map(res.assign(significant=res.score > 0.35), mark="significant", **kw)


def _plot_surface_map(**kw: Any) -> Any:
    # a smooth map on fsaverage5 (shipped with nilearn): distance from a posterior point
    from nilearn.datasets import load_fsaverage

    from neurorep.data import from_surface
    from neurorep.plotting.surface import plot_surface_map

    pial = load_fsaverage("fsaverage5")["pial"]
    maps = [np.cos(np.linalg.norm(pial.parts[h].coordinates - [0, -100, 0], axis=1) / 40.0)
            for h in ("left", "right")]
    score = from_surface(maps[0], maps[1], mesh="fsaverage5").isel(stimulus=0)
    return plot_surface_map(score, title="surface map", **kw)


def _plot_rdm(**kw: Any) -> Any:
    from neurorep.plotting.rsa import plot_rdm

    return plot_rdm(_rdm(), categories="category", title="toy RDM", **kw)


def _plot_mds(**kw: Any) -> Any:
    from neurorep.plotting.rsa import plot_mds

    return plot_mds(_rdm(), categories="category", title="toy MDS", **kw)


def _plot_model_comparison(**kw: Any) -> Any:
    from neurorep.plotting.rsa import plot_model_comparison

    return plot_model_comparison(_evaluation(), title="toy evaluation", **kw)


def _plot_gt_transform(**kw: Any) -> Any:
    from neurorep.plotting.topology import plot_gt_transform

    return plot_gt_transform(_rdm(), **kw)


def _plot_persistence_diagram(**kw: Any) -> Any:
    from neurorep.plotting.topology import plot_persistence_diagram

    return plot_persistence_diagram(_diagram(), **kw)


def _plot_barcode(**kw: Any) -> Any:
    from neurorep.plotting.topology import plot_barcode

    return plot_barcode(_diagram(), **kw)


def _plot_betti_curves(**kw: Any) -> Any:
    from neurorep.plotting.topology import plot_betti_curves

    return plot_betti_curves(_diagram(), **kw)


def _plot_spectrum(**kw: Any) -> Any:
    from neurorep import datasets, hftp
    from neurorep.plotting.hftp import plot_spectrum

    ep = datasets.make_tagged_sequences(
        units={"phrase+sentence": 4, "none": 4},
        conditions={"sentences": ["phrase", "sentence"], "random": []},
        n_trials=8, n_syllables=24, samples_per_syllable=4, snr=1.0, rng=0,
    )
    spec = hftp.compute_spectrum(ep, condition="condition")
    return plot_spectrum(spec, rates={"phrase": 2.0, "sentence": 1.0, "syllable": 4.0},
                         fmax=6.0, **kw)


def _plot_caption_cards(**kw: Any) -> Any:
    from neurorep.plotting.selectivity import plot_caption_cards

    return plot_caption_cards(_captions(), units=["u0", "u1"], label="planted", **kw)


def _plot_concept_map(**kw: Any) -> Any:
    from neurorep.plotting.selectivity import plot_concept_map

    return plot_concept_map(_captions(), color="planted", annotate=2, **kw)


def _time_result() -> xr.Dataset:
    t = np.round(np.arange(-0.1, 0.31, 0.02), 6)
    score = 0.5 + 0.4 * np.clip((t - 0.05) / 0.1, 0, 1) * np.exp(-np.clip(t - 0.15, 0, None) * 3)
    sig = score > 0.6
    return xr.Dataset({"score": ("time", score), "ci_low": ("time", score - 0.05),
                       "ci_high": ("time", score + 0.05), "significant": ("time", sig)},
                      coords={"time": t}, attrs={"chance": 0.5, "scoring": "accuracy"})


def _plot_time_course(**kw: Any) -> Any:
    from neurorep.plotting.time import plot_time_course

    return plot_time_course(_time_result(), **kw)


def _plot_temporal_generalization(**kw: Any) -> Any:
    from neurorep.plotting.time import plot_temporal_generalization

    t = np.round(np.arange(0, 0.3, 0.02), 6)
    d = np.abs(t[:, None] - t[None, :])
    score = 0.5 + 0.4 * np.exp(-d / 0.05) * (t[:, None] > 0.05) * (t[None, :] > 0.05)
    ds = xr.Dataset({"score": (("train_time", "test_time"), score),
                     "significant": (("train_time", "test_time"), score > 0.7)},
                    coords={"train_time": t, "test_time": t}, attrs={"chance": 0.5})
    return plot_temporal_generalization(ds, **kw)


def _plot_topomap(**kw: Any) -> Any:
    from neurorep.plotting.time import plot_topomap

    gx, gy = np.meshgrid(np.linspace(-0.05, 0.05, 4), np.linspace(-0.05, 0.06, 3))
    gx, gy = gx.ravel() + 0.003 * np.arange(12) % 0.007, gy.ravel()
    units = [f"EEG{i:02d}" for i in range(12)]
    x = np.sin(np.arange(12.0))[None, :, None] * np.ones((1, 1, 3))
    ep = xr.DataArray(np.transpose(x, (0, 2, 1)) * 1e-6, dims=("stimulus", "time", "unit"),
                      coords={"stimulus": ["a"], "time": [0.0, 0.01, 0.02], "unit": units,
                              "x": ("unit", gx), "y": ("unit", gy),
                              "z": ("unit", np.sqrt(0.09**2 - gx**2 - gy**2)), "ch_type": ("unit", ["eeg"] * 12)},
                      attrs={"sfreq": 100.0})
    return plot_topomap(ep, time=0.01, **kw)


CASES: dict[str, Callable[..., Any]] = {
    "plot_time_course": _plot_time_course,
    "plot_temporal_generalization": _plot_temporal_generalization,
    "plot_topomap": _plot_topomap,
    "plot_score_matrix": _plot_score_matrix,
    "plot_layer_profiles": _plot_layer_profiles,
    "plot_best_layer_map": _plot_best_layer_map,
    "plot_score_vs_ceiling": _plot_score_vs_ceiling,
    "plot_alpha_histogram": _plot_alpha_histogram,
    "plot_split_scores": _plot_split_scores,
    "plot_score_map": _plot_score_map,
    "plot_surface_map": _plot_surface_map,
    "plot_rdm": _plot_rdm,
    "plot_mds": _plot_mds,
    "plot_model_comparison": _plot_model_comparison,
    "plot_gt_transform": _plot_gt_transform,
    "plot_persistence_diagram": _plot_persistence_diagram,
    "plot_barcode": _plot_barcode,
    "plot_betti_curves": _plot_betti_curves,
    "plot_caption_cards": _plot_caption_cards,
    "plot_concept_map": _plot_concept_map,
    "plot_spectrum": _plot_spectrum,
}


def public_plot_functions() -> set[str]:
    """Every ``plot_*`` function defined in a public module of neurorep.plotting."""
    import neurorep.plotting as plotting

    names = set(plotting.__all__)
    for info in pkgutil.iter_modules(plotting.__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"neurorep.plotting.{info.name}")
        names |= {n for n, obj in vars(module).items()
                  if n.startswith("plot_") and inspect.isfunction(obj)
                  and obj.__module__ == module.__name__}
    return {n for n in names if n.startswith("plot_")}


def render(name: str, path: Path) -> Path:
    """Draw case ``name`` under default rcParams and save it as a PNG at ``DPI``."""
    import matplotlib.pyplot as plt

    with matplotlib.rc_context():
        matplotlib.rcdefaults()
        matplotlib.rcParams["svg.hashsalt"] = "neurorep"
        fig = _fig(CASES[name]())
        try:
            fig.savefig(path, dpi=DPI, metadata={"Software": None})
        finally:
            plt.close(fig)
    return path


# ----------------------------------------------------------------------------
# tests
# ----------------------------------------------------------------------------
def test_every_public_plot_function_has_a_case() -> None:
    missing = public_plot_functions() - set(CASES)
    assert not missing, (
        f"plot functions without an image-regression case: {sorted(missing)}. Add a case to "
        f"CASES in tests/test_plotting_images.py, then run "
        f"`python tests/make_baseline_images.py {' '.join(sorted(missing))}`."
    )


@pytest.mark.parametrize("name", sorted(CASES))
def test_plot_matches_baseline(name: str, tmp_path: Path) -> None:
    from matplotlib.testing.compare import compare_images

    baseline = BASELINE_DIR / f"{name}.png"
    if not baseline.is_file():
        pytest.fail(f"no baseline {baseline}; run `python tests/make_baseline_images.py {name}`")
    actual = render(name, tmp_path / f"{name}.png")
    failure = compare_images(str(baseline), str(actual), tol=TOL)
    assert failure is None, (
        f"{name} no longer matches its baseline (RMS tolerance {TOL}): {failure}\n"
        f"If the change is intended, run `python tests/make_baseline_images.py {name}` and "
        f"look at the new image."
    )


def test_tolerance_detects_a_changed_plot(tmp_path: Path) -> None:
    """The tolerance absorbs font noise, not a different colour map."""
    from matplotlib.testing.compare import compare_images

    from neurorep.plotting.rsa import plot_rdm

    original = CASES["plot_rdm"]
    try:
        CASES["plot_rdm"] = lambda: plot_rdm(_rdm(), categories="category", title="toy RDM",
                                             cmap="magma")
        actual = render("plot_rdm", tmp_path / "plot_rdm.png")
    finally:
        CASES["plot_rdm"] = original
    assert compare_images(str(BASELINE_DIR / "plot_rdm.png"), str(actual), tol=TOL) is not None
