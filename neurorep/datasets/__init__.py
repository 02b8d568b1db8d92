"""Real datasets (manifest-driven fetch and local loaders) and simulators with ground truth."""

from neurorep.datasets._algonauts import load_algonauts2023
from neurorep.datasets._bold5000 import load_bold5000
from neurorep.datasets._epochs import (
    load_mne_evoked_audvis,
    load_things_eeg2,
    load_zhang2011_it_7objects,
    make_epochs,
)
from neurorep.datasets._fetch import default_data_home, fetch, sha256sum
from neurorep.datasets._loaders import (
    LOADERS,
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

LOADERS.update(
    {
        "nsd": load_nsd,
        "algonauts2023": load_algonauts2023,
        "bold5000": load_bold5000,
        "things_fmri": load_things_fmri,
        "pereira2018_full": load_pereira2018_full,
    }
)


def __getattr__(name: str) -> object:
    # make_concept_population lives with the captioning code (it needs its embedders);
    # imported on first use so that neurorep.datasets stays below neurorep.selectivity
    if name == "make_concept_population":
        from neurorep.selectivity import make_concept_population

        return make_concept_population
    raise AttributeError(f"module 'neurorep.datasets' has no attribute {name!r}")


__all__ = [
    "FOUR_SYLLABLE_LEVELS",
    "LOADERS",
    "FileEntry",
    "Manifest",
    "default_data_home",
    "fetch",
    "get_manifest",
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
