"""Fetch the large public datasets by subject and session from their public URLs.

Where the files come from (each checked against the dataset's own pages):

* NSD: the public AWS S3 bucket ``natural-scenes-dataset``, read over HTTPS
  at ``https://natural-scenes-dataset.s3.amazonaws.com/<path>`` (NSD Data
  Manual, cvnlab.slite.page, "How to get the data": the same bucket the AWS
  CLI reads; the NSD terms must be accepted at naturalscenesdataset.org
  first). The paths are the layout :func:`load_nsd` reads. NSD publishes no
  checksums or sizes.
* BOLD5000: ``BOLD5000_ROIs.zip`` of the release-1 figshare article 6459449,
  ``https://ndownloader.figshare.com/files/12965447`` (linked as "ROI data"
  from the BOLD5000 download page, bold5000.github.io/download.html).
* THINGS-fMRI: the single-trial responses in table format ("betas_csv",
  about 43 GB) of THINGS-data on figshare+,
  ``https://plus.figshare.com/ndownloader/files/36789690`` (the link the
  authors give in github.com/ViCCo-Group/THINGS-data, README "Download").

None of these sources publishes a checksum we could read from a pinned,
citable place, so no checksum is written here: :func:`neurorep.datasets.fetch`
checks each download against the server's Content-Length, records the sha256
of the first complete download in the dataset folder
(``.neurorep-checksums.json``) and verifies the file against it ever after.
Algonauts 2023 (a data form) and the full Pereira 2018 (OSF, no stable per-file
links found) are not fetched: their manifests say how to get them, and
``load(..., data_home=)`` reads a local copy.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

from neurorep._core.errors import check_option
from neurorep.datasets._fetch import fetch_files
from neurorep.datasets._manifest import FileEntry

NSD_URL = "https://natural-scenes-dataset.s3.amazonaws.com/"
NSD_SESSIONS = {1: 40, 2: 40, 3: 32, 4: 30, 5: 40, 6: 32, 7: 40, 8: 30}
BOLD5000_URL = "https://ndownloader.figshare.com/files/12965447"
THINGS_FMRI_URL = "https://plus.figshare.com/ndownloader/files/36789690"


#: The explicit opt-in to every subject (or session): ``subjects="all"``.
ALL = "all"


def _subjects(subjects: Sequence[int] | str | None, allowed: Sequence[int], dataset: str) -> list[int]:
    if subjects is None or subjects == ALL:
        return list(allowed)
    if isinstance(subjects, str):
        raise ValueError(
            f"{dataset}: subjects must be a list of subject numbers among {list(allowed)} or "
            f"'all'; got {subjects!r}."
        )
    out = sorted({int(s) for s in subjects})
    bad = [s for s in out if s not in allowed]
    if bad or not out:
        raise ValueError(f"{dataset}: subjects must be among {list(allowed)}; got {subjects!r}.")
    return out


def nsd_files(
    subjects: Sequence[int] | str | None = None,
    sessions: Sequence[int] | str | None = None,
    *,
    space: str = "func1pt8mm",
    fmt: str = "hdf5",
    beta_version: str = "betas_fithrf_GLMdenoise_RR",
    rois: Sequence[str] = ("nsdgeneral",),
    captions: bool = False,
    base_url: str = NSD_URL,
) -> list[FileEntry]:
    """The NSD files :func:`load_nsd` reads for these subjects and sessions (paths = S3 keys)."""
    check_option("space", space, ("func1pt8mm", "fsaverage"))
    check_option("fmt", fmt, ("hdf5", "nifti"))
    subs = _subjects(subjects, list(NSD_SESSIONS), "nsd")
    design = "nsddata/experiments/nsd/"
    names: list[tuple[str, bool]] = [
        (design + "nsd_expdesign.mat", False),
        (design + "nsd_stim_info_merged.csv", False),
    ]
    if captions:
        ann = "nsddata_stimuli/stimuli/nsd/annotations/"
        names += [(ann + "captions_train2017.json", False), (ann + "captions_val2017.json", False)]
    if space == "fsaverage":
        label = "nsddata/freesurfer/fsaverage/label/"
        for roi in rois:
            names += [(f"{label}{h}.{roi}.mgz", False) for h in ("lh", "rh")]
            names.append((f"{label}{roi}.mgz.ctab", True))
    for s in subs:
        subj = f"subj{s:02d}"
        done = NSD_SESSIONS[s]
        if isinstance(sessions, str) and sessions != ALL:
            raise ValueError(
                f"nsd: sessions must be a list of session numbers (1..{done} for {subj}) or "
                f"'all'; got {sessions!r}."
            )
        sess = (list(range(1, done + 1)) if sessions is None or sessions == ALL
                else sorted({int(x) for x in sessions}))
        bad = [x for x in sess if not 1 <= x <= done]
        if bad or not sess:
            raise ValueError(
                f"nsd: sessions must be 1..{done} for {subj} (it completed {done}); got {sessions!r}."
            )
        betas = f"nsddata_betas/ppdata/{subj}/{space}/{beta_version}/"
        if space == "fsaverage":
            names += [(f"{betas}{h}.betas_session{x:02d}.mgh", False) for x in sess for h in ("lh", "rh")]
            names += [(f"{betas}{h}.ncsnr.mgh", True) for h in ("lh", "rh")]
        else:
            ext = "hdf5" if fmt == "hdf5" else "nii.gz"
            names += [(f"{betas}betas_session{x:02d}.{ext}", False) for x in sess]
            names.append((f"{betas}ncsnr.nii.gz", True))
            for roi in rois:
                names.append((f"nsddata/ppdata/{subj}/func1pt8mm/roi/{roi}.nii.gz", False))
                names.append((f"nsddata/freesurfer/{subj}/label/{roi}.mgz.ctab", True))
    seen: set[str] = set()
    out = []
    for name, optional in names:
        if name not in seen:
            seen.add(name)
            out.append(FileEntry(name, base_url + name, optional=optional))
    return out


def nsd_everything_error(space: str = "func1pt8mm") -> ValueError:
    """The error of an NSD fetch that names neither subjects nor sessions: what a full
    download would be (from the nsd manifest) and how to choose."""
    from neurorep.datasets._manifest import get_manifest

    size = get_manifest("nsd").download_size or "hundreds of GB"
    n_sess = sum(NSD_SESSIONS.values())
    return ValueError(
        f"nsd: neither subjects= nor sessions= was given, which would download every session "
        f"of all {len(NSD_SESSIONS)} subjects: {n_sess} sessions of {space} betas, {size}. "
        f"Choose what to download, e.g. subjects=[1], sessions=[1, 2] (CLI: --subjects 1 "
        f"--sessions 1 2), or pass subjects='all' (CLI: --subjects all) to download "
        f"everything on purpose."
    )


def fetch_nsd(
    data_home: str | Path | None = None,
    *,
    subjects: Sequence[int] | str | None = None,
    sessions: Sequence[int] | str | None = None,
    space: Literal["func1pt8mm", "fsaverage"] = "func1pt8mm",
    fmt: Literal["hdf5", "nifti"] = "hdf5",
    beta_version: str = "betas_fithrf_GLMdenoise_RR",
    rois: Sequence[str] = ("nsdgeneral",),
    captions: bool = False,
    redownload: bool = False,
    progressbar: bool = False,
) -> Path:
    """Download the NSD files :func:`load_nsd` needs for some subjects and sessions.

    Files come from the public S3 bucket over HTTPS (see the module docstring
    of ``neurorep.datasets._remote`` for the source) into ``data_home/nsd/``
    in NSD's own layout: the experiment design, the stimulus table, for each
    subject the single-trial betas of the requested sessions, the ncsnr map
    and the ROI files (+ label names where NSD has them), and on request the
    COCO caption files. Accept the NSD terms (naturalscenesdataset.org)
    before downloading. A func1pt8mm HDF5 session is about 1.6 GB (hundreds
    of GB for every session of every subject), so a call must choose: with
    neither ``subjects`` nor ``sessions`` it raises a ValueError that states
    the full download's size; ``subjects="all"`` downloads everything on
    purpose.

    NSD publishes no checksums: each file is checked against the server's
    Content-Length, the sha256 of its first complete download is recorded in
    ``data_home/nsd/.neurorep-checksums.json``, and later fetches verify the
    file against it. Interrupted downloads resume; a final path never holds a
    partial file (see :func:`neurorep.datasets.fetch`).

    Parameters
    ----------
    data_home : path, optional
        Destination root; default :func:`default_data_home`.
    subjects : sequence of int or "all", optional
        1..8, or ``"all"``. None (the default) means all eight when
        ``sessions`` is given; at least one of the two must be given.
    sessions : sequence of int or "all", optional
        1-based sessions, or ``"all"``; None (the default) means every
        session each subject completed when ``subjects`` is given.
    space, fmt, beta_version : str
        Which betas (as in :func:`load_nsd`).
    rois : sequence of str
        NSD ROI files to download (``nsdgeneral``, ``streams``, ...).
    captions : bool
        Also download COCO's caption files (``load_nsd(captions=True)``).
    redownload : bool
        Download files that fail verification again.
    progressbar : bool
        Show download progress (needs tqdm).

    Returns
    -------
    Path
        ``data_home/nsd``.

    Examples
    --------
    >>> from neurorep import datasets
    >>> folder = datasets.fetch_nsd("~/data", subjects=[1], sessions=[1, 2])  # doctest: +SKIP
    >>> tree = datasets.load_nsd("~/data", subject=1, sessions=[1, 2], captions=False)  # doctest: +SKIP
    """
    if subjects is None and sessions is None:
        raise nsd_everything_error(space)
    entries = nsd_files(
        subjects, sessions, space=space, fmt=fmt, beta_version=beta_version, rois=rois,
        captions=captions,
    )
    return fetch_files("nsd", entries, data_home=data_home, redownload=redownload,
                       progressbar=progressbar)


def fetch_bold5000(
    data_home: str | Path | None = None,
    *,
    subjects: Sequence[int] | str | None = None,
    sessions: Sequence[int] | None = None,
    redownload: bool = False,
    progressbar: bool = False,
) -> Path:
    """Download BOLD5000's ROI release (``BOLD5000_ROIs.zip``) and unpack it.

    The archive (figshare, see ``neurorep.datasets._remote``) holds every
    subject, so it is downloaded whole; only the requested subjects' files
    (and the stimulus lists) are extracted, into ``data_home/bold5000/ROIs/``.
    No checksum is published: the sha256 of the first complete download is
    recorded and verified afterwards (see :func:`neurorep.datasets.fetch`).

    Parameters
    ----------
    data_home : path, optional
        Destination root; default :func:`default_data_home`.
    subjects : sequence of int or "all", optional
        1..4 (CSI1..CSI4); default all (the archive is the same download
        whichever subjects are extracted).
    sessions : None
        BOLD5000's ROI release is not split by session; must be None.
    redownload : bool
        Download the archive again if it fails verification.
    progressbar : bool
        Show download progress (needs tqdm).

    Returns
    -------
    Path
        ``data_home/bold5000``.

    Examples
    --------
    >>> from neurorep import datasets
    >>> folder = datasets.fetch_bold5000("~/data", subjects=[1])  # doctest: +SKIP
    """
    if sessions is not None:
        raise ValueError("bold5000: the ROI release holds all sessions in one file; pass sessions=None.")
    subs = _subjects(subjects, [1, 2, 3, 4], "bold5000")
    expect = [f"ROIs/CSI{s}/mat/CSI{s}_ROIs_TR34.mat" for s in subs]
    expect += [f"ROIs/stim_lists/CSI0{s}_stim_lists.txt" for s in subs]
    wanted = {f"CSI{s}" for s in subs} | {f"CSI0{s}" for s in subs}

    def keep(name: str) -> bool:
        tags = [p for p in Path(name).parts[:-1] if p.startswith("CSI")]
        stem = Path(name).name.split("_")[0]
        return (not tags or tags[0] in wanted) and (not stem.startswith("CSI") or stem in wanted)

    entry = FileEntry("BOLD5000_ROIs.zip", BOLD5000_URL, unpack=True)
    return fetch_files("bold5000", [entry], data_home=data_home, redownload=redownload,
                       progressbar=progressbar, keep=keep, expect=expect)


def fetch_things_fmri(
    data_home: str | Path | None = None,
    *,
    subjects: Sequence[int] | str | None = None,
    sessions: Sequence[int] | None = None,
    redownload: bool = False,
    progressbar: bool = False,
) -> Path:
    """Download THINGS-fMRI's single-trial responses (table format) and unpack them.

    The archive (``betas_csv``, about 43 GB, figshare+; see
    ``neurorep.datasets._remote``) holds all three subjects, so it is
    downloaded whole (resumable); only the requested subjects' files are
    extracted into ``data_home/things_fmri/betas_csv/``. No checksum is
    published: the sha256 of the first complete download is recorded and
    verified afterwards (see :func:`neurorep.datasets.fetch`).

    Parameters
    ----------
    data_home : path, optional
        Destination root; default :func:`default_data_home`.
    subjects : sequence of int or "all", optional
        1..3; default all (the archive is the same download whichever
        subjects are extracted).
    sessions : None
        The table release is not split by session; must be None.
    redownload : bool
        Download the archive again if it fails verification.
    progressbar : bool
        Show download progress (needs tqdm).

    Returns
    -------
    Path
        ``data_home/things_fmri``.

    Examples
    --------
    >>> from neurorep import datasets
    >>> folder = datasets.fetch_things_fmri("~/data", subjects=[1])  # doctest: +SKIP
    """
    if sessions is not None:
        raise ValueError(
            "things_fmri: the table release holds all sessions in one file per subject; pass "
            "sessions=None."
        )
    subs = _subjects(subjects, [1, 2, 3], "things_fmri")
    expect = [
        f"betas_csv/sub-{s:02d}_{kind}"
        for s in subs
        for kind in ("ResponseData.h5", "VoxelMetadata.csv", "StimulusMetadata.csv")
    ]
    wanted = {f"sub-{s:02d}" for s in subs}

    def keep(name: str) -> bool:
        base = Path(name).name
        return not base.startswith("sub-") or base[:6] in wanted

    entry = FileEntry("betas_csv.zip", THINGS_FMRI_URL, unpack=True)
    return fetch_files("things_fmri", [entry], data_home=data_home, redownload=redownload,
                       progressbar=progressbar, keep=keep, expect=expect)


FETCHERS: dict[str, Callable[..., Any]] = {
    "nsd": fetch_nsd,
    "bold5000": fetch_bold5000,
    "things_fmri": fetch_things_fmri,
}
