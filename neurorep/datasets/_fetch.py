"""Checksummed, resumable downloads and the local data home.

Design (the same for every dataset):

* a file is downloaded to ``<file>.part`` next to its final path and moved
  into place (``os.replace``) only after it verified, so a final path never
  holds a half-written file;
* an interrupted download keeps its ``.part``; the next fetch resumes it with
  an HTTP ``Range`` request (or starts again when the server ignores ranges);
* verification: the size where it is known, then the sha256 or md5 the
  source publishes; where none is published (NSD on S3, the figshare
  archives) the sha256 of the first complete download is recorded in
  ``<dataset folder>/.neurorep-checksums.json`` and every later fetch
  verifies the file against it (trust on first use: a first download is
  checked only against the server's Content-Length);
* a file at its final path that fails verification is corrupted: ``fetch``
  raises ChecksumError naming it, or with ``redownload=True`` downloads it
  again and replaces it once the new copy verified;
* ``file://`` URLs work like ``https://`` ones (local mirrors, tests).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tarfile
import zipfile
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from neurorep._core.errors import ChecksumError, DownloadError, SchemaError
from neurorep.datasets._manifest import FileEntry, Manifest, get_manifest

#: The file in a dataset folder that records the sha256 of every file whose
#: source publishes no checksum, computed at its first download.
LEDGER = ".neurorep-checksums.json"
_CHUNK = 1 << 16

#: The environment variable naming the default data home. :func:`default_data_home` is the
#: one place neurorep reads the environment (as pooch's ``os_cache`` and scikit-learn's
#: ``SCIKIT_LEARN_DATA``): where data live is a property of the machine, not of the analysis.
DATA_HOME_ENV = "NEUROREP_DATA"


def default_data_home() -> Path:
    """Where datasets are read from and fetched to when ``data_home`` is not given.

    The folder in the ``NEUROREP_DATA`` environment variable when it is set
    (e.g. a shared mirror of the datasets), else the per-user cache folder
    ``pooch.os_cache("neurorep")`` (``~/.cache/neurorep`` on Linux,
    ``~/Library/Caches/neurorep`` on macOS). This is the only place neurorep
    reads an environment variable; it changes where files are found, never a
    result.

    Returns
    -------
    Path
        The data home folder (it may not exist yet).

    Examples
    --------
    >>> import os
    >>> from unittest import mock
    >>> from neurorep import datasets
    >>> with mock.patch.dict(os.environ, {"NEUROREP_DATA": "/data/neurorep"}):
    ...     print(datasets.default_data_home())
    /data/neurorep
    >>> with mock.patch.dict(os.environ):
    ...     _ = os.environ.pop("NEUROREP_DATA", None)
    ...     print(datasets.default_data_home().name)
    neurorep
    """
    folder = os.environ.get(DATA_HOME_ENV)
    if folder:
        return Path(folder).expanduser()
    import pooch

    return Path(pooch.os_cache("neurorep"))


def sha256sum(path: str | Path) -> str:
    """The hex sha256 of a file (the hash ``fetch`` verifies downloads with).

    Parameters
    ----------
    path : str or Path
        The file to hash.

    Returns
    -------
    str
        64 lower-case hex digits.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from neurorep.datasets import sha256sum
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "x.txt"
    >>> _ = f.write_bytes(b"abc")
    >>> sha256sum(f)[:16]
    'ba7816bf8f01cfea'
    """
    import pooch

    return str(pooch.file_hash(str(path), alg="sha256"))


def verify_file(path: Path, entry: FileEntry, *, dataset: str) -> None:
    """Raise ChecksumError unless ``path`` has the manifest's size and sha256 (or md5)."""
    problem = _problem(path, entry, None)
    if problem is not None:
        raise ChecksumError(
            f"{dataset}: {str(path)!r} {problem}. The file is corrupted or a different version; "
            f"delete it and run neurorep.datasets.fetch({dataset!r}) (or `neurorep datasets "
            f"fetch {dataset}`)."
        )


def _hashes(path: Path) -> tuple[str, str]:
    sha, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while block := f.read(_CHUNK):
            sha.update(block)
            md5.update(block)
    return sha.hexdigest(), md5.hexdigest()


