"""Resumable, verified fetch of the large datasets, offline: a loopback HTTP server with
Range support (and one that breaks off), file:// URLs, the first-download checksum
ledger, corrupted files and checksum mismatches; then each loader reads what was fetched."""

from __future__ import annotations

import hashlib
import http.server
import json
import shutil
import tarfile
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
from test_datasets_large import _mini_bold5000, _mini_things
from test_datasets_nsd import _mini_nsd

from neurorep import ChecksumError, DownloadError, datasets
from neurorep.data import members
from neurorep.datasets import FileEntry, _remote
from neurorep.datasets._fetch import LEDGER, fetch_files


class _Server:
    """Serves a folder over loopback HTTP with byte ranges; can cut the next responses short."""

    def __init__(self, root: Path):
        self.root = root
        self.ranges: list[str | None] = []
        self.cut_after: int | None = None  # send this many bytes of the next response, then hang up
        self.honour_ranges = True
        srv = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                path = srv.root / self.path.lstrip("/")
                srv.ranges.append(self.headers.get("Range"))
                if not path.is_file():
                    self.send_error(404)
                    return
                data = path.read_bytes()
                start = 0
                rng = self.headers.get("Range")
                if rng and srv.honour_ranges:
                    start = int(rng.split("=")[1].split("-")[0])
                    if start >= len(data):
                        self.send_response(416)
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                body = data[start:]
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if srv.cut_after is not None:
                    self.wfile.write(body[: srv.cut_after])
                    self.wfile.flush()
                    self.close_connection = True
                    srv.cut_after = None
                    return
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "served"
    root.mkdir()
    srv = _Server(root)
    yield srv
    srv.server.shutdown()
    srv.server.server_close()


def _serve(server, name: str, content: bytes) -> FileEntry:
    path = server.root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return FileEntry(name, server.url + name)  # no published checksum: first-use ledger


def test_unpublished_checksum_is_recorded_then_verified(server, tmp_path):
    content = np.random.default_rng(0).bytes(50_000)
    entry = _serve(server, "sub/a.bin", content)
    home = tmp_path / "home"
    folder = fetch_files("big", [entry], data_home=home)
    target = folder / "sub" / "a.bin"
    assert target.read_bytes() == content
    ledger = json.loads((folder / LEDGER).read_text())
    assert ledger["sub/a.bin"]["sha256"] == hashlib.sha256(content).hexdigest()
    assert ledger["sub/a.bin"]["size"] == len(content)
    # present and verified: not downloaded again
    n_requests = len(server.ranges)
    fetch_files("big", [entry], data_home=home)
    assert len(server.ranges) == n_requests
    # the copy on disk goes bad: the error names the file and the fix, the copy is untouched
    target.write_bytes(content[:-1] + b"\x00")
    with pytest.raises(ChecksumError, match=r"a\.bin.*first download recorded.*redownload=True") as err:
        fetch_files("big", [entry], data_home=home)
    assert str(target) in str(err.value)
    assert target.read_bytes() != content
    fetch_files("big", [entry], data_home=home, redownload=True)
    assert target.read_bytes() == content
    assert not target.with_name("a.bin.part").exists()


def test_broken_off_download_is_resumed_with_a_range_request(server, tmp_path):
    content = np.random.default_rng(1).bytes(400_000)
    entry = _serve(server, "s.h5", content)
    home = tmp_path / "home"
    server.cut_after = 150_000
    with pytest.raises(DownloadError, match=r"s\.h5.*partial download is kept.*resumes it"):
        fetch_files("big", [entry], data_home=home)
    final, part = home / "big" / "s.h5", home / "big" / "s.h5.part"
    assert not final.exists()  # never a half-written file at the final path
    kept = part.stat().st_size
    assert 0 < kept <= 150_000  # what arrived, up to the last whole block
    fetch_files("big", [entry], data_home=home)
    assert server.ranges[-1] == f"bytes={kept}-"
    assert final.read_bytes() == content and not part.exists()
    # the ledger holds the hash of the whole file, not of the first part
    ledger = json.loads((home / "big" / LEDGER).read_text())
    assert ledger["s.h5"]["sha256"] == hashlib.sha256(content).hexdigest()


def test_server_without_ranges_restarts_the_download(server, tmp_path):
    content = b"0123456789" * 3000
    entry = _serve(server, "f.bin", content)
    home = tmp_path / "home"
    server.cut_after, server.honour_ranges = 1000, False
    with pytest.raises(DownloadError):
        fetch_files("big", [entry], data_home=home)
    fetch_files("big", [entry], data_home=home)  # 200 to a Range request: written from scratch
    assert (home / "big" / "f.bin").read_bytes() == content


