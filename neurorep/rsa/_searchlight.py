"""Searchlight RSA over a volume: one RDM per sphere, compared with model RDMs.

Sphere neighbourhoods come from nilearn (``apply_mask_and_get_affinity``,
the helper behind ``NiftiSpheresMasker``); chunks of spheres run in parallel
as dask tasks (the threaded scheduler by default, or a
``dask.distributed.Client`` if one is active), each computing its RDMs with
the BLAS kernels of :func:`compute_rdm` and scoring them against all models
with one call of the comparison kernel.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import xarray as xr

from neurorep._core.compare import COMPARE_METHODS, compare_vectors, inference_method
from neurorep._core.condensed import condensed
from neurorep._core.errors import SchemaError, check_int, check_option, check_real
from neurorep._core.parallel import one_blas_thread
from neurorep.data import align, validate
from neurorep.rsa._compare import CompareMethod, _as_rdm
from neurorep.rsa._rdm import (
    METRICS,
    Metric,
    _metric_values,
    _precision_operator,
    _scale_exponent,
)

__all__ = ["searchlight"]


def _sphere_members(resp: xr.DataArray, radius: float) -> list[np.ndarray]:
    """Unit positions inside the sphere around each unit (nilearn neighbourhoods)."""
    import nibabel as nib

    try:
        from nilearn.maskers.nifti_spheres_masker import apply_mask_and_get_affinity
    except ImportError:  # nilearn < 0.12
        from nilearn.maskers.nifti_spheres_masker import (  # type: ignore[attr-defined,no-redef]
            _apply_mask_and_get_affinity as apply_mask_and_get_affinity,
        )
    affine = np.asarray(resp.attrs["affine"], dtype=float).reshape(4, 4)
    shape = tuple(int(s) for s in resp.attrs["volume_shape"])
    ijk = np.stack([np.asarray(resp[c].values).astype(int) for c in ("i", "j", "k")], axis=1)
    mask = np.zeros(shape, dtype=np.int8)
    mask[ijk[:, 0], ijk[:, 1], ijk[:, 2]] = 1
    mask_img = nib.Nifti1Image(mask, affine)
    seeds = (affine @ np.c_[ijk, np.ones(len(ijk))].T).T[:, :3]
    _, adjacency = apply_mask_and_get_affinity(
        seeds, None, radius, allow_overlap=True, mask_img=mask_img
    )
    # nilearn orders mask voxels as np.nonzero(mask) (C order); map them to unit positions
    lookup = np.full(shape, -1, dtype=np.int64)
    lookup[ijk[:, 0], ijk[:, 1], ijk[:, 2]] = np.arange(len(ijk))
    order = lookup[np.nonzero(mask)]
    rows = adjacency.tocsr() if hasattr(adjacency, "tocsr") else adjacency
    return [np.sort(order[rows[c].indices]) for c in range(len(ijk))]


def _chunk_scores(*args: Any) -> tuple[np.ndarray, np.ndarray]:
    """One dask task: many small GEMMs, so one BLAS thread (dask runs tasks in parallel)."""
    with one_blas_thread():
        return _chunk_scores_kernel(*args)


def _chunk_scores_kernel(
    values: np.ndarray,
    spheres: list[np.ndarray],
    model_vecs: np.ndarray,
    metric: str,
    method: str,
    noise: str | None,
    normalize: bool,
) -> tuple[np.ndarray, np.ndarray]:
    n = values.shape[0]
    iu, ju = np.triu_indices(n, 1)
    vecs = np.full((len(spheres), iu.size), np.nan)
    for c, idx in enumerate(spheres):
        x = values[..., idx]
        p = float(idx.size) if normalize else 1.0
        try:
            prec = _precision_operator(x, noise) if noise else None
            if x.ndim == 3 and not METRICS[metric].runs:  # repetitions averaged
                x = x.mean(axis=1)
            d = _metric_values(x, metric, prec, p)
        except SchemaError:  # e.g. a sphere with a constant pattern: no score there
            continue
        vecs[c] = d[iu, ju]
    ok = ~np.isnan(vecs).any(axis=1)
    out = np.full((len(spheres), model_vecs.shape[0]), np.nan)
    if ok.any():
        out[ok] = compare_vectors(vecs[ok], model_vecs, method)
    return out, ok


def searchlight(
    responses: xr.DataArray,
    models: xr.DataArray | Mapping[str, xr.DataArray],
    *,
    radius: float = 6.0,
    metric: Metric = "correlation",
    method: CompareMethod = "corr",
    noise: Literal["shrinkage_diag", "shrinkage_eye", "diag"] | None = None,
    normalize: bool = True,
    min_voxels: int = 2,
    chunk_size: int = 500,
    scheduler: str | None = None,
    mesh: Any = "fsaverage5",
    distance: Literal["geodesic", "euclidean"] = "geodesic",
) -> xr.DataArray:
    """Searchlight RSA: compare the RDM in a sphere around every voxel with model RDMs.

    On a cortical surface (units with ``vertex`` and ``hemisphere`` coords,
    from :func:`neurorep.data.from_surface` or a surface loader) the
    neighbourhood of a vertex is the disc of ``radius`` mm around it on
    ``mesh``, within its hemisphere (see
    :func:`neurorep.data.surface_neighbourhoods`).

    Parameters
    ----------
    responses : DataArray
        Dims ``(stimulus, unit)`` or ``(stimulus, repetition, unit)``.
        Voxel responses from :func:`neurorep.data.from_nifti` (units carry
        ``i, j, k`` and attrs ``affine``, ``volume_shape``).
    models : DataArray or mapping
        Model RDMs: a stack ``(model, stimulus_i, stimulus_j)``, one RDM, or
        name -> RDM; stimuli matched by id.
    radius : float
        Sphere radius in mm (world coordinates).
    metric : str
        RDM metric in each sphere (see :func:`compute_rdm`); ``crossnobis``
        needs the repetition (run) dim.
    method : str
        Comparison method (see :func:`compare`); a distance (``bures_metric``)
        is refused, as by :func:`evaluate`: use ``bures``, its similarity.
    noise : str, optional
        Noise-precision estimator per sphere for mahalanobis / crossnobis.
    normalize : bool, optional
        Divide each sphere's distances by its number of voxels (default
        True), so spheres of different sizes give distances on one scale.
    min_voxels : int
        Spheres with fewer voxels get NaN.
    chunk_size : int
        Spheres per dask task.
    scheduler : str, optional
        dask scheduler name ("threads", "processes", "synchronous"); default:
        dask's current default (a distributed Client if one is active).
    mesh : str or nilearn PolyMesh
        Surface responses only: the mesh of the vertices (default
        ``"fsaverage5"``, shipped with nilearn).
    distance : {"geodesic", "euclidean"}
        Surface responses only: distance along the mesh or in 3-D.

    Returns
    -------
    DataArray
        Dims ``(model, unit)``.
        One score per model and sphere centre; unit coords and the
        ``affine`` / ``volume_shape`` attrs are kept, so
        ``neurorep.data.to_nifti(result.sel(model=name))`` gives a map. The
        coord ``n_voxels`` counts the voxels in each sphere.

    Examples
    --------
    >>> import numpy as np, nibabel as nib
    >>> from neurorep import data, rsa
    >>> g = np.random.default_rng(0)
    >>> mask = nib.Nifti1Image(np.ones((4, 4, 2), dtype=np.int8), np.eye(4))
    >>> imgs = nib.Nifti1Image(g.normal(size=(4, 4, 2, 5)), np.eye(4))
    >>> resp = data.from_nifti(imgs, mask, stimulus=list("abcde"))
    >>> model = rsa.compute_rdm(resp)
    >>> rsa.searchlight(resp, model, radius=1.5).dims
    ('model', 'unit')
    """
    import dask

    check_option("metric", metric, METRICS)
    meth = inference_method(method, "searchlight")  # a map reads higher = more similar
    check_real(getattr(responses, "data", responses), name="responses")
    validate(responses, kind="responses", name="responses")
    if "stimulus" not in responses.dims:
        raise SchemaError(
            "searchlight: responses need a stimulus dim (one pattern per stimulus); got a time "
            "series. Estimate per-stimulus patterns first."
        )
    on_surface = "vertex" in responses.coords and "hemisphere" in responses.coords
    missing = [c for c in ("i", "j", "k") if c not in responses.coords]
    missing += [a for a in ("affine", "volume_shape") if a not in responses.attrs]
    if missing and not on_surface:
        raise SchemaError(
            f"searchlight: responses need voxel coords i, j, k and attrs affine, volume_shape "
            f"(as written by neurorep.data.from_nifti), or vertex and hemisphere coords on a "
            f"surface (neurorep.data.from_surface); missing {missing}."
        )
    if METRICS[metric].runs and "repetition" not in responses.dims:
        raise SchemaError(
            f"searchlight: {metric} needs responses (stimulus, repetition, unit) with "
            f"repetition = run."
        )
    if noise is not None and "repetition" not in responses.dims:
        raise SchemaError(
            "searchlight: noise= is estimated from run residuals; responses need dims "
            "(stimulus, repetition, unit) with repetition = run."
        )
    if radius <= 0:
        raise ValueError(f"radius must be > 0 mm; got {radius}.")
    chunk_size = check_int(
        "chunk_size", chunk_size, minimum=1,
        fix="It is the number of spheres per dask task, e.g. chunk_size=500.",
    )
    min_voxels = check_int("min_voxels", min_voxels, minimum=1)
    if METRICS[metric].noise == "required" and noise is None:
        raise SchemaError(
            f"searchlight: metric={metric!r} needs noise= (an estimator name such as "
            f"'shrinkage_diag', fitted per sphere); without it use 'squared_euclidean'."
        )
    model_rdm = _as_rdm(models, "models", "model")
    if model_rdm.ndim == 2:
        model_rdm = model_rdm.expand_dims(model=[str(model_rdm.attrs.get("name", "model"))])
    dummy = xr.DataArray(
        np.zeros((responses.sizes["stimulus"],) * 2),
        dims=("stimulus_i", "stimulus_j"),
        coords={
            "stimulus_i": responses["stimulus"].values,
            "stimulus_j": responses["stimulus"].values,
        },
    )
    _, model_rdm = align(dummy, model_rdm, names=("responses", "models"))
    if responses.sizes["stimulus"] < 3:
        raise SchemaError("searchlight: needs at least 3 stimuli.")
    n_stim = model_rdm.shape[-1]
    model_vecs = condensed(np.asarray(model_rdm.values, dtype=np.float64))
    model_vecs = model_vecs.reshape(-1, n_stim * (n_stim - 1) // 2)  # (models, pairs)
    values = np.asarray(responses.transpose(*responses.dims).values, dtype=np.float64)
    # divide by a power of two (exact): sphere RDMs neither overflow nor underflow; only
    # scale-free comparison methods give the same scores on the rescaled RDMs
    e, peak = _scale_exponent(values)
    if e and not COMPARE_METHODS[meth].scale_free:
        raise ValueError(
            f"searchlight: method={meth!r} depends on the RDMs' scale, and responses with "
            f"max |value| = {peak:.3g} (outside 2**-64 .. 2**64) give sphere RDMs that "
            f"overflow or underflow. Rescale the responses first, e.g. "
            f"responses / float(abs(responses).max()), or use a scale-free method such as "
            f"'corr' or 'cosine'."
        )
    if e:
        values = np.ldexp(values, -e)
    if on_surface:
        from neurorep.data import surface_neighbourhoods

        spheres = surface_neighbourhoods(responses, mesh=mesh, radius=radius, distance=distance)
    else:
        spheres = _sphere_members(responses, radius)
    sizes = np.array([s.size for s in spheres])
    tasks = []
    bounds = list(range(0, len(spheres), max(1, chunk_size)))
    for lo in bounds:
        chunk = spheres[lo : lo + chunk_size]
        tasks.append(
            dask.delayed(_chunk_scores)(values, chunk, model_vecs, metric, meth, noise, normalize)
        )
    # the caller's thread holds the one-BLAS-thread limit for every task: limits set and
    # restored inside concurrent tasks could restore a stale count while others still run
    with one_blas_thread():
        results = (dask.compute(*tasks, scheduler=scheduler) if scheduler
                   else dask.compute(*tasks))
    scores = np.concatenate([r[0] for r in results], axis=0)
    scores[sizes < min_voxels] = np.nan
    lead = model_rdm.dims[0]
    unit_coords = {
        name: (("unit",), np.asarray(c.values))
        for name, c in responses.coords.items()
        if c.dims == ("unit",)
    }
    out = xr.DataArray(
        scores.T,
        dims=("model", "unit"),
        coords={
            "model": np.asarray(model_rdm[lead].values),
            **unit_coords,
            "n_voxels": ("unit", sizes),
        },
        name="score",
        attrs={
            **{k: v for k, v in responses.attrs.items() if k in ("affine", "volume_shape")},
            **({"mesh": str(responses.attrs.get("mesh", mesh)), "distance": distance}
               if on_surface else {}),
            "radius_mm": float(radius),
            "metric": metric,
            "method": meth,
        },
    )
    return out
