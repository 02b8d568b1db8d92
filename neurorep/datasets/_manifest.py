"""Dataset manifests (data_manifests/*.toml): source, checksums, licence, citation."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

_MANIFEST_DIR = Path(__file__).with_name("manifests")


@dataclass(frozen=True)
class FileEntry:
    """One file of a dataset: where it comes from and its sha256."""

    name: str
    url: str
    sha256: str
    size: int


@dataclass(frozen=True)
class Manifest:
    """What neurorep knows about a public dataset."""

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

    @property
    def folder(self) -> str:
        """Sub-folder of a data home that holds this dataset's files."""
        return self.mirror_folder or self.name

    @property
    def fetchable(self) -> bool:
        """True when every file has a URL and a checksum (fetch() can get it)."""
        return bool(self.files)

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

    Examples
    --------
    >>> from neurorep import datasets
    >>> "pereira2018" in datasets.list_datasets()
    True
    """
    return list(_all_manifests())


def get_manifest(name: str) -> Manifest:
    """The manifest of dataset ``name`` (KeyError lists the known names)."""
    manifests = _all_manifests()
    if name not in manifests:
        raise KeyError(f"unknown dataset {name!r}; known datasets: {sorted(manifests)}.")
    return manifests[name]