def _problem(path: Path, entry: FileEntry, recorded: dict[str, Any] | None) -> str | None:
    """What is wrong with ``path`` against the entry's size and checksums (None: nothing)."""
    size = path.stat().st_size
    want_size = entry.size or int((recorded or {}).get("size", 0))
    if want_size and size != want_size:
        return f"has {size} bytes, but {want_size} are expected"
    if not (entry.sha256 or entry.md5 or recorded):
        return None
    sha, md5 = _hashes(path)
    if entry.sha256 and sha != entry.sha256:
        return f"has sha256 {sha}, but the manifest records {entry.sha256}"
    if entry.md5 and md5 != entry.md5:
        return f"has md5 {md5}, but its source publishes {entry.md5}"
    if recorded and not (entry.sha256 or entry.md5) and sha != recorded["sha256"]:
        return (
            f"has sha256 {sha}, but its first download recorded {recorded['sha256']} "
            f"(in {LEDGER})"
        )
    return None


class _Ledger:
    """The sha256 of files without a published checksum, recorded at first download."""

    def __init__(self, folder: Path):
        self.path = folder / LEDGER
        self.data: dict[str, Any] = {}
        if self.path.is_file():
            try:
                self.data = json.loads(self.path.read_text())
            except ValueError as err:
                raise ChecksumError(
                    f"{str(self.path)!r} (the checksums recorded at first download) is damaged "
                    f"({err}). Delete it: the next fetch records the checksums again."
                ) from err

    def get(self, name: str) -> dict[str, Any] | None:
        return self.data.get(name)

    def record(self, name: str, path: Path, url: str) -> None:
        self.data[name] = {
            "sha256": _hashes(path)[0],
            "size": path.stat().st_size,
            "url": url,
            "recorded": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(self.data, indent=1, sort_keys=True))
        os.replace(tmp, self.path)


def _http_status(err: BaseException) -> int | None:
    response = getattr(err, "response", None)
    return getattr(response, "status_code", None)


def _download(url: str, part: Path, *, size: int, progressbar: bool) -> None:
    """Bring ``part`` up to the whole file at ``url``: resume it, or (re)write it."""
    offset = part.stat().st_size if part.exists() else 0
    if size and offset > size:  # a stale partial file of another version
        part.unlink()
        offset = 0
    if size and offset == size:
        return
    if url.startswith("file://"):
        from urllib.parse import urlparse
        from urllib.request import url2pathname

        src = Path(url2pathname(urlparse(url).path))
        with open(src, "rb") as fi, open(part, "ab" if offset else "wb") as fo:
            fi.seek(offset)
            shutil.copyfileobj(fi, fo, _CHUNK)
        return
    import requests

    headers = {"Range": f"bytes={offset}-"} if offset else {}
    with requests.get(url, headers=headers, stream=True, timeout=60) as r:
        if offset and r.status_code == 416:  # nothing left to send: the part is complete
            return
        r.raise_for_status()
        resumed = bool(offset) and r.status_code == 206
        total = r.headers.get("Content-Length")
        bar: Any = None
        if progressbar:
            try:
                from tqdm.auto import tqdm

                bar = tqdm(total=int(total) if total else None, unit="B", unit_scale=True,
                           desc=part.name[: -len(".part")])
            except ImportError:
                bar = None
        written = 0
        with open(part, "ab" if resumed else "wb") as fo:
            for block in r.iter_content(_CHUNK):
                fo.write(block)
                written += len(block)
                if bar is not None:
                    bar.update(len(block))
        if bar is not None:
            bar.close()
        if total is not None and written != int(total):
            raise DownloadError(f"the server sent {written} of the {total} bytes it announced")


def _hint(entry: FileEntry) -> str:
    if entry.sha256:
        return f"it must have sha256 {entry.sha256}"
    if entry.md5:
        return f"it must have md5 {entry.md5}"
    return "its sha256 is recorded when fetch first sees it"


