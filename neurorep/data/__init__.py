"""The neurorep data model: constructors, validation, IO and bridges.

See DESIGN.md section 1. Every object is plain xarray.
"""

from neurorep.data._align import align, select_stimuli, stimulus_ids
from neurorep.data._condensed import (
    PAIR_DIM,
    condense,
    condensed_ids,
    condensed_vectors,
    is_condensed,
    uncondense,
)
from neurorep.data._io import load, save
from neurorep.data._mne import from_mne, to_mne
from neurorep.data._nifti import from_nifti, to_nifti
from neurorep.data._rsatoolbox import from_rsatoolbox, to_rsatoolbox
from neurorep.data._schema import (
    EPOCH_DIMS,
    LAYER_VAR,
    RDM_DIMS,
    RDM_VAR,
    RESPONSE_DIMS,
    RESPONSES_VAR,
    activations,
    check_rdm_layout,
    infer_kind,
    members,
    rdm,
    rdm_vectors,
    reject_epochs,
    responses,
    single_member,
    tree_from_members,
    validate,
)
from neurorep.data._surface import (
    from_surface,
    load_mesh,
    surface_arrays,
    surface_neighbourhoods,
    to_surface,
)
from neurorep.data._time import bin_time, check_epochs, crop_time, sampling_interval

__all__ = [
    "EPOCH_DIMS",
    "LAYER_VAR",
    "PAIR_DIM",
    "RDM_DIMS",
    "RDM_VAR",
    "RESPONSES_VAR",
    "RESPONSE_DIMS",
    "activations",
    "align",
    "bin_time",
    "check_epochs",
    "check_rdm_layout",
    "condense",
    "condensed_ids",
    "condensed_vectors",
    "crop_time",
    "from_mne",
    "from_nifti",
    "from_rsatoolbox",
    "from_surface",
    "load_mesh",
    "infer_kind",
    "is_condensed",
    "load",
    "members",
    "rdm",
    "rdm_vectors",
    "sampling_interval",
    "reject_epochs",
    "responses",
    "save",
    "select_stimuli",
    "single_member",
    "stimulus_ids",
    "surface_arrays",
    "surface_neighbourhoods",
    "to_mne",
    "to_nifti",
    "to_rsatoolbox",
    "to_surface",
    "tree_from_members",
    "uncondense",
    "validate",
]
