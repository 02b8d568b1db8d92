"""One command run's output folder, written whole or not at all.

The ``neurorep`` commands write every file of a run into a hidden sibling
folder (``.<out>.partial-*``) and move it into place with one ``rename`` once
the run has succeeded, so ``--out`` never holds a mix of old and new files
and a failed run leaves the previous output untouched. ``--overwrite`` moves
the old folder aside first and deletes it only after the new one is in place.
A marker file (:data:`MARKER`) records the command, its arguments and the
files written; ``--overwrite`` only ever replaces a folder whose entries a
neurorep run wrote.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import secrets
import shutil
import warnings
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from neurorep._core.errors import NeurorepWarning

MARKER = "neurorep_run.json"


def _recorded_files(out: Path) -> set[str]:
    try:
        record = json.loads((out / MARKER).read_text())
    except (OSError, ValueError):
        return set()
    files = record.get("files", []) if isinstance(record, dict) else []
    return {str(f) for f in files}


def check_out(out: str | Path, *, overwrite: bool, known: Collection[str] = ()) -> None:
    """Raise FileExistsError unless a run may write ``out``; touches nothing.

    ``out`` may be absent or an empty folder. A non-empty folder needs
    ``overwrite=True`` and must hold only entries a neurorep run wrote: those
    its marker file lists, or ``known`` (what this command writes, for
    folders written before the marker existed).
    """
    out = Path(out)
    if not out.exists() and not out.is_symlink():
        return
    if not out.is_dir():
        raise FileExistsError(
            f"--out {str(out)!r} is a file, not a folder; choose another --out."
        )
    entries = sorted(p.name for p in out.iterdir())
    if not entries:
        return
    if not overwrite:
        raise FileExistsError(
            f"{str(out)!r} exists and is not empty; pass --overwrite to replace it (the old "
            f"folder is deleted only after the new run succeeded), or choose another --out."
        )
    allowed = {MARKER, *known, *_recorded_files(out)}
    foreign = [e for e in entries if e not in allowed]
    if foreign:
        raise FileExistsError(
            f"--overwrite replaces the whole {str(out)!r} folder, but it holds entries no "
            f"neurorep run wrote: {foreign[:10]}. Move them elsewhere or choose another --out."
        )


def _sibling(out: Path, tag: str) -> Path:
    """A new hidden folder next to ``out`` (permissions from the umask, as a plain mkdir)."""
    for _ in range(100):
        path = out.absolute().parent / f".{out.name}.{tag}-{secrets.token_hex(4)}"
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path
    raise FileExistsError(f"could not create a temporary folder next to {str(out)!r}.")


def _commit(tmp: Path, out: Path, *, overwrite: bool, known: Collection[str]) -> None:
    check_out(out, overwrite=overwrite, known=known)  # the folder may have changed meanwhile
    old: Path | None = None  # a hidden sibling holding the previous output while we swap
    if out.exists():
        old = _sibling(out, "old")
        os.rename(out, old / out.name)
    try:
        os.rename(tmp, out)
    except BaseException:
        if old is not None:
            os.rename(old / out.name, out)
            old.rmdir()
        raise
    if old is not None:
        try:
            shutil.rmtree(old)
        except OSError as err:
            warnings.warn(
                f"the new output is in {str(out)!r}, but the previous one could not be deleted "
                f"from {str(old)!r} ({err}); delete it by hand.",
                NeurorepWarning,
                stacklevel=3,
            )


@contextmanager
def run_dir(
    out: str | Path,
    *,
    overwrite: bool,
    known: Collection[str] = (),
    record: Mapping[str, Any] | None = None,
) -> Iterator[Path]:
    """A fresh folder to write a run into; it becomes ``out`` when the block succeeds.

    Call :func:`check_out` before any long computation; this context manager
    checks again at entry and at the end. On an exception (Ctrl-C included)
    the partial folder is deleted and ``out`` is left as it was.

    Parameters
    ----------
    out : path
        The output folder.
    overwrite : bool
        Replace an existing non-empty ``out`` (only one a neurorep run wrote).
    known : collection of str
        Names this command writes (accepted in an old folder without a marker).
    record : mapping, optional
        JSON-able provenance written to :data:`MARKER` with the list of files.

    Yields
    ------
    Path
        The temporary folder (a hidden sibling of ``out``).
    """
    out = Path(out)
    check_out(out, overwrite=overwrite, known=known)
    out.absolute().parent.mkdir(parents=True, exist_ok=True)
    tmp = _sibling(out, "partial")
    try:
        yield tmp
        files = sorted(p.name for p in tmp.iterdir())
        meta = {
            **dict(record or {}),
            "finished": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "files": files,
        }
        (tmp / MARKER).write_text(json.dumps(meta, indent=1, default=str) + "\n")
        _commit(tmp, out, overwrite=overwrite, known=known)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