def fetch_file(
    entry: FileEntry,
    folder: Path,
    *,
    dataset: str,
    ledger: _Ledger | None = None,
    redownload: bool = False,
    progressbar: bool = False,
) -> Path | None:
    """Download one file into ``folder`` (resumable, verified, atomic); its final path.

    Returns None for an ``optional`` file the server does not have (HTTP 404).
    """
    import requests

    ledger = ledger if ledger is not None else _Ledger(folder)
    target = folder / entry.name
    part = target.with_name(target.name + ".part")
    recorded = None if (entry.sha256 or entry.md5) else ledger.get(entry.name)
    if target.exists():
        problem = _problem(target, entry, recorded)
        if problem is None:
            if not (entry.sha256 or entry.md5 or recorded):
                ledger.record(entry.name, target, entry.url)  # a copy put there by hand
            return target
        if not redownload:
            raise ChecksumError(
                f"{dataset}: {str(target)!r} {problem}. The file is corrupted (an interrupted "
                f"copy, a damaged disk) or a different version. Run neurorep.datasets.fetch("
                f"{dataset!r}, ..., redownload=True) to download it again (the copy is replaced "
                f"only once the new download verified), or delete it and fetch again."
            )
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        _download(entry.url, part, size=entry.size, progressbar=progressbar)
    except (requests.exceptions.RequestException, OSError) as err:
        if entry.optional and _http_status(err) == 404:
            return None
        if part.exists() and not part.stat().st_size:
            part.unlink()
        kept = (
            f"the partial download is kept in {str(part)!r} (never at the final path) and the "
            f"next fetch resumes it"
            if part.exists()
            else "nothing was kept"
        )
        raise DownloadError(
            f"{dataset}: could not download {entry.name} from {entry.url} "
            f"({type(err).__name__}: {err}); {kept}. Check your internet connection (and proxy "
            f"settings) and try again, or download the file by hand to {str(target)!r} "
            f"({_hint(entry)}) and load it with neurorep.datasets.load({dataset!r}, "
            f"data_home={str(folder.parent)!r})."
        ) from err
    problem = _problem(part, entry, recorded)
    if problem is not None:
        part.unlink()
        raise ChecksumError(
            f"{dataset}: the download of {entry.url} {problem}; nothing was kept ({str(target)!r} "
            f"was not written). The download was corrupted in transit or the source changed: "
            f"fetch again, and if it fails the same way check the dataset's source."
        )
    if not (entry.sha256 or entry.md5 or recorded):
        ledger.record(entry.name, part, entry.url)
    os.replace(part, target)
    return target


def _check_members(archive: Path, names: Sequence[str], dataset: str) -> None:
    for n in names:
        if n.startswith(("/", "\\")) or ".." in Path(n).parts:
            raise SchemaError(
                f"{dataset}: the archive {str(archive)!r} holds a member outside its folder "
                f"({n!r}); neurorep does not unpack it. Delete it and fetch again."
            )


def unpack(
    archive: Path, folder: Path, *, dataset: str, keep: Callable[[str], bool] | None = None
) -> None:
    """Extract a verified zip or tar archive into ``folder`` with no half-written member.

    Members go to a temporary folder first and are moved into place only once
    the whole extraction succeeded; ``keep(name)`` selects members.
    """
    tmp = folder / f".unpack-{archive.name}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as z:
                names = [n for n in z.namelist() if not n.endswith("/")]
                names = [n for n in names if keep is None or keep(n)]
                _check_members(archive, names, dataset)
                for n in names:
                    z.extract(n, tmp)
        elif tarfile.is_tarfile(archive):
            with tarfile.open(archive) as t:
                members = [m for m in t.getmembers() if m.isfile()]
                members = [m for m in members if keep is None or keep(m.name)]
                _check_members(archive, [m.name for m in members], dataset)
                t.extractall(tmp, members=members, filter="data")
        else:
            raise ChecksumError(
                f"{dataset}: {str(archive)!r} is neither a zip nor a tar archive; delete it and "
                f"fetch again."
            )
        for src in sorted(p for p in tmp.rglob("*") if p.is_file()):
            dst = folder / src.relative_to(tmp)
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, dst)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError) as err:
        raise ChecksumError(
            f"{dataset}: the archive {str(archive)!r} is damaged ({err}); nothing was "
            f"extracted. Delete it and fetch again."
        ) from err
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def fetch_files(
    dataset: str,
    entries: Sequence[FileEntry],
    *,
    data_home: str | Path | None = None,
    folder_name: str | None = None,
    redownload: bool = False,
    progressbar: bool = False,
    keep: Callable[[str], bool] | None = None,
    expect: Sequence[str] = (),
) -> Path:
    """Fetch ``entries`` into ``data_home/<folder_name or dataset>`` (see the module docstring).

    Archives (``unpack=True``) are extracted unless every path in ``expect``
    exists already; after extraction each must exist.
    """
    root = Path(data_home).expanduser() if data_home is not None else default_data_home()
    folder = root / (folder_name or dataset)
    created = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    try:
        ledger = _Ledger(folder)
        for entry in entries:
            path = fetch_file(entry, folder, dataset=dataset, ledger=ledger,
                              redownload=redownload, progressbar=progressbar)
            if path is None or not entry.unpack:
                continue
            if not expect or not all((folder / e).is_file() for e in expect):
                unpack(path, folder, dataset=dataset, keep=keep)
                missing = [e for e in expect if not (folder / e).is_file()]
                if missing:
                    raise SchemaError(
                        f"{dataset}: the archive {str(path)!r} does not hold {missing[:4]}; it "
                        f"is not the release the loader reads. Check {entry.url}."
                    )
    except BaseException:
        if created and folder.is_dir():
            for d in sorted((p for p in folder.rglob("*") if p.is_dir()), reverse=True):
                if not any(d.iterdir()):
                    d.rmdir()
            if not any(folder.iterdir()):
                folder.rmdir()  # a failed first fetch leaves nothing behind
        raise
    return folder


