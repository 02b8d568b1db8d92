"""Pereira et al. (2018) per-participant voxel data (OSF crwz7) from its own layout.

Layout (the OSF project osf.io/crwz7 and its data description,
web.mit.edu/evlab: "Pereira 2018 data"; read the same way by its users' code):
one folder per participant (``P01``, ``M01`` ...) holding MATLAB v5 files

* experiment 1: ``data_180concepts_{pictures,sentences,wordclouds}.mat`` with
  ``examples`` ``(180, n_voxels)`` and ``keyConcept`` (the 180 words);
* experiments 2 and 3: ``data_384sentences.mat`` / ``data_243sentences.mat``
  with ``examples_passagesentences`` ``(n_sentences, n_voxels)``,
  ``keySentences`` and ``labelsPassageForEachSentence``;
* every file: ``meta`` with ``colToCoord`` ``(n_voxels, 3)``, the 1-based
  voxel indices of each column, and ``dimensions`` (the volume's shape).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
import xarray as xr

from neurorep._core.errors import MissingDataError, SchemaError, check_option
from neurorep.data import responses
from neurorep.datasets._common_tree import manifest_tree
from neurorep.datasets._fetch import default_data_home
from neurorep.datasets._lazy import UNIT_CHUNK, read_mat, require_files

EXPERIMENTS = (
    "180concepts_pictures",
    "180concepts_sentences",
    "180concepts_wordclouds",
    "384sentences",
    "243sentences",
)
_FIX = (
    "Download the participants' folders (linked from evlab.mit.edu/sites/default/files/"
    "documents/index2.html; materials on osf.io/crwz7) into "
    "data_home/pereira2018_full/, or pass participants=[...] for those you have."
)


def _strings(cell: Any) -> list[str]:
    return [str(np.asarray(c).ravel()[0]) for c in np.asarray(cell, dtype=object).ravel()]


def load_pereira2018_full(
    data_home: str | Path | None = None,
    *,
    experiment: Literal[
        "180concepts_pictures",
        "180concepts_sentences",
        "180concepts_wordclouds",
        "384sentences",
        "243sentences",
    ] = "384sentences",
    participants: list[str] | None = None,
    verify: bool = True,
) -> xr.DataTree:
    """Pereira 2018 voxel responses of every participant of one experiment.

    Parameters
    ----------
    data_home : path, optional
        Folder holding ``pereira2018_full/<participant>/``.
    experiment : str
        Which file (see the module docstring).
    participants : list of str, optional
        Participant folders to read; default every folder that holds the
        experiment's file.
    verify : bool
        Accepted for :func:`neurorep.datasets.load` (no published checksums).

    Returns
    -------
    DataTree
        One member per participant: responses ``(stimulus, unit)`` (dask,
        chunked along voxels; the v5 ``.mat`` is read whole first) with
        stimulus ids = the concept word (experiment 1) or
        ``<experiment>-sNNN``, coord ``text`` (the word or sentence) and
        ``passage`` (experiments 2, 3); unit coords ``i, j, k`` (0-based voxel
        indices), ``region`` (``"whole brain"``), ``subject``; attr
        ``volume_shape``.

    Examples
    --------
    >>> from neurorep import datasets
    >>> tree = datasets.load_pereira2018_full("~/data", experiment="243sentences")  # doctest: +SKIP
    """
    import dask.array as da

    check_option("experiment", experiment, EXPERIMENTS)
    root = (Path(data_home).expanduser() if data_home is not None else default_data_home()) / "pereira2018_full"
    fname = f"data_{experiment}.mat"
    if participants is None:
        participants = sorted(p.name for p in root.glob("*") if (p / fname).is_file())
        if not participants:
            raise MissingDataError(
                f"pereira2018_full: no participant folder under {str(root)!r} holds {fname}. {_FIX}"
            )
    require_files([root / p / fname for p in participants], dataset="pereira2018_full", fix=_FIX)
    items: dict[str, xr.DataArray] = {}
    for p in participants:
        path = root / p / fname
        key = "examples" if experiment.startswith("180") else "examples_passagesentences"
        text_key = "keyConcept" if experiment.startswith("180") else "keySentences"
        mat = read_mat(path, dataset="pereira2018_full", keys=(key, text_key, "meta"),
                       redownload="download it again (linked from evlab.mit.edu/sites/default/files/documents/index2.html)",
                       missing=f"it is not a Pereira 2018 {experiment} file.")
        x = np.asarray(mat[key], dtype=np.float32)
        text = _strings(mat[text_key])
        meta = mat["meta"][0, 0]
        coords = np.asarray(meta["colToCoord"], dtype=np.int64) - 1
        if coords.shape != (x.shape[1], 3) or len(text) != x.shape[0]:
            raise SchemaError(
                f"pereira2018_full: {str(path)!r}: {x.shape[1]} voxel columns but colToCoord "
                f"{coords.shape}, {x.shape[0]} rows but {len(text)} {text_key}; the file is "
                f"incomplete. {_FIX}"
            )
        stim_coords: dict[str, Any] = {"text": text}
        if experiment.startswith("180"):
            ids = text
        else:
            ids = [f"{experiment}-s{i:03d}" for i in range(len(text))]
            if "labelsPassageForEachSentence" in mat:
                stim_coords["passage"] = np.asarray(mat["labelsPassageForEachSentence"]).ravel().astype(int)
        attrs: dict[str, Any] = {"experiment": experiment}
        if "dimensions" in meta.dtype.names:
            attrs["volume_shape"] = [int(d) for d in np.asarray(meta["dimensions"]).ravel()]
        items[p] = responses(
            da.from_array(x, chunks=(-1, UNIT_CHUNK)),
            stimulus=ids,
            unit=[f"{p}-v{i}-{j}-{k}" for i, j, k in coords],
            region="whole brain",
            subject=p,
            stimulus_coords=stim_coords,
            unit_coords={"i": coords[:, 0], "j": coords[:, 1], "k": coords[:, 2]},
            attrs=attrs,
        )
    return manifest_tree("pereira2018_full", items)