def test_checksum_mismatch_keeps_nothing(server, tmp_path):
    content = b"the real bytes"
    _serve(server, "x.csv", content)
    wrong = FileEntry("x.csv", server.url + "x.csv", sha256="0" * 64, size=len(content))
    home = tmp_path / "home"
    with pytest.raises(ChecksumError, match=r"x\.csv.*sha256.*nothing was kept.*was not written"):
        fetch_files("tiny", [wrong], data_home=home)
    assert not home.joinpath("tiny").exists()
    md5_wrong = FileEntry("x.csv", server.url + "x.csv", md5="f" * 32)
    with pytest.raises(ChecksumError, match="md5"):
        fetch_files("tiny", [md5_wrong], data_home=home)
    ok = FileEntry("x.csv", server.url + "x.csv", md5=hashlib.md5(content).hexdigest())
    assert (fetch_files("tiny", [ok], data_home=home) / "x.csv").read_bytes() == content


def test_size_mismatch_of_an_existing_file_names_it(tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(b"abcdef")
    entry = FileEntry("d/src.bin", src.as_uri(), size=6)  # a file:// URL
    home = tmp_path / "home"
    fetch_files("loc", [entry], data_home=home)
    (home / "loc" / "d" / "src.bin").write_bytes(b"abc")  # cut short
    with pytest.raises(ChecksumError, match=r"src\.bin' has 3 bytes, but 6 are expected.*redownload"):
        fetch_files("loc", [entry], data_home=home)


def test_optional_file_missing_on_the_server_is_skipped(server, tmp_path):
    entries = [_serve(server, "need.txt", b"x"), FileEntry("names.ctab", server.url + "names.ctab", optional=True)]
    folder = fetch_files("d", entries, data_home=tmp_path)
    assert (folder / "need.txt").exists() and not (folder / "names.ctab").exists()
    with pytest.raises(DownloadError, match=r"names\.ctab.*404"):
        fetch_files("d", [FileEntry("names.ctab", server.url + "names.ctab")], data_home=tmp_path)


def test_subjects_and_sessions_only_for_the_large_datasets(tmp_path):
    with pytest.raises(ValueError, match="fetched as a whole"):
        datasets.fetch("pereira2018", subjects=[1], data_home=tmp_path)
    with pytest.raises(ValueError, match=r"sessions must be 1\.\.30 for subj04"):
        datasets.fetch("nsd", subjects=[4], sessions=[31], data_home=tmp_path)
    with pytest.raises(ValueError, match="subjects must be among"):
        datasets.fetch("things_fmri", subjects=[4], data_home=tmp_path)


def test_nsd_without_subjects_or_sessions_refuses_the_full_download(server, tmp_path,
                                                                     monkeypatch, capsys):
    """Hundreds of GB are never downloaded by omission: the error states the size from the
    manifest and the two ways on; nothing is requested from the server or written."""
    from neurorep.cli import main

    size = datasets.get_manifest("nsd").download_size
    assert "GB" in size
    for call in (lambda: datasets.fetch("nsd", data_home=tmp_path),
                 lambda: datasets.fetch_nsd(tmp_path)):
        with pytest.raises(ValueError, match=r"284 sessions.*450 GB.*subjects=\[1\].*subjects='all'"):
            call()
    assert not (tmp_path / "nsd").exists()
    assert main(["datasets", "fetch", "nsd", "--data-home", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "450 GB" in err and "--subjects all" in err and "--subjects 1 --sessions 1 2" in err
    assert not (tmp_path / "nsd").exists()
    # choosing subjects, sessions, or 'all' on purpose selects the files as before
    assert len(_remote.nsd_files("all", [1])) == len(_remote.nsd_files(None, [1]))
    assert [f.name for f in _remote.nsd_files([2], "all")] == [f.name for f in _remote.nsd_files([2])]
    with pytest.raises(ValueError, match="subject numbers.*or 'all'; got 'every'"):
        datasets.fetch_nsd(tmp_path, subjects="every")
    with pytest.raises(ValueError, match="session numbers.*or 'all'; got 'al'"):
        datasets.fetch_nsd(tmp_path, subjects=[1], sessions="al")
    assert main(["datasets", "fetch", "nsd", "--subjects", "all", "1", "--data-home",
                 str(tmp_path)]) == 1
    assert "either numbers or 'all'" in capsys.readouterr().err
    assert main(["datasets", "info", "nsd"]) == 0
    assert "download size: about 450 GB" in capsys.readouterr().out


def test_fetch_nsd_cli_with_subjects_and_sessions(server, tmp_path, monkeypatch, capsys):
    from neurorep.cli import main

    _mini_nsd(server.root)
    roi = server.root / "nsd/nsddata/ppdata/subj01/func1pt8mm/roi"
    shutil.copy(roi / "streams.nii.gz", roi / "nsdgeneral.nii.gz")  # the default ROI
    real = _remote.nsd_files
    monkeypatch.setattr(_remote, "nsd_files", lambda *a, **k: real(
        *a, **{**k, "base_url": server.url + "nsd/"}))
    home = tmp_path / "home"
    assert main(["datasets", "fetch", "nsd", "--subjects", "1", "--sessions", "1", "2",
                 "--data-home", str(home)]) == 0
    assert "files verified" in capsys.readouterr().out
    assert (home / "nsd/nsddata_betas/ppdata/subj01/func1pt8mm/betas_fithrf_GLMdenoise_RR"
            "/betas_session02.hdf5").is_file()


def test_nsd_file_list_is_the_public_bucket_layout():
    files = _remote.nsd_files([2], [3])
    names = [f.name for f in files]
    assert "nsddata_betas/ppdata/subj02/func1pt8mm/betas_fithrf_GLMdenoise_RR/betas_session03.hdf5" in names
    assert all(f.url == "https://natural-scenes-dataset.s3.amazonaws.com/" + f.name for f in files)
    assert not any("session01" in n or "session04" in n for n in names)  # only what was asked
    surf = [f.name for f in _remote.nsd_files([1], [1, 2], space="fsaverage")]
    assert sum(".betas_session" in n for n in surf) == 4  # lh + rh per session


def test_fetch_nsd_then_load(server, tmp_path):
    mini = _mini_nsd(server.root)  # the miniature layout, served as the bucket
    (server.root / "nsd" / "nsddata/freesurfer/subj01/label/streams.mgz.ctab").unlink()  # optional
    entries = _remote.nsd_files([1], [1, 2], rois=["streams"], base_url=server.url + "nsd/")
    home = tmp_path / "home"
    fetch_files("nsd", entries, data_home=home)
    assert not list((home / "nsd").rglob("*.part"))
    resp = members(datasets.load_nsd(home, sessions=[1, 2], roi="streams", captions=False))["subj01"]
    nsd_ids = mini["subjectim"][0, mini["order"][:1500] - 1] - 1
    assert resp.sizes["stimulus"] == len(np.unique(nsd_ids))
    ledger = json.loads((home / "nsd" / LEDGER).read_text())
    assert len(ledger) == len(entries) - 1  # every fetched file, not the missing optional one


def _zip_folder(folder: Path, dest: Path) -> None:
    with zipfile.ZipFile(dest, "w") as z:
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                z.write(p, p.relative_to(folder))


def test_fetch_bold5000_unpacks_the_subjects_asked_for(server, tmp_path, monkeypatch):
    build = tmp_path / "build"
    _, stim = _mini_bold5000(build)
    (build / "bold5000/ROIs/CSI2/mat").mkdir(parents=True)
    (build / "bold5000/ROIs/CSI2/mat/CSI2_ROIs_TR34.mat").write_bytes(b"other subject")
    _zip_folder(build / "bold5000", server.root / "rois.zip")
    monkeypatch.setattr(_remote, "BOLD5000_URL", server.url + "rois.zip")
    home = tmp_path / "home"
    datasets.fetch("bold5000", subjects=[1], data_home=home)
    assert not (home / "bold5000/ROIs/CSI2").exists()
    assert not list((home / "bold5000").glob(".unpack-*"))
    resp = members(datasets.load_bold5000(home))["CSI1"]
    assert resp.sizes["stimulus"] == len(set(stim))
    # a subject the archive lacks: a clear error naming the archive
    with pytest.raises(Exception, match=r"BOLD5000_ROIs\.zip.*does not hold.*CSI3"):
        datasets.fetch_bold5000(home, subjects=[3])


def test_fetch_things_fmri_from_a_tarball(server, tmp_path, monkeypatch):
    build = tmp_path / "build"
    betas, _ = _mini_things(build)
    with tarfile.open(server.root / "betas.tgz", "w:gz") as t:  # the release is a gzipped tar
        t.add(build / "things_fmri" / "betas_csv", arcname="betas_csv")
    monkeypatch.setattr(_remote, "THINGS_FMRI_URL", server.url + "betas.tgz")
    home = tmp_path / "home"
    datasets.fetch_things_fmri(home, subjects=[1])
    resp = members(datasets.load_things_fmri(home, roi="V1"))["sub-01"]
    assert resp.sizes["unit"] == 2
    # a damaged archive at the final path is caught before it is unpacked again
    archive = home / "things_fmri" / "betas_csv.zip"
    archive.write_bytes(archive.read_bytes()[:100])
    (home / "things_fmri/betas_csv/sub-01_ResponseData.h5").unlink()
    with pytest.raises(ChecksumError, match=r"betas_csv\.zip.*has 100 bytes"):
        datasets.fetch_things_fmri(home, subjects=[1])


def test_cli_fetches_by_subject(server, tmp_path, monkeypatch, capsys):
    from neurorep.cli import main

    build = tmp_path / "build"
    _mini_bold5000(build)
    _zip_folder(build / "bold5000", server.root / "rois.zip")
    monkeypatch.setattr(_remote, "BOLD5000_URL", server.url + "rois.zip")
    home = tmp_path / "home"
    assert main(["datasets", "fetch", "bold5000", "--subjects", "1", "--data-home", str(home)]) == 0
    assert "files verified" in capsys.readouterr().out
    assert (home / "bold5000/ROIs/CSI1/mat/CSI1_ROIs_TR34.mat").is_file()
    (home / "bold5000/BOLD5000_ROIs.zip").write_bytes(b"damaged")
    assert main(["datasets", "fetch", "bold5000", "--subjects", "1", "--data-home", str(home)]) == 1
    assert "redownload=True" in capsys.readouterr().err
    assert main(["datasets", "fetch", "bold5000", "--subjects", "1", "--redownload", "--data-home", str(home)]) == 0
