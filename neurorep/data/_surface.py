"""Cortical surfaces <-> responses: GIfTI, MGH and nilearn ``SurfaceImage``.

On a surface a unit is a vertex: unit coords ``vertex`` (the index in its
hemisphere's mesh) and ``hemisphere`` (``"left"`` / ``"right"``), attr
``mesh`` (e.g. ``"fsaverage5"``). Values go back onto a mesh by these two
coords, never by position.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from neurorep._core.errors import MissingDataError, SchemaError
from neurorep.data._schema import IdsLike, responses

HEMISPHERES = ("left", "right")
# vertices per hemisphere of FreeSurfer's icosahedral fsaverage meshes; fsaverageN's vertices
# are the first ones of every finer fsaverage mesh
FSAVERAGE_VERTICES = {
    "fsaverage3": 642,
    "fsaverage4": 2562,
    "fsaverage5": 10242,
    "fsaverage6": 40962,
    "fsaverage7": 163842,
    "fsaverage": 163842,
}


def load_mesh(mesh: Any = "fsaverage5", *, surface: str = "pial") -> Any:
    """A nilearn ``PolyMesh`` with ``left`` and ``right`` parts.

    ``"fsaverage5"`` (and the coarser fsaverage3/4) ship inside nilearn and
    load offline; finer meshes are never downloaded here: pass a
    ``PolyMesh`` (``nilearn.surface.PolyMesh(left=..., right=...)`` from your
    FreeSurfer ``surf/`` files) instead.

    Parameters
    ----------
    mesh : str or PolyMesh, optional
        ``"fsaverage5"`` (default), ``"fsaverage4"`` or ``"fsaverage3"``, or a
        ``PolyMesh`` (returned as is).
    surface : str, optional
        Which fsaverage surface: ``"pial"`` (default), ``"white"``,
        ``"inflated"``, ``"sphere"``, ...

    Returns
    -------
    nilearn.surface.PolyMesh
        The mesh, parts ``left`` and ``right`` (coordinates in mm).

    Examples
    --------
    >>> from neurorep import data
    >>> mesh = data.load_mesh("fsaverage5")
    >>> mesh.parts["left"].n_vertices
    10242
    """
    from nilearn.surface import PolyMesh

    if isinstance(mesh, PolyMesh):
        return mesh
    if mesh in ("fsaverage3", "fsaverage4", "fsaverage5"):
        from nilearn.datasets import load_fsaverage

        return load_fsaverage(mesh)[surface]
    raise ValueError(
        f"mesh must be 'fsaverage3', 'fsaverage4', 'fsaverage5' (shipped with nilearn) or a "
        f"nilearn PolyMesh; got {mesh!r}. neurorep downloads nothing: for {mesh!r} build "
        f"PolyMesh(left='lh.pial', right='rh.pial') from your FreeSurfer files, or keep the "
        f"fsaverage5 vertices of fsaverage data with responses.where(responses.vertex < 10242, "
        f"drop=True) (fsaverage5's vertices are the first 10242 of every finer fsaverage)."
    )


def _read_hemisphere(src: Any, what: str) -> np.ndarray:
    """``(n_vertices, n_maps)`` from a GIfTI / MGH path or an array."""
    import nibabel as nib

    if isinstance(src, str | Path):
        path = Path(src)
        if not path.is_file():
            raise MissingDataError(
                f"from_surface: the {what} file {str(path)!r} does not exist; check the path."
            )
        name = path.name.lower()
        if name.endswith(".gii"):
            img: Any = nib.load(path)
            arrays = [np.asarray(d.data) for d in img.darrays]
            if not arrays:
                raise SchemaError(f"from_surface: {str(path)!r} holds no data array.")
            if len(arrays) == 1:
                arr = arrays[0].reshape(arrays[0].shape[0], -1)
            else:
                arr = np.stack([a.ravel() for a in arrays], axis=1)
        elif name.endswith((".mgh", ".mgz")):
            img = nib.load(path)
            data = np.asarray(img.dataobj)
            arr = data.reshape(data.shape[0], -1)
        else:
            raise ValueError(
                f"from_surface: {str(path)!r} is neither GIfTI (.gii) nor MGH (.mgh, .mgz)."
            )
        return arr
    arr = np.asarray(src)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise SchemaError(
            f"from_surface: {what} data must be (n_vertices,) or (n_vertices, n_maps); got "
            f"shape {arr.shape}."
        )
    return arr


def from_surface(
    left: Any,
    right: Any = None,
    *,
    stimulus: IdsLike | None = None,
    mesh: Any = None,
    mask: Mapping[str, Any] | None = None,
    stimulus_coords: Mapping[str, Any] | None = None,
    region: Any = None,
    subject: Any = None,
    attrs: Mapping[str, Any] | None = None,
) -> xr.DataArray:
    """Read maps on the two cortical hemispheres as responses ``(stimulus, unit)``.

    Parameters
    ----------
    left : path, array or nilearn SurfaceImage
        Left-hemisphere data: a GIfTI (``.gii``: one data array per map, or
        one 2-D array) or MGH (``.mgh``/``.mgz``: vertices x maps) file, an
        array ``(n_vertices,)`` / ``(n_vertices, n_maps)``, or a
        ``SurfaceImage`` holding both hemispheres (then omit ``right``).
    right : path or array
        Right-hemisphere data, same kind and same number of maps.
    stimulus : sequence, optional
        One id per map; default ``stim000``...
    mesh : str or nilearn PolyMesh, optional
        The mesh the maps live on (``"fsaverage5"`` ...); when given, each
        hemisphere's vertex count is checked against it and stored as attr
        ``mesh``.
    mask : mapping of str to bool array, optional
        ``{"left": bool array, "right": bool array}``: keep only these
        vertices (e.g. a ROI); default every vertex.
    stimulus_coords, region, subject, attrs
        As in :func:`neurorep.data.responses`.

    Returns
    -------
    DataArray
        Dims ``(stimulus, unit)``.
        Unit ids ``left-<vertex>`` / ``right-<vertex>``, unit coords
        ``vertex`` and ``hemisphere``.

    Raises
    ------
    SchemaError
        Hemispheres with different numbers of maps, vertex counts that do not
        match ``mesh`` or the mask, or (without ``mesh``) an fsaverage
        hemisphere next to one of another size.

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep import data
    >>> resp = data.from_surface(np.ones((10242, 2)), np.zeros((10242, 2)),
    ...                          stimulus=["a", "b"], mesh="fsaverage5")
    >>> resp.sizes["unit"], sorted(set(resp["hemisphere"].values))
    (20484, ['left', 'right'])
    """
    from nilearn.surface import SurfaceImage

    mesh_name: Any = None
    if isinstance(left, SurfaceImage):
        if right is not None:
            raise ValueError("from_surface: a SurfaceImage holds both hemispheres; omit right.")
        parts = {h: _read_hemisphere(np.asarray(left.data.parts[h]), f"{h} hemisphere") for h in HEMISPHERES}
        if mesh is None:
            mesh = left.mesh
    else:
        if right is None:
            raise ValueError(
                "from_surface: pass both hemispheres (left, right), or a nilearn SurfaceImage."
            )
        parts = {"left": _read_hemisphere(left, "left"), "right": _read_hemisphere(right, "right")}
    names = {"left": str(left) if isinstance(left, str | Path) else "left data",
             "right": str(right) if isinstance(right, str | Path) else "right data"}
    if parts["left"].shape[1] != parts["right"].shape[1]:
        raise SchemaError(
            f"from_surface: {names['left']!r} has {parts['left'].shape[1]} maps, "
            f"{names['right']!r} {parts['right'].shape[1]}; both hemispheres need the same "
            f"maps (stimuli) in the same order."
        )
    if mesh is not None:
        if isinstance(mesh, str):
            mesh_name = mesh
            counts = {h: FSAVERAGE_VERTICES.get(mesh) for h in HEMISPHERES}
            if counts["left"] is None:
                raise ValueError(
                    f"mesh must be one of {sorted(FSAVERAGE_VERTICES)} or a nilearn PolyMesh; "
                    f"got {mesh!r}."
                )
        else:
            counts = {h: int(mesh.parts[h].n_vertices) for h in HEMISPHERES}
        for h in HEMISPHERES:
            if parts[h].shape[0] != counts[h]:
                raise SchemaError(
                    f"from_surface: {names[h]!r} has {parts[h].shape[0]} vertices; the {h} "
                    f"hemisphere of mesh {mesh_name or 'given'} has {counts[h]}. The data are "
                    f"on another mesh (check the fsaverage resolution or the subject)."
                )
    elif parts["left"].shape[0] != parts["right"].shape[0]:
        # a subject's native hemispheres differ in size, fsaverage ones never do: a count of
        # an fsaverage mesh next to a different count means the files come from two meshes
        n = {h: int(parts[h].shape[0]) for h in HEMISPHERES}
        known = {v: k for k, v in FSAVERAGE_VERTICES.items() if k != "fsaverage"}
        if n["left"] in known or n["right"] in known:
            what = {h: f"{n[h]} vertices" + (f" ({known[n[h]]})" if n[h] in known else "") for h in HEMISPHERES}
            raise SchemaError(
                f"from_surface: {names['left']!r} has {what['left']}, {names['right']!r} "
                f"{what['right']}: the hemispheres come from different meshes. Use both "
                f"hemispheres of one fsaverage resolution (fsaverage5 has 10242 per hemisphere), "
                f"or pass mesh= to check each against it."
            )
    keep: dict[str, np.ndarray] = {}
    for h in HEMISPHERES:
        if mask is not None:
            m = np.asarray(mask[h]).ravel().astype(bool)
            if m.size != parts[h].shape[0]:
                raise SchemaError(
                    f"from_surface: the {h} mask has {m.size} entries, {names[h]!r} "
                    f"{parts[h].shape[0]} vertices; the mask is from another mesh."
                )
            keep[h] = np.flatnonzero(m)
        else:
            keep[h] = np.arange(parts[h].shape[0])
    values = np.concatenate([parts[h][keep[h]] for h in HEMISPHERES], axis=0).T
    hemi = np.concatenate([np.full(keep[h].size, h, dtype=object) for h in HEMISPHERES])
    vert = np.concatenate([keep[h] for h in HEMISPHERES])
    out_attrs = dict(attrs or {})
    if mesh_name is not None:
        out_attrs["mesh"] = mesh_name
    return responses(
        values.astype(np.float64) if values.dtype.kind != "f" else values,
        stimulus=stimulus,
        unit=[f"{h}-{v}" for h, v in zip(hemi, vert, strict=True)],
        region=region if region is not None else "cortex",
        subject=subject,
        stimulus_coords=stimulus_coords,
        unit_coords={"vertex": vert, "hemisphere": hemi},
        attrs=out_attrs,
    )


def _surface_layout(values: xr.DataArray, name: str) -> xr.DataArray:
    missing = [c for c in ("vertex", "hemisphere") if c not in values.coords]
    if "unit" not in values.dims or missing:
        raise SchemaError(
            f"{name}: values need a unit dim with coords vertex and hemisphere (as written by "
            f"neurorep.data.from_surface or a surface loader); got dims {values.dims}, missing "
            f"{missing}."
        )
    hemi = set(np.asarray(values["hemisphere"].values).tolist())
    if not hemi <= set(HEMISPHERES):
        raise SchemaError(
            f"{name}: hemisphere must be 'left' or 'right'; got {sorted(map(str, hemi))}."
        )
    return values


def surface_arrays(
    values: xr.DataArray, mesh: Any, *, fill: float = np.nan, name: str = "to_surface"
) -> dict[str, np.ndarray]:
    """``{"left": (n_vertices, ...), "right": ...}`` with each unit at its vertex.

    Parameters
    ----------
    values : DataArray
        Anything with a ``unit`` dim whose units carry ``vertex`` and
        ``hemisphere`` coords (as :func:`from_surface` writes).
    mesh : PolyMesh
        The mesh the vertex indices refer to (:func:`load_mesh` gives one).
    fill : float, optional
        Value of vertices without a unit (default NaN).
    name : str, optional
        The caller's name in error messages.

    Returns
    -------
    dict
        ``"left"`` / ``"right"`` -> ndarray ``(n_vertices, *other dims)``.

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep import data
    >>> resp = data.from_surface(np.arange(10242.0), np.arange(10242.0), mesh="fsaverage5")
    >>> arrays = data.surface_arrays(resp.isel(stimulus=0), data.load_mesh("fsaverage5"))
    >>> arrays["left"].shape
    (10242,)
    """
    values = _surface_layout(values, name)
    other = [d for d in values.dims if d != "unit"]
    v = values.transpose("unit", *other)
    data = np.asarray(v.values, dtype=np.float64)
    hemi = np.asarray(values["hemisphere"].values)
    vert = np.asarray(values["vertex"].values).astype(np.int64)
    out: dict[str, np.ndarray] = {}
    for h in HEMISPHERES:
        n = int(mesh.parts[h].n_vertices)
        sel = hemi == h
        if sel.any() and (vert[sel].max() >= n or vert[sel].min() < 0):
            raise SchemaError(
                f"{name}: {h} vertices go up to {int(vert[sel].max())}, but the mesh's {h} "
                f"hemisphere has {n} vertices: the values are on a finer mesh. Pass that mesh, "
                f"or keep vertex < {n} (an fsaverage mesh's first vertices are the coarser "
                f"mesh's)."
            )
        if np.unique(vert[sel]).size != int(sel.sum()):
            raise SchemaError(f"{name}: a {h} vertex appears more than once among the units.")
        arr = np.full((n, *data.shape[1:]), fill, dtype=np.float64)
        arr[vert[sel]] = data[sel]
        out[h] = arr
    return out


def to_surface(
    values: xr.DataArray,
    *,
    mesh: Any = "fsaverage5",
    filename: str | Path | None = None,
    fill: float = np.nan,
) -> Any:
    """Put per-vertex values on a mesh: a nilearn ``SurfaceImage`` (and files).

    Parameters
    ----------
    values : DataArray with a ``unit`` dim and coords ``vertex``, ``hemisphere``
        A score map ``(unit,)``, responses ``(stimulus, unit)``, scores
        ``(model, unit)``...; every other dim becomes the image's samples.
    mesh : str or nilearn PolyMesh
        ``"fsaverage5"`` (default; shipped with nilearn) or your mesh.
    filename : path, optional
        Also write one file per hemisphere: a template with ``{hemi}``
        (``"lh"`` / ``"rh"``), e.g. ``"scores_{hemi}.gii"`` or
        ``"{hemi}.scores.mgh"``; GIfTI for ``.gii``, MGH for ``.mgh``/``.mgz``.
    fill : float
        Value of vertices without a unit (default NaN).

    Returns
    -------
    nilearn.surface.SurfaceImage
        Data ``(n_vertices,)`` per hemisphere for a map, ``(n_vertices,
        n_samples)`` otherwise; ``fill`` where no unit sits.

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep import data
    >>> resp = data.from_surface(np.arange(10242.0), np.arange(10242.0), mesh="fsaverage5")
    >>> img = data.to_surface(resp.isel(stimulus=0))
    >>> img.shape
    (20484,)
    """
    import nibabel as nib
    from nilearn.surface import SurfaceImage

    poly = load_mesh(mesh)
    arrays = surface_arrays(values, poly, fill=fill)
    img = SurfaceImage(mesh=poly, data=arrays)
    if filename is not None:
        template = str(filename)
        if "{hemi}" not in template:
            raise ValueError(
                f"to_surface: filename must contain '{{hemi}}' (one file per hemisphere, e.g. "
                f"'map_{{hemi}}.gii'); got {template!r}."
            )
        for h, short in (("left", "lh"), ("right", "rh")):
            path = Path(template.format(hemi=short))
            arr = arrays[h].astype(np.float32)
            if path.name.lower().endswith(".gii"):
                cols = arr.reshape(arr.shape[0], -1)
                gii = nib.gifti.GiftiImage(
                    darrays=[nib.gifti.GiftiDataArray(cols[:, i]) for i in range(cols.shape[1])]
                )
                nib.save(gii, path)
            elif path.name.lower().endswith((".mgh", ".mgz")):
                nib.save(nib.MGHImage(arr.reshape(arr.shape[0], 1, 1, -1), np.eye(4)), path)
            else:
                raise ValueError(
                    f"to_surface: {str(path)!r} must end in .gii, .mgh or .mgz."
                )
    return img


def surface_neighbourhoods(
    values: xr.DataArray,
    *,
    mesh: Any = "fsaverage5",
    radius: float = 10.0,
    distance: str = "geodesic",
) -> list[np.ndarray]:
    """Unit positions within ``radius`` mm of each unit on the mesh (same hemisphere).

    ``distance="geodesic"`` measures along the mesh's edges (Dijkstra over
    the edge graph, an upper bound of the true geodesic distance that is
    close to it on a fine mesh); ``"euclidean"`` in straight lines
    (3-D, so across sulci too).

    Parameters
    ----------
    values : DataArray
        Anything with a ``unit`` dim whose units carry ``vertex`` and
        ``hemisphere`` coords (as :func:`from_surface` writes).
    mesh : str or PolyMesh, optional
        The mesh (default ``"fsaverage5"``, see :func:`load_mesh`).
    radius : float, optional
        Neighbourhood radius in mm (default 10).
    distance : {"geodesic", "euclidean"}, optional
        Along the mesh (default) or in straight lines.

    Returns
    -------
    list of ndarray
        One integer array per unit: the positions (along ``unit``) of the
        units within ``radius`` of it, itself included.

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep import data
    >>> resp = data.from_surface(np.arange(10242.0), np.arange(10242.0), mesh="fsaverage5")
    >>> hoods = data.surface_neighbourhoods(resp.isel(unit=slice(0, 50)), radius=5.0)
    >>> len(hoods), int(hoods[0][0])
    (50, 0)
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import dijkstra
    from scipy.spatial import cKDTree

    values = _surface_layout(values, "surface_neighbourhoods")
    if distance not in ("geodesic", "euclidean"):
        raise ValueError(f"distance must be one of ['geodesic', 'euclidean']; got {distance!r}.")
    poly = load_mesh(mesh)
    hemi = np.asarray(values["hemisphere"].values)
    vert = np.asarray(values["vertex"].values).astype(np.int64)
    surface_arrays(values.isel({d: 0 for d in values.dims if d != "unit"}), poly, name="searchlight")
    out: list[np.ndarray] = [np.empty(0, dtype=np.int64)] * vert.size
    for h in HEMISPHERES:
        pos = np.flatnonzero(hemi == h)
        if pos.size == 0:
            continue
        part = poly.parts[h]
        xyz = np.asarray(part.coordinates, dtype=float)
        lookup = np.full(xyz.shape[0], -1, dtype=np.int64)
        lookup[vert[pos]] = pos
        if distance == "euclidean":
            tree = cKDTree(xyz[vert[pos]])
            for p, members in zip(pos, tree.query_ball_point(xyz[vert[pos]], r=radius), strict=True):
                out[p] = np.sort(pos[np.asarray(members, dtype=np.int64)])
            continue
        faces = np.asarray(part.faces, dtype=np.int64)
        a = np.concatenate([faces[:, 0], faces[:, 1], faces[:, 2]])
        b = np.concatenate([faces[:, 1], faces[:, 2], faces[:, 0]])
        w = np.linalg.norm(xyz[a] - xyz[b], axis=1)
        n = xyz.shape[0]
        graph = coo_matrix((w, (a, b)), shape=(n, n)).tocsr()
        graph = graph.maximum(graph.T)
        for lo in range(0, pos.size, 256):  # blocks of seeds: a dense row per seed
            block = pos[lo : lo + 256]
            dist = dijkstra(graph, directed=False, indices=vert[block], limit=radius)
            for row, p in enumerate(block):
                units = lookup[np.flatnonzero(np.isfinite(dist[row]))]
                out[p] = np.sort(units[units >= 0])
    return out


__all__: Sequence[str] = ("from_surface", "load_mesh", "surface_neighbourhoods", "to_surface")
