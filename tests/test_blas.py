"""BLAS trmm / syrk with the GIL released (neurorep._core.blas): scipy's numbers, in place,
and other threads keep running during a call."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from scipy.linalg import blas as scipy_blas
from threadpoolctl import threadpool_limits

from neurorep._core.blas import syrk_upper, trmm_right_upper


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("trans", [False, True])
@pytest.mark.parametrize(("m", "k"), [(5, 7), (1, 1), (9, 3)])
def test_trmm_matches_scipy_in_place(dtype, order, trans, m, k):
    rng = np.random.default_rng(m * k)
    r = np.asarray(rng.standard_normal((k, k)), dtype=dtype, order=order)
    b = np.asfortranarray(rng.standard_normal((m, k)).astype(dtype))
    expected = scipy_blas.get_blas_funcs("trmm", (r, b))(
        1.0, np.asfortranarray(r), b, side=1, lower=0, trans_a=int(trans))
    out = b.copy(order="F")
    got = trmm_right_upper(r, out, trans=trans)
    assert got is out
    np.testing.assert_array_equal(got, expected)
    tri = np.triu(r).astype(np.float64)  # the strict lower triangle is not read
    np.testing.assert_allclose(got, b.astype(np.float64) @ (tri.T if trans else tri),
                               rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("n", "k"), [(6, 4), (1, 1), (3, 10), (4, 0)])
def test_syrk_adds_into_the_upper_triangle_only(dtype, n, k):
    rng = np.random.default_rng(n + k)
    x = rng.standard_normal((n, k)).astype(dtype)
    c0 = np.asfortranarray(rng.standard_normal((n, n)).astype(dtype))
    out = c0.copy(order="F")
    got = syrk_upper(x, out)
    assert got is out
    expected = scipy_blas.get_blas_funcs("syrk", (x,))(
        1.0, np.asfortranarray(x.T), beta=1.0, c=c0.copy(order="F"), trans=1, lower=0)
    np.testing.assert_array_equal(np.triu(got), np.triu(expected))
    np.testing.assert_array_equal(np.tril(got, -1), np.tril(c0, -1))


def test_layouts_and_dtypes_are_checked_not_copied():
    r = np.eye(3)
    with pytest.raises(ValueError, match="Fortran-ordered"):
        trmm_right_upper(r, np.ones((2, 3)), trans=False)  # C-ordered b would be a copy
    with pytest.raises(ValueError, match=r"must be \(3, 3\)"):
        trmm_right_upper(np.eye(4), np.ones((2, 3), order="F"), trans=False)
    with pytest.raises(TypeError, match="one dtype"):
        trmm_right_upper(r.astype(np.float32), np.ones((2, 3), order="F"), trans=False)
    with pytest.raises(TypeError, match="float32 or float64"):
        syrk_upper(np.ones((2, 2), dtype=np.int64), np.zeros((2, 2), dtype=np.int64, order="F"))
    with pytest.raises(ValueError, match="Fortran-ordered"):
        syrk_upper(np.ones((2, 3)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="C-contiguous"):
        syrk_upper(np.ones((2, 3), order="F"), np.zeros((2, 2), order="F"))


def test_other_threads_run_during_a_call():
    # scipy.linalg.blas (f2py) holds the GIL for a whole call: a Python thread stalls for
    # its duration. Through these functions it must keep running.
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1500, 3000))
    c = np.zeros((1500, 1500), order="F")
    with threadpool_limits(1, user_api="blas"):
        start = time.perf_counter()
        syrk_upper(x, c)
        duration = time.perf_counter() - start
        reps = max(1, int(np.ceil(0.4 / duration)))
        done = threading.Event()

        def work() -> None:
            for _ in range(reps):
                syrk_upper(x, c)
            done.set()

        thread = threading.Thread(target=work)
        stamps = [time.perf_counter()]
        thread.start()
        while not done.is_set():
            stamps.append(time.perf_counter())
        thread.join()
    gaps = np.diff(stamps)
    # a GIL held by the call would stop this loop for at least one whole call
    assert gaps.max() < 0.5 * duration, (gaps.max(), duration, len(stamps))
