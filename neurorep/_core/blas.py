"""Two BLAS level-3 routines called with the GIL released: ``trmm`` and ``syrk``.

``scipy.linalg.blas``'s wrappers (f2py) keep the GIL for the whole call, so the same
routine in two threads runs one call after the other: two threads of 600 x 512 x 1250
``strmm`` (one BLAS thread each) took as long as one thread doing both threads' calls.
The parallel engine (:func:`neurorep._core.parallel.map_tasks`, dask's threaded
scheduler) runs the unit chunks of the ridge kernels and the Gram chains in threads,
so those calls serialised the workers. Here the same BLAS (the library behind
``scipy.linalg.cython_blas``, which ``threadpoolctl`` controls like the f2py one) is
called through its function pointers with :mod:`ctypes`, which releases the GIL for
the duration of a foreign call.

Only what the kernels need: column-major (Fortran-ordered) in-place outputs, upper
triangular / upper-triangle storage; the inputs are checked, never copied silently
into a different layout.
"""

from __future__ import annotations

import ctypes
import functools
from typing import Any

import numpy as np
import scipy.linalg.blas  # noqa: F401  (the library threadpoolctl controls, loaded first)
import scipy.linalg.cython_blas as _cython_blas

__all__ = ["syrk_upper", "trmm_right_upper"]

_P = ctypes.c_void_p
_PREFIX = {np.dtype(np.float32): "s", np.dtype(np.float64): "d"}
_SCALAR = {np.dtype(np.float32): ctypes.c_float, np.dtype(np.float64): ctypes.c_double}


@functools.cache
def _routine(name: str, n_args: int) -> Any:
    """The C function behind ``scipy.linalg.cython_blas.<name>`` as a ctypes callable
    (every argument a pointer, as in the Fortran BLAS interface)."""
    api = ctypes.pythonapi
    api.PyCapsule_GetName.restype = ctypes.c_char_p
    api.PyCapsule_GetName.argtypes = [ctypes.py_object]
    api.PyCapsule_GetPointer.restype = ctypes.c_void_p
    api.PyCapsule_GetPointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
    capsule = _cython_blas.__pyx_capi__[name]  # type: ignore[attr-defined]
    address = api.PyCapsule_GetPointer(capsule, api.PyCapsule_GetName(capsule))
    return ctypes.CFUNCTYPE(None, *([_P] * n_args))(address)


def _prefix(*arrays: np.ndarray) -> str:
    dtypes = {a.dtype for a in arrays}
    if len(dtypes) != 1 or next(iter(dtypes)) not in _PREFIX:
        raise TypeError(f"expected float32 or float64 arrays of one dtype, got {sorted(map(str, dtypes))}")
    return _PREFIX[next(iter(dtypes))]


def _int(v: int) -> Any:
    return ctypes.byref(ctypes.c_int(int(v)))


def _char(c: str) -> Any:
    return ctypes.c_char_p(c.encode())


def _ptr(a: np.ndarray) -> Any:
    return a.ctypes.data_as(_P)


def trmm_right_upper(r: np.ndarray, b: np.ndarray, *, trans: bool) -> np.ndarray:
    """``b <- b op(r)`` in place, ``op(r) = r`` or ``r^T`` (``trans``).

    ``r`` (k, k) is upper triangular (its strict lower triangle is not read), C- or
    Fortran-ordered; ``b`` (m, k) Fortran-ordered, same dtype. Returns ``b``.
    """
    m, k = b.shape
    if r.shape != (k, k):
        raise ValueError(f"trmm: r must be ({k}, {k}) for b of shape {b.shape}, got {r.shape}")
    if not b.flags.f_contiguous or not b.flags.writeable:
        raise ValueError("trmm: b must be a writeable Fortran-ordered array (it is overwritten)")
    if b.size == 0:
        return b
    if r.flags.f_contiguous:
        uplo, op = "U", trans
    elif r.flags.c_contiguous:  # read column-major, r is r^T: lower triangular
        uplo, op = "L", not trans
    else:
        raise ValueError("trmm: r must be C- or Fortran-contiguous")
    p = _prefix(r, b)
    alpha = _SCALAR[b.dtype](1.0)
    _routine(p + "trmm", 11)(
        _char("R"), _char(uplo), _char("T" if op else "N"), _char("N"),
        _int(m), _int(k), ctypes.byref(alpha), _ptr(r), _int(k), _ptr(b), _int(m),
    )
    return b


def syrk_upper(x: np.ndarray, c: np.ndarray) -> np.ndarray:
    """``c <- c + x x^T`` in the upper triangle of ``c``, in place (its strict lower
    triangle is not touched).

    ``x`` (n, k) C-ordered (read without a copy as the column-major ``x^T``); ``c``
    (n, n) Fortran-ordered, same dtype. Returns ``c``.
    """
    n, k = x.shape
    if c.shape != (n, n) or not c.flags.f_contiguous or not c.flags.writeable:
        raise ValueError(
            f"syrk: c must be a writeable Fortran-ordered ({n}, {n}) array, got shape "
            f"{c.shape}"
        )
    if not x.flags.c_contiguous:
        raise ValueError("syrk: x must be C-contiguous")
    if n == 0 or k == 0:
        return c
    p = _prefix(x, c)
    one = _SCALAR[c.dtype](1.0)
    # column-major x^T is (k, n) with leading dimension k: C = A^T A + C
    _routine(p + "syrk", 10)(
        _char("U"), _char("T"), _int(n), _int(k), ctypes.byref(one), _ptr(x), _int(k),
        ctypes.byref(one), _ptr(c), _int(n),
    )
    return c
