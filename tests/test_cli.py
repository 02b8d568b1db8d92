"""The ``neurorep`` command: datasets list/info/fetch and the offline demo."""

from __future__ import annotations

import subprocess
import sys

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
    assert res.sizes == {"region": 3, "layer": 6}
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