def fetch(
    name: str | Manifest,
    *,
    data_home: str | Path | None = None,
    subjects: Sequence[int] | str | None = None,
    sessions: Sequence[int] | str | None = None,
    redownload: bool = False,
    progressbar: bool = False,
) -> Path:
    """Download a dataset's files into ``data_home/<folder>``, verified and resumable.

    Small datasets download their manifest's file list (every file has a
    sha256). NSD, BOLD5000 and THINGS-fMRI download only the files of the
    requested ``subjects`` / ``sessions`` from their public URLs (see
    :func:`fetch_nsd`, :func:`fetch_bold5000`, :func:`fetch_things_fmri`).

    Every file is written to ``<file>.part`` and moved to its final path only
    after it verified (size, then the published sha256 / md5, or where none
    is published the sha256 recorded at its first download), so no final path
    ever holds a half-written file. An interrupted download keeps its
    ``.part`` and the next call resumes it (HTTP ``Range``). A file already
    present is verified, never downloaded again; one that fails verification
    raises :class:`neurorep.ChecksumError` naming it, or is downloaded again
    and replaced with ``redownload=True``. A network or server failure raises
    :class:`neurorep.DownloadError` naming the dataset, the URL and how to get
    the file by hand.

    Parameters
    ----------
    name : str or Manifest
        Dataset name (see :func:`list_datasets`) or a manifest object.
    data_home : path, optional
        Destination root; default :func:`default_data_home`.
    subjects : sequence of int or "all", optional
        Subjects to download (NSD 1..8, BOLD5000 1..4, THINGS-fMRI 1..3),
        or ``"all"``; default all. Only for the datasets fetched by subject.
        NSD (hundreds of GB in all) needs ``subjects`` or ``sessions``:
        without either it raises a ValueError stating the full size;
        ``subjects="all"`` is the explicit opt-in. BOLD5000 and THINGS-fMRI
        are one archive each (downloaded whole whichever subjects are
        extracted), so they need no opt-in.
    sessions : sequence of int or "all", optional
        Sessions to download (NSD); default every session of each subject.
    redownload : bool
        Download files that fail verification again (the corrupted copy is
        replaced only after the new one verified).
    progressbar : bool
        Show a download progress bar (needs tqdm).

    Returns
    -------
    Path
        The dataset folder.

    Raises
    ------
    DownloadError
        A file could not be downloaded (no connection, timeout, HTTP error).
    ChecksumError
        A downloaded or existing file does not match its size or checksum.

    Examples
    --------
    >>> from neurorep import datasets
    >>> folder = datasets.fetch("pereira2018", data_home="~/neurorep_data")  # doctest: +SKIP
    >>> tree = datasets.load("pereira2018", data_home="~/neurorep_data")  # doctest: +SKIP
    >>> folder = datasets.fetch("nsd", subjects=[1], sessions=[1, 2], data_home="~/d")  # doctest: +SKIP
    """
    from neurorep.datasets._remote import FETCHERS

    if isinstance(name, str) and name in FETCHERS:
        return Path(
            FETCHERS[name](
                data_home, subjects=subjects, sessions=sessions, redownload=redownload,
                progressbar=progressbar,
            )
        )
    manifest = name if isinstance(name, Manifest) else get_manifest(name)
    if subjects is not None or sessions is not None:
        raise ValueError(
            f"{manifest.name} is fetched as a whole (its manifest lists {len(manifest.files)} "
            f"files); subjects= and sessions= select the files of {sorted(FETCHERS)} only."
        )
    if not manifest.fetchable:
        raise RuntimeError(
            f"{manifest.name} cannot be fetched automatically (no file list with checksums): "
            f"{manifest.access or 'see ' + manifest.source}"
        )
    return fetch_files(
        manifest.name, manifest.files, data_home=data_home, folder_name=manifest.folder,
        redownload=redownload, progressbar=progressbar,
    )
