"""The DataTree a large-dataset loader returns: members plus the manifest's provenance."""

from __future__ import annotations

import xarray as xr

from neurorep.data import tree_from_members
from neurorep.datasets._manifest import get_manifest


def manifest_tree(name: str, items: dict[str, xr.DataArray]) -> xr.DataTree:
    manifest = get_manifest(name)
    return tree_from_members(
        items,
        attrs={
            "dataset": manifest.name,
            "title": manifest.title,
            "license": manifest.license,
            "citation": list(manifest.citation),
            "source": manifest.source,
        },
    )
