"""neurorep.datasets: manifests, checksummed fetch (loopback HTTP), loaders, simulators."""

from __future__ import annotations

import hashlib
import http.server
import os
import pickle
import shutil
import socket
import threading
from pathlib import Path

import numpy as np
import pytest

from neurorep import ChecksumError, DownloadError, UnsafeFileError, data, datasets
from neurorep.datasets import FileEntry, Manifest

MIRRORED = [
    "kriegeskorte2008_92img",
    "cichy2014_92img",
    "pereira2018",
    "tuckute2024",
    "ejaz2015_finger7T",
    "allen_mouse_natscenes",
    "allen_visp_212cells",
    "haxby2001_subj1_slice",
    "zhang2011_it_7objects",
    "mne_evoked_audvis",
]
REMOTE = ["nsd", "bold5000", "things_eeg2", "alljoined", "algonauts2023", "allen_brain_observatory", "pereira2018_full"]


# ----------------------------------------------------------------------------- manifests
def test_every_dataset_has_a_complete_manifest():
    names = datasets.list_datasets()
    for name in MIRRORED + REMOTE:
        assert name in names
        m = datasets.get_manifest(name)
        assert m.title and m.license and m.citation and m.source
    for name in MIRRORED:
        m = datasets.get_manifest(name)
        assert m.fetchable and m.loader == f"load_{name}"
        for f in m.files:
            assert len(f.sha256) == 64 and f.url.startswith("https://") and f.size > 0


def test_unknown_dataset_lists_names():
    with pytest.raises(KeyError, match="known datasets"):
        datasets.get_manifest("nope")


def test_remote_only_dataset_explains_access(tmp_path):
    with pytest.raises(RuntimeError, match="cannot be fetched automatically.*data form"):
        datasets.fetch("algonauts2023", data_home=tmp_path)
    with pytest.raises(ValueError, match="no local loader"):
        datasets.load("alljoined", data_home=tmp_path)
    # nsd has a loader of its own layout now: an empty data home names the missing files
    with pytest.raises(FileNotFoundError, match=r"betas_session01\.hdf5.*natural-scenes-dataset"):
        datasets.load("nsd", data_home=tmp_path)


# ----------------------------------------------------------------------------- fetch
@pytest.fixture
def http_dir(tmp_path):
    """A loopback HTTP server over a folder: the real download path, no internet."""
    root = tmp_path / "served"
    root.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **k):
            super().__init__(*a, directory=str(root), **k)

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _manifest(url: str, content: bytes, sha: str | None = None) -> Manifest:
    return Manifest(
        name="tiny",
        title="t",
        modality="m",
        stimuli="s",
        license="l",
        citation=("c",),
        source="here",
        files=(FileEntry("tiny.csv", f"{url}/tiny.csv", sha or hashlib.sha256(content).hexdigest(), len(content)),),
    )


def test_fetch_downloads_and_verifies(http_dir, tmp_path):
    root, url = http_dir
    content = b"a,b\n1,2\n"
    (root / "tiny.csv").write_bytes(content)
    home = tmp_path / "home"
    folder = datasets.fetch(_manifest(url, content), data_home=home)
    assert (folder / "tiny.csv").read_bytes() == content
    # second call: verified, not downloaded again
    (root / "tiny.csv").unlink()
    assert datasets.fetch(_manifest(url, content), data_home=home) == folder


def test_fetch_defaults_to_the_data_home(http_dir, tmp_path, monkeypatch):
    root, url = http_dir
    (root / "tiny.csv").write_bytes(b"x\n")
    monkeypatch.setenv("NEUROREP_DATA", str(tmp_path / "env_home"))
    folder = datasets.fetch(_manifest(url, b"x\n"))
    assert folder == tmp_path / "env_home" / "tiny" and (folder / "tiny.csv").exists()


def test_fetch_wrong_checksum_leaves_nothing(http_dir, tmp_path):
    root, url = http_dir
    (root / "tiny.csv").write_bytes(b"tampered")
    home = tmp_path / "home"
    with pytest.raises(ChecksumError, match="nothing was kept"):
        datasets.fetch(_manifest(url, b"x", sha="0" * 64), data_home=home)
    assert not (home / "tiny").exists()  # not even the empty dataset folder


_real_fetch = datasets.fetch


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_fetch_unreachable_server_is_a_clear_download_error(tmp_path):
    url = f"http://127.0.0.1:{_closed_port()}/mirror"
    home = tmp_path / "home"
    with pytest.raises(DownloadError) as info:
        datasets.fetch(_manifest(url, b"a,b\n"), data_home=home)
    msg = str(info.value)
    assert msg.startswith("tiny: could not download tiny.csv")  # the dataset and the file
    assert f"{url}/tiny.csv" in msg  # the URL
    assert "internet connection" in msg and "data_home=" in msg and "load('tiny'" in msg  # the fix
    assert isinstance(info.value, OSError)
    assert not home.exists() or not any(home.rglob("*"))  # nothing left behind


