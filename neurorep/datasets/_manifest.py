"""Dataset manifests (data_manifests/*.toml): source, checksums, licence, citation."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

_MANIFEST_DIR = Path(__file__).with_name("manifests")


@dataclass(frozen=True)
class FileEntry:
    """One file of a dataset: where it comes from and its sha256.

    Parameters
    ----------
    name : str
        Path of the file inside the dataset's folder.
    url : str
        Where :func:`fetch` downloads it from (``https://``, ``http://`` or
        ``file://``).
    sha256 : str, optional
        The file's hex sha256 where its source publishes one (or it was
        computed from a pinned copy), checked on download and by :func:`load`.
        Empty: none is published; :func:`fetch` then records the sha256 of
        the first download in the data home and verifies against it
        afterwards.
    size : int, optional
        Size in bytes (0: not published; the server's Content-Length is
        enforced instead).
    md5 : str, optional
        The hex md5 the source publishes (figshare, OSF), checked like sha256.
    optional : bool, optional
        A file the loader can do without (e.g. label names): a 404 on it is
        skipped instead of failing the fetch.
    unpack : bool, optional
        An archive (zip or tar) whose members :func:`fetch` extracts into the
        dataset folder after it verified.

    Examples
    --------
    >>> from neurorep import datasets
    >>> m = datasets.get_manifest("pereira2018")
    >>> all(isinstance(f, datasets.FileEntry) and len(f.sha256) == 64 for f in m.files)
    True
    >>> datasets.FileEntry("a.csv", "https://example.org/a.csv").sha256  # none published
    ''
    """

    name: str
    url: str
    sha256: str = ""
    size: int = 0
    md5: str = ""
    optional: bool = False
    unpack: bool = False


@dataclass(frozen=True)
class Manifest:
    """What neurorep knows about a public dataset.

    Read from the TOML files in ``neurorep/datasets/manifests/``; ``neurorep
    datasets list`` prints them.

    Parameters
    ----------
    name : str
        The dataset's name, as :func:`load` takes it.
    title : str
        One-line description.
    modality : str
        Recording modality (e.g. ``"7T fMRI (surface)"``).
    stimuli : str
        What the stimuli are.
    license : str
        The data's licence.
    citation : tuple of str
        The papers to cite.
    source : str
        Where the data come from (a URL or a package).
    loader : str, optional
        The name of its loader in :data:`LOADERS` (empty: no loader yet).
    mirror_folder : str, optional
        The folder name inside a data home (default ``name``).
    access : str, optional
        How to obtain the data when they cannot be fetched.
    files : tuple of FileEntry, optional
        The files with URLs and checksums (empty: not fetchable).
    download_size : str, optional
        The size of a full download in words (e.g. ``"about 450 GB (...)"``),
        where it is known; fetchers that refuse an unbounded download quote it.

    Examples
    --------
    >>> from neurorep import datasets
    >>> m = datasets.get_manifest("pereira2018")
    >>> m.name, m.loader
    ('pereira2018', 'load_pereira2018')
    """

    name: str
    title: str
    modality: str
    stimuli: str
    license: str
    citation: tuple[str, ...]
    source: str
    loader: str = ""
    mirror_folder: str = ""
    access: str = ""
    files: tuple[FileEntry, ...] = field(default_factory=tuple)
    download_size: str = ""

    @property
    def folder(self) -> str:
        """Sub-folder of a data home that holds this dataset's files."""
        return self.mirror_folder or self.name

    @property
    def fetchable(self) -> bool:
        """True when every file has a URL and a published checksum (fetch() can get it).

        Datasets too large for one file list (NSD, BOLD5000, THINGS-fMRI) are
        fetched by their own ``fetch_<name>`` functions instead.
        """
        return bool(self.files) and all(f.url and (f.sha256 or f.md5) for f in self.files)

    @classmethod
    def from_toml(cls, path: Path) -> Manifest:
        raw = tomllib.loads(path.read_text())
        files = tuple(FileEntry(**f) for f in raw.pop("files", []))
        raw["citation"] = tuple(raw.get("citation", ()))
        return cls(files=files, **raw)


@cache
def _all_manifests() -> dict[str, Manifest]:
    out = {}
    for path in sorted(_MANIFEST_DIR.glob("*.toml")):
        m = Manifest.from_toml(path)
        out[m.name] = m
    return out


def list_datasets() -> list[str]:
    """Names of every dataset with a manifest.

    Returns
    -------
    list of str
        The names, sorted by manifest file name.

    Examples
    --------
    >>> from neurorep import datasets
    >>> "pereira2018" in datasets.list_datasets()
    True
    """
    return list(_all_manifests())


def get_manifest(name: str) -> Manifest:
    """The manifest of dataset ``name`` (KeyError lists the known names).

    Parameters
    ----------
    name : str
        A name from :func:`list_datasets`.

    Returns
    -------
    Manifest
        Its source, licence, citation, loader and files.

    Raises
    ------
    KeyError
        An unknown name; the message lists the known ones.

    Examples
    --------
    >>> from neurorep import datasets
    >>> datasets.get_manifest("cichy2014_92img").modality
    'fMRI RDMs'
    """
    manifests = _all_manifests()
    if name not in manifests:
        raise KeyError(f"unknown dataset {name!r}; known datasets: {sorted(manifests)}.")
    return manifests[name]
