"""The neurorep data model: constructors, validation, IO and bridges.

See DESIGN.md section 1. Every object is plain xarray.
"""

from neurorep.data._align import align, select_stimuli, stimulus_ids
from neurorep.data._io import load, save
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

__all__ = [
    "EPOCH_DIMS",
    "LAYER_VAR",
    "RDM_DIMS",
    "RDM_VAR",
    "RESPONSES_VAR",
    "RESPONSE_DIMS",
    "activations",
    "align",
    "check_rdm_layout",
    "from_nifti",
    "from_rsatoolbox",
    "infer_kind",
    "load",
    "members",
    "rdm",
    "rdm_vectors",
    "reject_epochs",
    "responses",
    "save",
    "select_stimuli",
    "single_member",
    "stimulus_ids",
    "to_nifti",
    "to_rsatoolbox",
    "tree_from_members",
    "validate",
]
