"""Reading the pickles some public datasets ship, without letting them run code.

A pickle names functions to call while it is read (``os.system``,
``builtins.eval``...), so :func:`pickle.load` on a crafted file runs
whatever it asks. neurorep never unpickles a file whose sha256 has not been
checked against its manifest, and reads it with :class:`RestrictedUnpickler`,
which resolves only the few globals that plain containers and numpy arrays
need; anything else raises :class:`neurorep.UnsafeFileError` before it is
called.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

from neurorep._core.errors import UnsafeFileError

# (module, name) pairs a pickle of dicts / lists / tuples / str / numbers and numpy
# arrays needs: array and dtype reconstruction (numpy 1.x spells the module
# numpy.core, numpy 2.x numpy._core) and numpy scalars. Plain containers and
# builtin scalars are pickle opcodes and need no global at all.
ALLOWED_GLOBALS: frozenset[tuple[str, str]] = frozenset(
    {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("collections", "OrderedDict"),
    }
)


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that admits only plain containers and numpy arrays.

    Parameters
    ----------
    file : binary file
        Opened for reading.
    source : str
        Named in the error (the file path).
    """

    def __init__(self, file: Any, *, source: str = "the pickle") -> None:
        super().__init__(file)
        self._source = source

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise UnsafeFileError(
            f"{self._source} asks to load {module}.{name} while unpickling; neurorep reads only "
            f"pickles of plain containers and numpy arrays (a pickle can run any code it "
            f"names). The file is not the dataset's published file: delete it and download it "
            f"again (neurorep.datasets.fetch), and never unpickle it with pickle.load."
        )

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafeFileError(
            f"{self._source} uses pickle persistent ids ({pid!r}); neurorep reads only plain "
            f"pickles of containers and numpy arrays."
        )


def load_pickle(path: str | Path) -> Any:
    """Unpickle ``path`` with :class:`RestrictedUnpickler` (containers and numpy arrays only).

    Verify the file's checksum first (:func:`neurorep.datasets.sha256sum`):
    this function only limits what a pickle can do, it does not make an
    unknown file trustworthy.

    Raises
    ------
    UnsafeFileError
        The pickle names any global outside :data:`ALLOWED_GLOBALS` (for
        example ``os.system``); nothing it names is called.

    Examples
    --------
    >>> import pickle, tempfile, pathlib
    >>> import numpy as np
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.pkl"
    >>> _ = p.write_bytes(pickle.dumps({"a": np.arange(3)}))
    >>> load_pickle(p)["a"].tolist()
    [0, 1, 2]
    """
    path = Path(path)
    with open(path, "rb") as f:
        raw = f.read()
    return RestrictedUnpickler(io.BytesIO(raw), source=repr(str(path))).load()
