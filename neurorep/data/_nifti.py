"""Volumes <-> responses through a nilearn masker; voxels keep their indices."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr

from neurorep._core.errors import SchemaError
from neurorep.data._schema import IdsLike, responses


def from_nifti(
    imgs: Any,
    mask_img: Any,
    *,
    stimulus: IdsLike | None = None,
    stimulus_coords: Mapping[str, Any] | None = None,
    region: Any = None,
    subject: Any = None,
    attrs: Mapping[str, Any] | None = None,
) -> xr.DataArray:
    """Read in-mask voxels of 4-D (or a list of 3-D) images as responses.

    Each volume becomes one row: ``(stimulus, unit)`` when ``stimulus`` ids
    are given (one per volume), otherwise a time series ``(time, unit)``.
    Units carry voxel indices ``i, j, k`` and world coordinates ``x, y, z``
    (mm); the affine and volume shape go to attrs, so :func:`to_nifti` puts
    values back into the same voxels even after a netCDF/zarr round trip.

    The values are read as they are: the mask must already be on the
    images' grid (nothing is resampled), and in-mask voxels must be finite
    (nothing is zero-filled).

    Parameters
    ----------
    imgs : niimg-like
        A 4-D image, a path to one, or a list of 3-D images.
    mask_img : niimg-like
        Binary mask with the images' shape and affine.
    stimulus : sequence, optional
        One id per volume; omit for a time series.
    stimulus_coords : mapping, optional
        Per-volume coordinates (``run``, ``label``...).
    region, subject : scalar or sequence, optional
        Per-voxel coordinates.
    attrs : mapping, optional
        Provenance, stored with ``affine`` and ``volume_shape``.

    Returns
    -------
    DataArray
        ``(stimulus, unit)`` or ``(time, unit)``.

    Raises
    ------
    SchemaError
        When the mask is on another grid (shape or affine) than the images,
        selects no voxel, or when in-mask voxels hold NaN/inf.

    Examples
    --------
    >>> import numpy as np, nibabel as nib
    >>> from neurorep import data
    >>> vols = nib.Nifti1Image(np.arange(24.0).reshape(2, 2, 2, 3), np.eye(4))
    >>> mask = nib.Nifti1Image(np.ones((2, 2, 2), dtype=np.uint8), np.eye(4))
    >>> data.from_nifti(vols, mask, stimulus=["a", "b", "c"]).shape
    (3, 8)
    """
    from nilearn.image import load_img, new_img_like
    from nilearn.maskers import NiftiMasker

    mask = load_img(mask_img)
    img = load_img(imgs)
    if img.shape[:3] != mask.shape[:3] or not np.allclose(img.affine, mask.affine):
        raise SchemaError(
            f"from_nifti: the mask is on another grid than the images (mask shape "
            f"{mask.shape[:3]}, affine {np.round(mask.affine, 3).tolist()}; images shape "
            f"{img.shape[:3]}, affine {np.round(img.affine, 3).tolist()}); neurorep does not "
            f"resample silently. Resample the mask onto the images first: "
            f"nilearn.image.resample_to_img(mask_img, imgs, interpolation='nearest')."
        )
    in_mask = np.asarray(mask.get_fdata()) != 0
    if not in_mask.any():
        raise SchemaError("from_nifti: the mask selects no voxel; check mask_img.")
    arr = np.asanyarray(img.dataobj)
    if arr.dtype.kind not in "iub":
        _check_voxels_finite(arr, in_mask)
    masker = NiftiMasker(mask_img=mask, standardize=None, detrend=False).fit()
    values = masker.transform(new_img_like(img, arr, copy_header=True))
    values = values.reshape(-1, values.shape[-1])  # a single 3-D image: one row
    ijk = np.argwhere(in_mask)
    if values.shape[1] != len(ijk):  # nilearn read the mask otherwise: voxel labels would be wrong
        raise SchemaError(
            f"from_nifti: the masker kept {values.shape[1]} voxels but the mask has "
            f"{len(ijk)} non-zero voxels; pass a binary (0/1) mask."
        )
    # nilearn orders in-mask voxels as numpy's C-order boolean indexing does
    xyz = (mask.affine @ np.c_[ijk, np.ones(len(ijk))].T).T[:, :3]
    unit_coords = {
        "i": ijk[:, 0],
        "j": ijk[:, 1],
        "k": ijk[:, 2],
        "x": xyz[:, 0],
        "y": xyz[:, 1],
        "z": xyz[:, 2],
    }
    unit_ids = [f"v{a}_{b}_{c}" for a, b, c in ijk]
    meta = {
        "affine": np.asarray(mask.affine, dtype=float).ravel().tolist(),
        "volume_shape": list(mask.shape[:3]),
        **dict(attrs or {}),
    }
    return responses(
        values.astype(np.float32, copy=False),
        stimulus=stimulus,
        unit=unit_ids,
        time=stimulus is None,
        region=region,
        subject=subject,
        stimulus_coords=stimulus_coords,
        unit_coords=unit_coords,
        attrs=meta,
    )


def _check_voxels_finite(arr: np.ndarray, in_mask: np.ndarray) -> None:
    """Refuse NaN/inf in in-mask voxels (nilearn's masker would turn them into 0)."""
    voxels = arr[in_mask]  # (n_voxel,) or (n_voxel, n_volume)
    bad = ~np.isfinite(voxels)
    if not bad.any():
        return
    bad_voxel = bad if bad.ndim == 1 else bad.any(axis=1)
    first = np.argwhere(in_mask)[int(np.argmax(bad_voxel))].tolist()
    raise SchemaError(
        f"from_nifti: {int(bad.sum())} NaN/inf value(s) in {int(bad_voxel.sum())} in-mask "
        f"voxel(s), e.g. voxel (i, j, k) = {tuple(first)}; they would be read as 0. Drop "
        f"those voxels from the mask (e.g. mask & np.isfinite(data).all(axis=-1)) or impute "
        f"them first."
    )


def to_nifti(values: xr.DataArray, *, mask_img: Any = None) -> Any:
    """Put per-unit values back into a volume (3-D for ``(unit,)``, 4-D otherwise).

    Uses the ``i, j, k`` unit coordinates and the ``affine`` / ``volume_shape``
    attrs written by :func:`from_nifti`; with ``mask_img`` instead, a nilearn
    ``NiftiMasker.inverse_transform`` is used (units must then be all in-mask
    voxels in mask order). Voxels outside the units are 0.

    Parameters
    ----------
    values : DataArray
        ``(unit,)`` (a map, e.g. scores) or ``(rows, unit)``, with the ``i, j,
        k`` unit coords and ``affine`` / ``volume_shape`` attrs of
        :func:`from_nifti` (or in-mask units in mask order with ``mask_img``).
    mask_img : Nifti1Image or path, optional
        The brain mask the units came from; needed when the voxel indices or
        the attrs are missing.

    Returns
    -------
    nibabel.Nifti1Image
        A 3-D image for ``(unit,)`` values, 4-D (one volume per row)
        otherwise; float32, 0 outside the units.

    Examples
    --------
    >>> import numpy as np, nibabel as nib
    >>> from neurorep import data
    >>> vols = nib.Nifti1Image(np.arange(24.0).reshape(2, 2, 2, 3), np.eye(4))
    >>> mask = nib.Nifti1Image(np.ones((2, 2, 2), dtype=np.uint8), np.eye(4))
    >>> resp = data.from_nifti(vols, mask, stimulus=["a", "b", "c"])
    >>> data.to_nifti(resp.isel(stimulus=0)).shape
    (2, 2, 2)
    """
    import nibabel as nib

    if values.dims[-1] != "unit" or values.ndim > 2:
        raise SchemaError(
            f"to_nifti: values must have dims ('unit',) or (rows, 'unit'); got {values.dims}."
        )
    data = np.asarray(values.values, dtype=np.float32)
    if all(c in values.coords for c in ("i", "j", "k")):
        affine = values.attrs.get("affine")
        shape = values.attrs.get("volume_shape")
        if affine is None or shape is None:
            if mask_img is None:
                raise SchemaError(
                    "to_nifti: values have voxel indices but no 'affine'/'volume_shape' attrs; "
                    "pass mask_img= or keep the attrs written by from_nifti()."
                )
            from nilearn.image import load_img

            m = load_img(mask_img)
            affine, shape = np.asarray(m.affine).ravel().tolist(), list(m.shape[:3])
        ijk = np.stack([values[c].values.astype(int) for c in ("i", "j", "k")], axis=1)
        vol_shape = tuple(int(s) for s in shape)
        if values.ndim == 1:
            vol = np.zeros(vol_shape, dtype=np.float32)
            vol[ijk[:, 0], ijk[:, 1], ijk[:, 2]] = data
        else:
            vol = np.zeros((*vol_shape, data.shape[0]), dtype=np.float32)
            vol[ijk[:, 0], ijk[:, 1], ijk[:, 2], :] = data.T
        return nib.Nifti1Image(vol, np.asarray(affine, dtype=float).reshape(4, 4))
    if mask_img is None:
        raise SchemaError(
            "to_nifti: values carry no voxel indices (coords i, j, k); pass mask_img= "
            "(the mask they were extracted with)."
        )
    from nilearn.maskers import NiftiMasker

    masker = NiftiMasker(mask_img=mask_img).fit()
    return masker.inverse_transform(data)
