"""Real datasets (manifest-driven fetch and local loaders) and simulators with ground truth."""

from typing import Any

from neurorep.datasets._concepts import CONCEPTS, hashing_embedder, make_concept_population
from neurorep.datasets._fetch import DATA_HOME_ENV, default_data_home, fetch, sha256sum
from neurorep.datasets._loaders import (
    load,
    load_allen_mouse_natscenes,
    load_cichy2014_92img,
    load_ejaz2015_finger7T,
    load_haxby2001_subj1_slice,
    load_kriegeskorte2008_92img,
    load_pereira2018,
    load_tuckute2024,
)
from neurorep.datasets._manifest import FileEntry, Manifest, get_manifest, list_datasets
from neurorep.datasets._simulate import (
    make_clusters,
    make_layered_brain,
    make_model_activations,
    make_ring,
)

__all__ = [
    "CONCEPTS",
    "DATA_HOME_ENV",
    "LOADERS",
    "FileEntry",
    "Manifest",
    "default_data_home",
    "fetch",
    "get_manifest",
    "hashing_embedder",
    "list_datasets",
    "load",
    "load_allen_mouse_natscenes",
    "load_cichy2014_92img",
    "load_ejaz2015_finger7T",
    "load_haxby2001_subj1_slice",
    "load_kriegeskorte2008_92img",
    "load_pereira2018",
    "load_tuckute2024",
    "make_clusters",
    "make_concept_population",
    "make_layered_brain",
    "make_model_activations",
    "make_ring",
    "sha256sum",
]


def __getattr__(name: str) -> Any:
    # LOADERS (dataset name -> loader) is read from the manifests on first use, not at import
    if name == "LOADERS":
        from neurorep.datasets._loaders import loaders

        return loaders()
    raise AttributeError(f"module 'neurorep.datasets' has no attribute {name!r}")
