"""Checksummed downloads (pooch) and the local data home."""

from __future__ import annotations

import os
from pathlib import Path

from neurorep._core.errors import ChecksumError, DownloadError
from neurorep.datasets._manifest import FileEntry, Manifest, get_manifest

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
    """The hex sha256 of a file (``pooch.file_hash``, the hash ``fetch`` verifies downloads with).

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
    """Raise ChecksumError unless ``path`` has the manifest's sha256."""
    got = sha256sum(path)
    if got != entry.sha256:
        raise ChecksumError(
            f"{dataset}: {str(path)!r} has sha256 {got}, but the manifest records "
            f"{entry.sha256}. The file is corrupted or a different version; delete it and "
            f"run neurorep.datasets.fetch({dataset!r}) (or `neurorep datasets fetch {dataset}`)."
        )


def fetch(
    name: str | Manifest,
    *,
    data_home: str | Path | None = None,
    progressbar: bool = False,
) -> Path:
    """Download a dataset's files into ``data_home/<folder>``, verifying sha256.

    Files already present are verified, never re-downloaded or overwritten; a
    file with the wrong checksum raises :class:`neurorep.ChecksumError`. A
    failed download leaves no partial file behind (pooch writes to a temporary
    file and moves it into place only after the checksum matched), and a
    network or server failure raises :class:`neurorep.DownloadError` naming
    the dataset, the URL and how to get the file by hand.

    Parameters
    ----------
    name : str or Manifest
        Dataset name (see :func:`list_datasets`) or a manifest object.
    data_home : path, optional
        Destination root; default :func:`default_data_home`.
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
        A downloaded or existing file does not match the manifest.

    Examples
    --------
    >>> from neurorep import datasets
    >>> folder = datasets.fetch("pereira2018", data_home="~/neurorep_data")  # doctest: +SKIP
    >>> tree = datasets.load("pereira2018", data_home="~/neurorep_data")  # doctest: +SKIP
    """
    import pooch
    import requests

    manifest = name if isinstance(name, Manifest) else get_manifest(name)
    if not manifest.fetchable:
        raise RuntimeError(
            f"{manifest.name} cannot be fetched automatically (no file list with checksums): "
            f"{manifest.access or 'see ' + manifest.source}"
        )
    root = Path(data_home) if data_home is not None else default_data_home()
    folder = root / manifest.folder
    created = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    try:
        for entry in manifest.files:
            target = folder / entry.name
            if target.exists():
                verify_file(target, entry, dataset=manifest.name)
                continue
            try:
                pooch.retrieve(
                    entry.url,
                    known_hash=f"sha256:{entry.sha256}",
                    fname=entry.name,
                    path=folder,
                    progressbar=progressbar,
                )
            except ValueError as err:  # pooch's checksum mismatch
                raise ChecksumError(
                    f"{manifest.name}: the download of {entry.url} did not match the manifest's "
                    f"sha256 {entry.sha256}; nothing was kept. The source may have changed: check "
                    f"{manifest.source}. ({err})"
                ) from err
            except requests.exceptions.RequestException as err:
                raise DownloadError(
                    f"{manifest.name}: could not download {entry.name} from {entry.url} "
                    f"({type(err).__name__}: {err}); nothing was kept. Check your internet "
                    f"connection (and proxy settings) and try again, or download the file by "
                    f"hand into {str(folder)!r} (it must have sha256 {entry.sha256}) and load "
                    f"it with neurorep.datasets.load({manifest.name!r}, data_home={str(root)!r})."
                ) from err
    except BaseException:
        if created and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()  # a failed first fetch leaves nothing behind
        raise
    return folder