def test_fetch_missing_file_on_server_is_a_download_error(http_dir, tmp_path):
    _, url = http_dir  # the server runs, but has no tiny.csv: HTTP 404
    with pytest.raises(DownloadError, match=r"HTTPError.*404"):
        datasets.fetch(_manifest(url, b"abc"), data_home=tmp_path / "home")


def test_fetch_broken_off_download_leaves_no_file(tmp_path):
    """The server promises 4000 bytes, sends 100 and hangs up."""

    class Truncating(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", "4000")
            self.end_headers()
            self.wfile.write(b"x" * 100)
            self.wfile.flush()
            self.close_connection = True

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Truncating)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        home = tmp_path / "home"
        (home / "tiny").mkdir(parents=True)  # an existing dataset folder is kept, empty
        with pytest.raises(DownloadError, match="nothing was kept"):
            datasets.fetch(_manifest(url, b"x" * 4000), data_home=home)
        assert list((home / "tiny").iterdir()) == []
    finally:
        server.shutdown()


def test_cli_fetch_network_error_is_one_line(tmp_path, monkeypatch, capsys):
    from neurorep.cli import main

    url = f"http://127.0.0.1:{_closed_port()}"
    monkeypatch.setattr(datasets, "fetch", lambda name, **kw: _real_fetch(_manifest(url, b"z"), **kw))
    assert main(["datasets", "fetch", "pereira2018", "--data-home", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("neurorep: error: tiny: could not download") and "Traceback" not in err


def test_fetch_refuses_existing_corrupted_file(tmp_path):
    home = tmp_path / "home"
    (home / "tiny").mkdir(parents=True)
    (home / "tiny" / "tiny.csv").write_bytes(b"corrupt")
    with pytest.raises(ChecksumError, match="delete it"):
        datasets.fetch(_manifest("http://127.0.0.1:9", b"good"), data_home=home)
    assert (home / "tiny" / "tiny.csv").read_bytes() == b"corrupt"


def test_load_detects_corrupted_copy(data_home, tmp_path):
    src = data_home / "pereira2018_langnet_sentence_avg"
    dst = tmp_path / "pereira2018_langnet_sentence_avg"
    shutil.copytree(src, dst)
    with open(dst / "pereira_averaged.csv", "a") as f:
        f.write("\n")
    # a size that differs is caught before hashing; the message names the file and the fix
    with pytest.raises(ChecksumError, match=r"pereira_averaged\.csv' has 53693 bytes.*delete it"):
        datasets.load("pereira2018", data_home=tmp_path)
    (dst / "pereira_averaged.csv").write_bytes((src / "pereira_averaged.csv").read_bytes().replace(b"a", b"e", 1))
    with pytest.raises(ChecksumError, match="sha256"):
        datasets.load("pereira2018", data_home=tmp_path)


def test_load_missing_files_says_how_to_fetch(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"fetch\('pereira2018'"):
        datasets.load("pereira2018", data_home=tmp_path)


# ----------------------------------------------------------------------------- loaders
@pytest.mark.parametrize("name", MIRRORED)
def test_loader_returns_schema_valid_objects(data_home, name):
    tree = datasets.load(name, data_home=data_home)
    assert tree.attrs["dataset"] == name and tree.attrs["citation"]
    mem = data.members(tree)
    assert mem
    for key, da in mem.items():
        data.validate(da, name=key)


def test_kriegeskorte_contents(data_home):
    mem = data.members(datasets.load("kriegeskorte2008_92img", data_home=data_home))
    hit = mem["human_IT"]
    assert hit.dims == ("subject", "session", "stimulus_i", "stimulus_j")
    assert hit.shape == (4, 2, 92, 92)
    assert list(hit.subject.values) == ["BE", "KO", "SN", "TI"]
    assert int(hit.animate.sum()) == 48  # 48 animate, 44 inanimate images
    assert {k for k in mem if k.startswith("models/")} >= {"models/animacy", "models/EVA", "models/HMAX"}
    assert {k.split("/")[1] for k in mem if k.startswith("alexnet/")} >= {"conv1", "conv5", "fc8"}
    assert mem["behaviour"].sizes["subject"] == 16


def test_cichy_orders_match_kriegeskorte(data_home):
    """The two 92-image sets share ids and order: their IT RDMs agree (Spearman ~0.5)."""
    from scipy.stats import spearmanr

    cichy = data.members(datasets.load("cichy2014_92img", data_home=data_home))
    krieg = data.members(datasets.load("kriegeskorte2008_92img", data_home=data_home))
    assert cichy["IT"].shape == (15, 92, 92)
    iu = np.triu_indices(92, 1)
    a = cichy["IT"].mean("subject").values[iu]
    b = krieg["human_IT"].mean(("subject", "session")).values[iu]
    assert spearmanr(a, b).statistic > 0.4
    assert cichy["IT"].image.values[0].endswith("image_01.jpg")


def test_sentence_datasets(data_home):
    per = data.members(datasets.load("pereira2018", data_home=data_home))["language"]
    assert per.shape == (627, 1)
    assert per.text.values[0].startswith("A banana is a long fruit")
    tuc = data.members(datasets.load("tuckute2024", data_home=data_home))["language"]
    assert tuc.shape == (2000, 1)
    assert set(np.unique(tuc.condition.values)) == {"drive", "suppress", "baseline"}
    # drive sentences drive the language network more than suppress sentences
    drive = float(tuc.where(tuc.condition == "drive", drop=True).mean())
    suppress = float(tuc.where(tuc.condition == "suppress", drop=True).mean())
    assert drive > suppress


def test_finger_and_haxby_and_allen(data_home):
    fing = data.members(datasets.load("ejaz2015_finger7T", data_home=data_home))
    s1 = fing["subj01"]
    assert s1.dims == ("stimulus", "repetition", "unit") and s1.shape == (5, 8, 1946)
    assert fing["subj02"].shape == (5, 7, 1657)
    assert fing["models/muscle"].shape == (5, 5)
    hax = data.members(datasets.load("haxby2001_subj1_slice", data_home=data_home))["bold"]
    assert hax.shape == (1452, 530) and hax.dims == ("time", "unit")
    assert set(np.unique(hax.run.values)) == set(range(12))
    assert (hax.label.values == "face").sum() == 108
    allen = data.members(datasets.load("allen_mouse_natscenes", data_home=data_home))
    assert len(allen) == 21 and allen["VISp/layer23"].shape == (119, 119)
    assert 0 < allen["VISp/layer23"].attrs["ceiling"] < 1


VISP = "allen_visp_212cells_118scenes_psailamul"


def test_allen_visp_212cells_pairs_responses_with_scenes_by_thumbnail(data_home):
    """Rows of the shuffled train/test files land on the scene their thumbnail equals."""
    folder = data_home / VISP
    mem = data.members(datasets.load("allen_visp_212cells", data_home=data_home))
    visp, pixels = mem["VISp"], mem["pixels"]
    assert visp.dims == ("stimulus", "unit") and visp.shape == (118, 212)
    assert list(visp.stimulus.values) == [f"scene{i:03d}" for i in range(118)]
    # the same scene ids as the Allen area RDMs (without the blank)
    allen = data.members(datasets.load("allen_mouse_natscenes", data_home=data_home))
    assert list(allen["VISp/layer23"].stimulus_i.values[:118]) == list(visp.stimulus.values)
    assert (visp.split.values == "train").sum() == 100 and (visp.split.values == "test").sum() == 18
    assert set(visp.region.values) == {"VISp"}
    scenes = np.load(folder / "all_input_scenes_118_961.npy")
    np.testing.assert_array_equal(pixels.values, scenes)
    assert pixels.values.reshape(-1, 31, 31)[5, 3, 7] == scenes[5, 3 * 31 + 7]
    assert int(pixels.y.values[40]) == 1 and int(pixels.x.values[40]) == 9
    # every source row is found under its scene id, in both splits
    for split in ("train", "test"):
        inputs = np.load(folder / f"Allen_{split}_input.npy")
        outputs = np.load(folder / f"Allen_{split}_output.npy")
        for row in (0, len(inputs) - 1):
            k = int(np.flatnonzero((scenes == inputs[row]).all(1))[0])
            np.testing.assert_array_equal(visp.values[k], outputs[row])
            assert visp.split.values[k] == split


def _visp_copy(data_home, tmp_path, edit):
    """A copy of the mirror folder with one file edited (checksums skipped on load)."""
    dst = tmp_path / VISP
    shutil.copytree(data_home / VISP, dst)
    edit(dst)
    return tmp_path


def test_allen_visp_212cells_refuses_rows_that_match_no_scene(data_home, tmp_path):
    def perturb(folder):
        x = np.load(folder / "Allen_test_input.npy")
        x[3, 0] += 1.0  # a thumbnail that equals no scene
        (folder / "Allen_test_input.npy").chmod(0o644)
        np.save(folder / "Allen_test_input.npy", x)

    home = _visp_copy(data_home, tmp_path, perturb)
    with pytest.raises(ChecksumError):
        datasets.load("allen_visp_212cells", data_home=home)
    with pytest.raises(ValueError, match=r"rows \[3\] of Allen_test_input.npy match \[0\]"):
        datasets.load("allen_visp_212cells", data_home=home, verify=False)


def test_allen_visp_212cells_refuses_a_scene_in_both_splits(data_home, tmp_path):
    def duplicate(folder):
        train = np.load(folder / "Allen_train_input.npy")
        test = np.load(folder / "Allen_test_input.npy")
        test[0] = train[0]  # scene of train row 0 now in both splits; another scene in none
        (folder / "Allen_test_input.npy").chmod(0o644)
        np.save(folder / "Allen_test_input.npy", test)

    home = _visp_copy(data_home, tmp_path, duplicate)
    with pytest.raises(ValueError, match="appear .* times across the train and test files"):
        datasets.load("allen_visp_212cells", data_home=home, verify=False)


# ----------------------------------------------------------------------------- pickles never run code
ALLEN = "allen_mouse_natscenes_rdms_conwell"


class _TouchFile:
    """A pickle payload that creates a file when unpickled with pickle.load."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


class _OpenForWriting:
    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_restricted_unpickler_reads_the_real_pickles(data_home):
    from neurorep.datasets._pickle import load_pickle

    allen = data_home / ALLEN / "rdms_reliable.pkl"
    finger = data_home / "ejaz2015_finger7T_pcmpy" / "data_demo_finger7T.p"
    for path in (allen, finger):
        with open(path, "rb") as f:  # trusted, checksummed mirror files: the reference reader
            ref = pickle.load(f)  # noqa: S301
        got = load_pickle(path)
        assert type(got) is type(ref)
        flat_ref, flat_got = _leaves(ref), _leaves(got)
        assert [k for k, _ in flat_got] == [k for k, _ in flat_ref] and flat_got
        for (_, a), (_, b) in zip(flat_got, flat_ref, strict=True):
            np.testing.assert_array_equal(a, b)


def _leaves(obj, prefix=()):
    if isinstance(obj, dict):
        return [x for k in obj for x in _leaves(obj[k], (*prefix, k))]
    if isinstance(obj, list | tuple):
        return [x for i, v in enumerate(obj) for x in _leaves(v, (*prefix, i))]
    return [(prefix, obj)]


@pytest.mark.parametrize("payload", [_TouchFile, _OpenForWriting])
@pytest.mark.parametrize("protocol", [0, 2, 5])
def test_crafted_pickle_raises_and_runs_nothing(tmp_path, payload, protocol):
    from neurorep.datasets._pickle import load_pickle

    marker = tmp_path / "side_effect"
    crafted = tmp_path / "rdms_reliable.pkl"
    crafted.write_bytes(pickle.dumps({"VISp": {"layer23": payload(marker)}}, protocol=protocol))
    with pytest.raises(UnsafeFileError, match=r"asks to load .*(system|open).*plain containers"):
        load_pickle(crafted)
    assert not marker.exists()


def test_allen_loader_never_unpickles_an_unverified_file(data_home, tmp_path):
    home = tmp_path / "home"
    shutil.copytree(data_home / ALLEN, home / ALLEN)
    marker = tmp_path / "side_effect"
    (home / ALLEN / "rdms_reliable.pkl").chmod(0o644)
    (home / ALLEN / "rdms_reliable.pkl").write_bytes(pickle.dumps({"VISp": _TouchFile(marker)}))
    for verify in (True, False):
        with pytest.raises(ChecksumError, match="rdms_reliable.pkl"):
            datasets.load("allen_mouse_natscenes", data_home=home, verify=verify)
        assert not marker.exists()
    # verify=False still reads a genuine copy (through the restricted unpickler)
    shutil.copyfile(data_home / ALLEN / "rdms_reliable.pkl", home / ALLEN / "rdms_reliable.pkl")
    allen = data.members(datasets.load("allen_mouse_natscenes", data_home=home, verify=False))
    assert allen["VISal/layer4"].shape == (119, 119)


# ----------------------------------------------------------------------------- simulators
def test_layered_brain_recovers_planted_layers_with_ridge():
    """A simple estimator (ridge R^2 per layer) finds each region's planted layer."""
    from sklearn.linear_model import RidgeCV
    from sklearn.model_selection import cross_val_score

    sim = datasets.make_layered_brain(n_stimuli=150, n_units=20, noise=0.5, rng=3)
    truth = sim["truth"].to_dataset()
    layers = data.members(sim["model"])
    for region, da in data.members(sim["brain"]).items():
        y = da.mean("repetition").values
        r2 = {
            name: cross_val_score(RidgeCV(alphas=np.logspace(-2, 4, 7)), a.values, y, cv=5).mean()
            for name, a in layers.items()
        }
        assert max(r2, key=r2.get) == str(truth.best_layer.sel(region=region).item())


def test_layered_brain_ceiling_matches_split_half():
    sim = datasets.make_layered_brain(n_stimuli=400, n_units=30, noise=1.0, n_repetitions=4, rng=0)
    da = data.members(sim["brain"])["early"]
    a = da.isel(repetition=[0, 2]).mean("repetition").values
    b = da.isel(repetition=[1, 3]).mean("repetition").values
    r_half = np.mean([np.corrcoef(a[:, u], b[:, u])[0, 1] for u in range(a.shape[1])])
    ceiling_r2 = 2 * r_half / (1 + r_half)  # Spearman-Brown: reliability of the 4-rep mean
    expected = float(sim["truth"].to_dataset().ceiling[0]) ** 2
    assert abs(ceiling_r2 - expected) < 0.05


def test_layered_brain_bad_layer_name():
    with pytest.raises(KeyError, match="unknown layer"):
        datasets.make_layered_brain(regions={"V1": "nope"}, n_stimuli=20, rng=0)


def test_ring_and_clusters_geometry():
    ring = datasets.make_ring(40, noise=0.0, rng=0)
    norms = np.linalg.norm(ring.values, axis=1)
    np.testing.assert_allclose(norms, 1.0, atol=1e-12)
    cl = datasets.make_clusters(3, 10, separation=20.0, rng=0)
    x = cl.values
    lab = cl.cluster.values
    within = np.linalg.norm(x[lab == 0][:, None] - x[lab == 0][None], axis=-1).max()
    between = np.linalg.norm(x[lab == 0][:, None] - x[lab == 1][None], axis=-1).min()
    assert between > 3 * within


def test_default_data_home_is_the_environment_variable_then_the_user_cache(monkeypatch, tmp_path):
    """NEUROREP_DATA, else pooch's per-user cache -- never the checkout's location."""
    import pooch

    monkeypatch.setenv("NEUROREP_DATA", str(tmp_path / "mirror"))
    assert datasets.default_data_home() == tmp_path / "mirror"
    monkeypatch.setenv("NEUROREP_DATA", "~/nr")
    assert datasets.default_data_home() == Path("~/nr").expanduser()
    monkeypatch.delenv("NEUROREP_DATA")
    assert datasets.default_data_home() == Path(pooch.os_cache("neurorep"))
    monkeypatch.setenv("NEUROREP_DATA", "")  # empty: unset
    assert datasets.default_data_home() == Path(pooch.os_cache("neurorep"))


def test_fetch_and_load_default_to_the_data_home(monkeypatch, tmp_path):
    monkeypatch.setenv("NEUROREP_DATA", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "pereira2018_langnet")):
        datasets.load("pereira2018")


def test_sha256sum_is_the_file_hash_fetch_verifies(tmp_path):
    f = tmp_path / "blob.bin"
    content = bytes(range(256)) * 5000  # more than one read chunk
    f.write_bytes(content)
    assert datasets.sha256sum(f) == hashlib.sha256(content).hexdigest()
    assert datasets.sha256sum(str(f)) == hashlib.sha256(content).hexdigest()


def test_loaders_come_from_the_manifests_loader_field(monkeypatch):
    from neurorep.datasets import _loaders

    named = {n: datasets.get_manifest(n).loader for n in datasets.list_datasets()}
    assert {n for n, loader in named.items() if loader} == set(datasets.LOADERS)
    for name, fn in datasets.LOADERS.items():
        assert fn.__name__ == named[name] and getattr(datasets, fn.__name__) is fn
    # every public loader serves a manifest: none is dead code
    assert set(_loaders._loader_functions()) == {v for v in named.values() if v}
    # a manifest naming a loader neurorep lacks is an error that names the file to fix
    functions = _loaders._loader_functions()
    del functions["load_pereira2018"]
    monkeypatch.setattr(_loaders, "_loader_functions", lambda: functions)
    _loaders.loaders.cache_clear()
    try:
        with pytest.raises(RuntimeError, match=r"'pereira2018' names loader='load_pereira2018'"):
            datasets.load("pereira2018")
    finally:
        monkeypatch.undo()
        _loaders.loaders.cache_clear()
    assert "pereira2018" in datasets.LOADERS
