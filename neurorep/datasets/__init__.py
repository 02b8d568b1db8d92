"""Real datasets (manifest-driven fetch and local loaders) and simulators with ground truth."""

from typing import Any

from neurorep.datasets._algonauts import load_algonauts2023
from neurorep.datasets._bold5000 import load_bold5000
from neurorep.datasets._concepts import CONCEPTS, hashing_embedder, make_concept_population
from neurorep.datasets._epochs import (
    load_mne_evoked_audvis,
    load_things_eeg2,
    load_zhang2011_it_7objects,
    make_epochs,
)
from neurorep.datasets._fetch import DATA_HOME_ENV, default_data_home, fetch, sha256sum
from neurorep.datasets._loaders import (
    load,
    load_allen_mouse_natscenes,
    load_allen_visp_212cells,
    load_cichy2014_92img,
    load_ejaz2015_finger7T,
    load_haxby2001_subj1_slice,
    load_kriegeskorte2008_92img,
    load_pereira2018,
    load_tuckute2024,
)
from neurorep.datasets._manifest import FileEntry, Manifest, get_manifest, list_datasets
from neurorep.datasets._nsd import load_nsd
from neurorep.datasets._pereira_full import load_pereira2018_full
from neurorep.datasets._remote import fetch_bold5000, fetch_nsd, fetch_things_fmri
from neurorep.datasets._simulate import (
    make_clusters,
    make_layered_brain,
    make_model_activations,
    make_ring,
)
from neurorep.datasets._tagging import (
    FOUR_SYLLABLE_LEVELS,
    make_tagged_sequences,
    make_word_sequences,
)
from neurorep.datasets._things_fmri import load_things_fmri

__all__ = [
    "CONCEPTS",
    "DATA_HOME_ENV",
    "FOUR_SYLLABLE_LEVELS",
    "LOADERS",
    "FileEntry",
    "Manifest",
    "default_data_home",
    "fetch",
    "fetch_bold5000",
    "fetch_nsd",
    "fetch_things_fmri",
    "get_manifest",
    "hashing_embedder",
    "list_datasets",
    "load",
    "load_algonauts2023",
    "load_allen_mouse_natscenes",
    "load_allen_visp_212cells",
    "load_bold5000",
    "load_cichy2014_92img",
    "load_ejaz2015_finger7T",
    "load_haxby2001_subj1_slice",
    "load_kriegeskorte2008_92img",
    "load_nsd",
    "load_pereira2018",
    "load_pereira2018_full",
    "load_things_fmri",
    "load_mne_evoked_audvis",
    "load_things_eeg2",
    "load_tuckute2024",
    "load_zhang2011_it_7objects",
    "make_clusters",
    "make_concept_population",
    "make_epochs",
    "make_layered_brain",
    "make_model_activations",
    "make_ring",
    "make_tagged_sequences",
    "make_word_sequences",
    "sha256sum",
]


def __getattr__(name: str) -> Any:
    # LOADERS (dataset name -> loader) is read from the manifests on first use, not at import
    if name == "LOADERS":
        from neurorep.datasets._loaders import loaders

        return loaders()
    raise AttributeError(f"module 'neurorep.datasets' has no attribute {name!r}")
