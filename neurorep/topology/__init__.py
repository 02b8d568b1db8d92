"""Topological RSA and persistent homology.

Geo-topological transforms of RDMs (RGTM, geodesic RGDM; Lin & Kriegeskorte,
PNAS 2024), tRSA identification across subjects, the adaptive geo-topological
dependence measure (AGTDM), and Vietoris-Rips persistent homology through
gudhi with diagram distances, Betti curves and landscapes. RDMs are xarray
DataArrays ``(..., stimulus_i, stimulus_j)``; diagrams are Datasets over ``bar``.
gudhi is imported only inside the functions that need it.
"""

from neurorep.topology._agtdm import agtdm
from neurorep.topology._distance import DIAGRAM_DISTANCES, diagram_distance
from neurorep.topology._identify import score_identification
from neurorep.topology._persistence import (
    betti_curve,
    check_diagram,
    gt_transform_diagram,
    persistence,
    persistence_landscape,
    rips_memory_bytes,
)
from neurorep.topology._transform import (
    GEODESIC_GRAPHS,
    RGTM_REGIMES,
    geodesic_transform,
    gt_transform,
    sigmoid_transform,
    threshold_grid,
)

__all__ = [
    "DIAGRAM_DISTANCES",
    "GEODESIC_GRAPHS",
    "RGTM_REGIMES",
    "agtdm",
    "betti_curve",
    "check_diagram",
    "diagram_distance",
    "geodesic_transform",
    "gt_transform",
    "gt_transform_diagram",
    "persistence",
    "persistence_landscape",
    "rips_memory_bytes",
    "score_identification",
    "sigmoid_transform",
    "threshold_grid",
]
