"""Loaders: a local copy of each mirrored dataset -> schema-valid xarray objects.

Every loader returns a ``DataTree``; :func:`neurorep.data.members` turns it
into ``name -> DataArray``. The root attrs carry the dataset's name, title,
licence, citation and source. A manifest's ``loader=`` names the loader of its
dataset (:func:`loaders`): a public ``load_*`` function of :mod:`neurorep.datasets`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from neurorep.data import rdm, responses, tree_from_members
from neurorep.datasets._fetch import default_data_home, verify_file
from neurorep.datasets._manifest import Manifest, get_manifest, list_datasets
from neurorep.datasets._pickle import load_pickle

IMAGE_IDS = [f"image_{i:02d}" for i in range(1, 93)]

def _loader_functions() -> dict[str, Callable[..., xr.DataTree]]:
    """The loaders a manifest's ``loader=`` may name: the public ``load_*`` functions of
    :mod:`neurorep.datasets` (defined in this module and its siblings), by name."""
    import neurorep.datasets as package

    return {
        name: getattr(package, name)
        for name in package.__all__
        if name.startswith("load_") and callable(getattr(package, name))
    }


def _files(manifest: Manifest, data_home: str | Path | None, verify: bool) -> Path:
    root = Path(data_home) if data_home is not None else default_data_home()
    folder = root / manifest.folder
    missing = [f.name for f in manifest.files if not (folder / f.name).exists()]
    if missing:
        raise FileNotFoundError(
            f"{manifest.name}: {len(missing)} file(s) not found under {str(folder)!r} (e.g. "
            f"{missing[:2]}). Download them with neurorep.datasets.fetch({manifest.name!r}, "
            f"data_home=...) or pass the data_home that holds the {manifest.folder!r} folder."
        )
    if verify:
        for entry in manifest.files:
            verify_file(folder / entry.name, entry, dataset=manifest.name)
    return folder


def _tree(manifest: Manifest, items: dict[str, xr.DataArray]) -> xr.DataTree:
    attrs = {
        "dataset": manifest.name,
        "title": manifest.title,
        "license": manifest.license,
        "citation": list(manifest.citation),
        "source": manifest.source,
    }
    return tree_from_members(items, attrs=attrs)


def _matlab_str(value: Any) -> str:
    return str(np.asarray(value).ravel()[0])


# ----------------------------------------------------------------------------
def _category_coords(folder: Path) -> dict[str, Any]:
    import scipy.io as sio

    sup = sio.loadmat(folder / "Kriegeskorte_Neuron2008_supplementalData.mat")
    stim = sup["stimuli_92objs"][0]
    coords: dict[str, Any] = {"category": [_matlab_str(s["category"]) for s in stim]}
    for flag in ("human", "face", "animal", "natural"):
        coords[flag] = np.array([bool(np.asarray(s[flag]).ravel()[0]) for s in stim])
    coords["animate"] = coords.pop("animal")
    return coords


def load_kriegeskorte2008_92img(data_home: str | Path | None = None, *, verify: bool = True) -> xr.DataTree:
    """Kriegeskorte et al. (2008) 92-image RDMs (rsatoolbox demo data).

    Members: ``human_IT`` (subject 4, session 2), ``monkey_IT``, ``behaviour``
    (subject 16), ``models/<name>`` (8 model RDMs, plus ``V1model`` and
    ``HMAX_natimpatch``), ``alexnet/<layer>`` (raw-feature AlexNet RDMs,
    conv1..fc8, prob). Stimulus coords: ``category``, ``human``, ``face``,
    ``animate``, ``natural``.

    Parameters
    ----------
    data_home : str or Path, optional
        Folder holding the dataset's mirror folder; default
        :func:`default_data_home` (``NEUROREP_DATA`` or the user cache).
    verify : bool, optional
        Check every file's sha256 against the manifest first (default True).

    Returns
    -------
    DataTree
        The members described above, schema-valid (see
        :func:`neurorep.data.validate`).

    Examples
    --------
    Reads the local mirror (skipped without it).

    >>> from neurorep import datasets, data
    >>> tree = datasets.load_kriegeskorte2008_92img()
    >>> data.members(tree)["human_IT"].dims
    ('subject', 'session', 'stimulus_i', 'stimulus_j')
    """
    import scipy.io as sio

    manifest = get_manifest("kriegeskorte2008_92img")
    folder = _files(manifest, data_home, verify)
    cats = _category_coords(folder)
    items: dict[str, xr.DataArray] = {}

    def mk(values: Any, metric: str, **kw: Any) -> xr.DataArray:
        out = rdm(values, stimulus=IMAGE_IDS, metric=metric, **kw)
        return out.assign_coords(
            {k: ("stimulus_i", np.asarray(v)) for k, v in cats.items()}
        )

    brain = sio.loadmat(folder / "92_brainRDMs.mat")["RDMs"]  # (1, 4 subjects, 2 sessions)
    stack = np.stack(
        [[np.asarray(brain[0, s, t]["RDM"], float) for t in range(2)] for s in range(4)]
    )
    hit = xr.DataArray(stack, dims=("subject", "session", "stimulus_i", "stimulus_j"))
    subjects = [_matlab_str(brain[0, s, 0]["name"]).split("|")[1].strip() for s in range(4)]
    hit = hit.assign_coords(
        subject=subjects, session=[1, 2], stimulus_i=IMAGE_IDS, stimulus_j=IMAGE_IDS
    )
    hit = hit.assign_coords({k: ("stimulus_i", np.asarray(v)) for k, v in cats.items()})
    hit.attrs = {"metric": "correlation", "region": "human IT (316 voxels)"}
    items["human_IT"] = hit.rename("rdm")

    sup = sio.loadmat(folder / "Kriegeskorte_Neuron2008_supplementalData.mat")
    fig1 = sup["RDMs_mIT_hIT_fig1"][0]
    items["monkey_IT"] = mk(np.asarray(fig1[0]["RDM"], float).ravel(), "correlation")
    items["monkey_IT"].attrs["region"] = "monkey IT (674 neurons)"

    behav = sio.loadmat(folder / "92_behavRDMs.mat")["rdms_behav_92"][0]
    items["behaviour"] = mk(
        np.stack([np.asarray(b["RDM"], float) for b in behav]),
        "dissimilarity judgement",
        dim="subject",
        index=[f"S{i + 1:02d}" for i in range(len(behav))],
    )

    models = sio.loadmat(folder / "92_modelRDMs.mat")["Models"][0]
    for m in models:
        name = _matlab_str(m["name"])
        items[f"models/{name}"] = mk(_symmetric(np.asarray(m["RDM"], float)), "model")
    v1 = sio.loadmat(folder / "rdm92_V1model.mat")
    items["models/V1model"] = mk(_symmetric(v1["rdm92_V1model"]), "model")
    items["models/HMAX_natimpatch"] = mk(_symmetric(v1["rdm92_HMAXnatImPatch"]), "model")

    alex = sio.loadmat(folder / "modelRDMs_A2020.mat")["modelRDMs"][0]
    for m in alex:
        if _matlab_str(m["measModelName"]) == "complete":
            layer = _matlab_str(m["reprName"])
            # raw-feature distances from the A2020 file (values ~1e8: Euclidean-type, not 1 - r)
            items[f"alexnet/{layer}"] = mk(np.asarray(m["RDM"], float).ravel(), "A2020 complete-feature distance")
    return _tree(manifest, items)


def _symmetric(mat: np.ndarray) -> np.ndarray:
    mat = np.asarray(mat, float)
    mat = (mat + mat.T) / 2
    np.fill_diagonal(mat, 0.0)
    return mat


def load_cichy2014_92img(data_home: str | Path | None = None, *, verify: bool = True) -> xr.DataTree:
    """Cichy et al. (2014) 92-image fMRI RDMs (1 - Pearson), EVC and IT, 15 subjects.

    Members ``EVC`` and ``IT``: rdm ``(subject, stimulus_i, stimulus_j)``.
    Stimulus coord ``image``: the jpg path when the image folder is present.

    Parameters
    ----------
    data_home : str or Path, optional
        Folder holding the dataset's mirror folder; default
        :func:`default_data_home` (``NEUROREP_DATA`` or the user cache).
    verify : bool, optional
        Check every file's sha256 against the manifest first (default True).

    Returns
    -------
    DataTree
        The members described above, schema-valid (see
        :func:`neurorep.data.validate`).

    Examples
    --------
    Reads the local mirror (skipped without it).

    >>> from neurorep import datasets, data
    >>> tree = datasets.load_cichy2014_92img()
    >>> data.members(tree)["IT"].sizes["subject"]
    15
    """
    import h5py

    manifest = get_manifest("cichy2014_92img")
    folder = _files(manifest, data_home, verify)
    items: dict[str, xr.DataArray] = {}
    with h5py.File(folder / "target_fmri.mat", "r") as f:
        for region in ("EVC", "IT"):
            vals = np.transpose(np.asarray(f[f"{region}_RDMs"], float), (2, 0, 1))
            vals = (vals + np.swapaxes(vals, 1, 2)) / 2
            vals[:, np.arange(92), np.arange(92)] = 0.0
            da = rdm(
                vals,
                stimulus=IMAGE_IDS,
                metric="correlation",
                dim="subject",
                index=[f"subj{i + 1:02d}" for i in range(vals.shape[0])],
                attrs={"region": region},
            )
            images = folder / "92images"
            if images.is_dir():
                paths = [str(images / f"{i}.jpg") for i in IMAGE_IDS]
                da = da.assign_coords(image=("stimulus_i", paths))
            items[region] = da
    return _tree(manifest, items)


def _sentences(manifest: Manifest, folder: Path, fname: str, prefix: str) -> pd.DataFrame:
    table = pd.read_csv(folder / fname)
    table = table.rename(columns={"Sentence": "text", "EffectSize": "response"})
    table["stimulus"] = [f"{prefix}{i:04d}" for i in range(len(table))]
    return table


def load_pereira2018(data_home: str | Path | None = None, *, verify: bool = True) -> xr.DataTree:
    """Pereira et al. (2018) sentences with the language-network response.

    Member ``language``: responses ``(stimulus 627, unit 1)``, stimulus coord
    ``text``; the unit is the average over left-hemisphere language fROIs and
    participants.

    Parameters
    ----------
    data_home : str or Path, optional
        Folder holding the dataset's mirror folder; default
        :func:`default_data_home` (``NEUROREP_DATA`` or the user cache).
    verify : bool, optional
        Check every file's sha256 against the manifest first (default True).

    Returns
    -------
    DataTree
        The members described above, schema-valid (see
        :func:`neurorep.data.validate`).

    Examples
    --------
    Reads the local mirror (skipped without it).

    >>> from neurorep import datasets, data
    >>> tree = datasets.load_pereira2018()
    >>> data.members(tree)["language"].shape
    (627, 1)
    """
    manifest = get_manifest("pereira2018")
    folder = _files(manifest, data_home, verify)
    table = _sentences(manifest, folder, "pereira_averaged.csv", "pereira")
    resp = responses(
        table[["response"]].to_numpy(float),
        stimulus=table["stimulus"],
        unit=["language_network"],
        region="language",
        subject="average",
        stimulus_coords={"text": table["text"].astype(str).to_numpy()},
        attrs={"measure": "fMRI effect size, LH language fROIs, averaged over participants"},
    )
    return _tree(manifest, {"language": resp})


_TUCKUTE_CONDITIONS = {"D": "drive", "S": "suppress", "B": "baseline"}


def load_tuckute2024(data_home: str | Path | None = None, *, verify: bool = True) -> xr.DataTree:
    """Tuckute et al. (2024) sentences with the language-network response.

    Member ``language``: responses ``(stimulus 2000, unit 1)`` with stimulus
    coords ``text`` and ``condition`` (drive / suppress / baseline).

    Parameters
    ----------
    data_home : str or Path, optional
        Folder holding the dataset's mirror folder; default
        :func:`default_data_home` (``NEUROREP_DATA`` or the user cache).
    verify : bool, optional
        Check every file's sha256 against the manifest first (default True).

    Returns
    -------
    DataTree
        The members described above, schema-valid (see
        :func:`neurorep.data.validate`).

    Examples
    --------
    Reads the local mirror (skipped without it).

    >>> from neurorep import datasets, data
    >>> tree = datasets.load_tuckute2024()
    >>> sorted(set(data.members(tree)["language"]["condition"].values.tolist()))
    ['baseline', 'drive', 'suppress']
    """
    manifest = get_manifest("tuckute2024")
    folder = _files(manifest, data_home, verify)
    table = _sentences(manifest, folder, "tuckute_averaged.csv", "tuckute")
    resp = responses(
        table[["response"]].to_numpy(float),
        stimulus=table["stimulus"],
        unit=["language_network"],
        region="language",
        subject="average",
        stimulus_coords={
            "text": table["text"].astype(str).to_numpy(),
            "condition": table["cond"].map(_TUCKUTE_CONDITIONS).astype(str).to_numpy(),
        },
        attrs={"measure": "fMRI response, LH language fROIs, averaged over participants"},
    )
    return _tree(manifest, {"language": resp})


def load_ejaz2015_finger7T(data_home: str | Path | None = None, *, verify: bool = True) -> xr.DataTree:
    """Ejaz et al. (2015) 7T M1 patterns for 5 fingers, 7 subjects.

    Members ``subj01``..``subj07``: responses ``(stimulus 5, repetition runs,
    unit voxels)`` (one trial per finger per run; ``repetition`` = run, the
    partition for cross-validated distances). ``models/muscle``,
    ``models/naturalstats``, ``models/somatotopy``: 5 x 5 model RDMs.

    Parameters
    ----------
    data_home : str or Path, optional
        Folder holding the dataset's mirror folder; default
        :func:`default_data_home` (``NEUROREP_DATA`` or the user cache).
    verify : bool, optional
        Check every file's sha256 against the manifest first (default True).

    Returns
    -------
    DataTree
        The members described above, schema-valid (see
        :func:`neurorep.data.validate`).

    Examples
    --------
    Reads the local mirror (skipped without it).

    >>> from neurorep import datasets, data
    >>> tree = datasets.load_ejaz2015_finger7T()
    >>> data.members(tree)["subj01"].dims
    ('stimulus', 'repetition', 'unit')
    """
    import scipy.io as sio

    manifest = get_manifest("ejaz2015_finger7T")
    folder = _files(manifest, data_home, verify)
    mat = sio.loadmat(folder / "data_recipe_finger7T.mat")
    fingers = [f"finger{i}" for i in range(1, 6)]
    items: dict[str, xr.DataArray] = {}
    for s in range(mat["Y"].shape[1]):
        y = np.asarray(mat["Y"][0, s], float)
        cond = np.asarray(mat["condVec"][0, s]).ravel().astype(int)
        part = np.asarray(mat["partVec"][0, s]).ravel().astype(int)
        runs = np.unique(part)
        cube = np.empty((5, len(runs), y.shape[1]))
        for ri, r in enumerate(runs):
            for c in range(1, 6):
                rows = np.flatnonzero((part == r) & (cond == c))
                if len(rows) != 1:
                    raise ValueError(
                        f"ejaz2015_finger7T: subject {s + 1}, run {r}, finger {c} has "
                        f"{len(rows)} trials; expected exactly 1."
                    )
                cube[c - 1, ri] = y[rows[0]]
        items[f"subj{s + 1:02d}"] = responses(
            cube,
            dims=("stimulus", "repetition", "unit"),
            stimulus=fingers,
            repetition=[f"run{r}" for r in runs],
            unit=[f"voxel{v:04d}" for v in range(y.shape[1])],
            region="M1",
            subject=f"subj{s + 1:02d}",
        )
    model = mat["Model"][0]
    for m in model:
        name = _matlab_str(m["name"]).lower()
        items[f"models/{name}"] = rdm(_symmetric(np.asarray(m["RDM"], float)), stimulus=fingers, metric="model")
    return _tree(manifest, items)


ALLEN_STIMULI = [f"scene{i:03d}" for i in range(118)] + ["blank"]


def load_allen_mouse_natscenes(data_home: str | Path | None = None, *, verify: bool = True) -> xr.DataTree:
    """Allen Brain Observatory natural-scenes RDMs (1 - r) per area and layer.

    Members ``<area>/<layer>`` (21, e.g. ``VISp/layer23``): rdm 119 x 119 over
    ``scene000``..``scene117`` and ``blank`` (row order inferred by the mirror's
    curator: scenes 0-117 then blank), with attrs ``ceiling`` and
    ``ceiling_sem`` (split-half).

    The correlations come as a pickle, and a pickle can run code: its sha256
    is checked against the manifest even with ``verify=False`` (which skips
    the other files' checks), and it is read with a restricted unpickler
    that admits only plain containers and numpy arrays
    (:class:`neurorep.UnsafeFileError` otherwise).

    Parameters
    ----------
    data_home : str or Path, optional
        Folder holding the dataset's mirror folder; default
        :func:`default_data_home` (``NEUROREP_DATA`` or the user cache).
    verify : bool, optional
        Check every file's sha256 against the manifest first (default True).

    Returns
    -------
    DataTree
        The members described above, schema-valid (see
        :func:`neurorep.data.validate`).

    Examples
    --------
    Reads the local mirror (skipped without it).

    >>> from neurorep import datasets, data
    >>> tree = datasets.load_allen_mouse_natscenes()
    >>> rdm = data.members(tree)["VISp/layer23"]
    >>> rdm.dims, rdm.shape
    (('stimulus_i', 'stimulus_j'), (119, 119))
    """
    manifest = get_manifest("allen_mouse_natscenes")
    folder = _files(manifest, data_home, verify)
    pkl = next(f for f in manifest.files if f.name == "rdms_reliable.pkl")
    if not verify:
        verify_file(folder / pkl.name, pkl, dataset=manifest.name)  # never unpickle unverified
    corr = load_pickle(folder / pkl.name)
    ceil = pd.read_csv(folder / "rdms_noise_ceiling.csv").set_index(["area", "layer"])
    items: dict[str, xr.DataArray] = {}
    for area in sorted(corr):
        for layer in sorted(corr[area]):
            r = np.asarray(corr[area][layer], float)
            d = _symmetric(1.0 - r)
            attrs = {"area": area, "layer": layer}
            if (area, layer) in ceil.index:
                attrs["ceiling"] = float(ceil.loc[(area, layer), "mean"])
                attrs["ceiling_sem"] = float(ceil.loc[(area, layer), "sem"])
            items[f"{area}/{layer}"] = rdm(d, stimulus=ALLEN_STIMULI, metric="correlation", attrs=attrs)
    return _tree(manifest, items)


def _match_rows(rows: np.ndarray, scenes: np.ndarray, label: str) -> np.ndarray:
    """The index of the one scene thumbnail each row equals exactly (never by position)."""
    sq = (rows**2).sum(1)[:, None] + (scenes**2).sum(1)[None, :] - 2 * rows @ scenes.T
    hits = np.abs(sq) < 1e-6
    counts = hits.sum(1)
    if (counts != 1).any():
        bad = np.flatnonzero(counts != 1)[:5].tolist()
        raise ValueError(
            f"allen_visp_212cells: rows {bad} of {label} match {counts[bad].tolist()} scene "
            f"thumbnails; each must equal exactly one row of all_input_scenes_118_961.npy. The "
            f"mirror copy is not the published one: fetch it again."
        )
    return hits.argmax(1)


def load_allen_visp_212cells(data_home: str | Path | None = None, *, verify: bool = True) -> xr.DataTree:
    """Allen Brain Observatory VISp: 212 neurons' trial-averaged responses to 118 natural scenes.

    One experiment container (511510667: Cux2-CreERT2;Ai93 GCaMP6f, VISp, 275 um
    deep), responses averaged over the 50 presentations of each scene (units as
    the source computed them, about dF/F x 100). The source splits the scenes
    into 100 train and 18 test rows in shuffled order; each row's scene is
    recovered by matching its thumbnail exactly to a row of
    ``all_input_scenes_118_961.npy`` (whose row k is Allen scene frame k, as
    its file name claims), so the ids are those of
    :func:`load_allen_mouse_natscenes` (``scene000``..``scene117``).

    Caveats from the source's script (``Project.py``): the responses are
    columns 1..212 of AllenSDK's ``NaturalScenes.get_response`` (rows 1..118,
    scenes 0..117), whose last column is the running speed rather than a cell
    in AllenSDK's layout, so ``cell000`` is the source's second cell and
    ``cell211`` may be running speed (unverified here). The gallery notebook
    ``09_vision`` finds this population's scene RDM unrelated to the pixel RDM
    and to the Allen VISp RDM of :func:`load_allen_mouse_natscenes`: check the
    pairing of responses and scenes before relying on it.

    Parameters
    ----------
    data_home : path, optional
        Folder holding ``allen_visp_212cells_118scenes_psailamul/``; default
        :func:`default_data_home`.
    verify : bool
        Check every file's sha256 against the manifest first.

    Returns
    -------
    DataTree
        ``VISp``: responses ``(stimulus 118, unit 212)`` in scene order, with
        stimulus coord ``split`` (``"train"`` / ``"test"``: the source's split)
        and unit coords ``region`` and ``subject``. ``pixels``: the stimuli as
        the source ships them, ``(stimulus 118, unit 961)`` grey values 0..255
        of 31 x 31 thumbnails (row-major; unit coords ``y``, ``x``), so
        ``pixels.values.reshape(-1, 31, 31)`` gives the images.

    Raises
    ------
    FileNotFoundError, ChecksumError
        Files missing or altered (see :func:`load`).
    ValueError
        A train or test thumbnail that does not equal exactly one scene, or a
        scene that is not in exactly one of the two splits.

    Examples
    --------
    >>> from neurorep import data, datasets
    >>> visp = data.members(datasets.load("allen_visp_212cells"))["VISp"]  # doctest: +SKIP
    >>> visp.shape  # doctest: +SKIP
    (118, 212)
    """
    manifest = get_manifest("allen_visp_212cells")
    folder = _files(manifest, data_home, verify)

    def npy(name: str) -> np.ndarray:
        return np.asarray(np.load(folder / name, allow_pickle=False), float)

    scenes = npy("all_input_scenes_118_961.npy")
    n_scenes, n_pix = scenes.shape
    side = int(round(np.sqrt(n_pix)))
    parts = {split: (npy(f"Allen_{split}_input.npy"), npy(f"Allen_{split}_output.npy")) for split in ("train", "test")}
    values = np.full((n_scenes, parts["train"][1].shape[1]), np.nan)
    split = np.full(n_scenes, "", dtype=object)
    seen = np.zeros(n_scenes, int)
    for name, (inputs, outputs) in parts.items():
        if len(inputs) != len(outputs):
            raise ValueError(
                f"allen_visp_212cells: Allen_{name}_input.npy has {len(inputs)} rows but "
                f"Allen_{name}_output.npy {len(outputs)}; the mirror copy is damaged: fetch it again."
            )
        idx = _match_rows(inputs, scenes, f"Allen_{name}_input.npy")
        values[idx] = outputs
        split[idx] = name
        np.add.at(seen, idx, 1)
    if (seen != 1).any():
        bad = np.flatnonzero(seen != 1)[:5].tolist()
        raise ValueError(
            f"allen_visp_212cells: scenes {bad} appear {seen[bad].tolist()} times across the train "
            f"and test files; each of the {n_scenes} scenes must appear once."
        )
    ids = ALLEN_STIMULI[:n_scenes]
    visp = responses(
        values,
        stimulus=ids,
        unit=[f"cell{i:03d}" for i in range(values.shape[1])],
        region="VISp",
        subject="container511510667",
        stimulus_coords={"split": split.astype(str)},
        attrs={
            "measure": "trial-averaged response (50 presentations), about dF/F x 100",
            "experiment_container": 511510667,
            "cre_line": "Cux2-CreERT2",
            "imaging_depth_um": 275,
        },
    )
    yy, xx = np.divmod(np.arange(n_pix), side)
    pixels = responses(
        scenes,
        stimulus=ids,
        unit=[f"px{i:03d}" for i in range(n_pix)],
        unit_coords={"y": yy, "x": xx},
        stimulus_coords={"split": split.astype(str)},
        attrs={"measure": "grey value 0..255", "image_shape": [side, side]},
    )
    return _tree(manifest, {"VISp": visp, "pixels": pixels})


def load_haxby2001_subj1_slice(data_home: str | Path | None = None, *, verify: bool = True) -> xr.DataTree:
    """Haxby et al. (2001) subject 1, one slice: the 12-run block-design time series.

    Member ``bold``: responses ``(time 1452, unit 530)`` with time coords
    ``run`` and ``label`` (rest, face, house, ...), voxel coords ``i, j, k,
    x, y, z`` and attrs ``affine``, ``volume_shape``, ``tr`` (2.5 s).

    Parameters
    ----------
    data_home : str or Path, optional
        Folder holding the dataset's mirror folder; default
        :func:`default_data_home` (``NEUROREP_DATA`` or the user cache).
    verify : bool, optional
        Check every file's sha256 against the manifest first (default True).

    Returns
    -------
    DataTree
        The members described above, schema-valid (see
        :func:`neurorep.data.validate`).

    Examples
    --------
    Reads the local mirror (about 5 s, so not run as a doctest).

    >>> from neurorep import datasets, data
    >>> tree = datasets.load_haxby2001_subj1_slice()  # doctest: +SKIP
    >>> data.members(tree)["bold"].shape  # doctest: +SKIP
    (1452, 530)
    """
    from neurorep.data import from_nifti

    manifest = get_manifest("haxby2001_subj1_slice")
    folder = _files(manifest, data_home, verify)
    attrs = pd.read_csv(folder / "attributes_literal.txt", sep=" ", header=None, names=["label", "run"])
    bold = from_nifti(
        str(folder / "bold.nii.gz"),
        str(folder / "mask.nii.gz"),
        stimulus_coords={"run": attrs["run"].to_numpy(), "label": attrs["label"].astype(str).to_numpy()},
        region="ventral temporal slice",
        subject="subj1",
        attrs={"tr": 2.5},
    )
    return _tree(manifest, {"bold": bold})


@functools.cache
def loaders() -> dict[str, Callable[..., xr.DataTree]]:
    """Dataset name -> loader, from each manifest's ``loader=`` field (:data:`LOADERS`).

    A dataset gets a loader by naming one in its manifest; a name that is
    not a loader of this module is a broken manifest and raises.
    """
    functions = _loader_functions()
    out = {}
    for name in list_datasets():
        wanted = get_manifest(name).loader
        if not wanted:
            continue
        if wanted not in functions:
            raise RuntimeError(
                f"the manifest of {name!r} names loader={wanted!r}, which neurorep does not "
                f"have; loaders: {sorted(functions)}. Fix datasets/manifests/{name}.toml."
            )
        out[name] = functions[wanted]
    return out


def load(name: str, data_home: str | Path | None = None, *, verify: bool = True) -> xr.DataTree:
    """Load a dataset from a local copy as schema-valid xarray objects.

    Parameters
    ----------
    name : str
        A dataset whose manifest names a loader (:data:`LOADERS`; ``neurorep
        datasets list`` shows all manifests).
    data_home : path, optional
        Folder holding ``<dataset folder>/``; default :func:`default_data_home`.
    verify : bool
        Check every file's sha256 against the manifest first (default).
        Pickled files are checked even with ``verify=False``: a pickle can
        run code, so neurorep never reads one it has not verified.

    Returns
    -------
    DataTree
        The dataset's members (responses, RDMs, model RDMs), as the
        loader named in its manifest describes them.

    Examples
    --------
    >>> from neurorep import datasets, data
    >>> tree = datasets.load("pereira2018")
    >>> data.members(tree)["language"].dims
    ('stimulus', 'unit')
    """
    registry = loaders()
    if name not in registry:
        manifest = get_manifest(name)  # KeyError for unknown names
        raise ValueError(
            f"{name} has a manifest but no local loader yet; datasets with loaders: "
            f"{sorted(registry)}. Access: {manifest.access or manifest.source}"
        )
    return registry[name](data_home, verify=verify)
