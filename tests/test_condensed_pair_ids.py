"""The pair ids of a condensed RDM are checked in one read of their words
(neurorep._core.pairids) with the same answer as gathering the expected ids."""

from __future__ import annotations

import numpy as np
import pytest

from neurorep import SchemaError, data
from neurorep._core.condensed import triu
from neurorep.data._condensed import _squareform_pairs


def _reference(si, sj, ids):
    iu, ju = triu(len(ids))
    return bool(np.array_equal(si, ids[iu]) and np.array_equal(sj, ids[ju]))


@pytest.mark.parametrize("ids", [
    np.array([f"c{i:03d}" for i in range(40)]),        # fixed-width unicode, 4 words
    np.array(["a", "bb", "ccc", "dddd", "e"]),           # padded with zeros, 4 words each
    np.arange(30, dtype=np.int64) * 7 - 50,               # integers, 2 words
    np.arange(2, dtype=np.int32),                         # one pair
    np.array(["x", "y", "z"], dtype=object),              # objects: the gathering route
])
def test_squareform_pairs_agree_with_gathering_on_every_single_change(ids):
    iu, ju = triu(len(ids))
    si, sj = ids[iu].copy(), ids[ju].copy()
    assert _squareform_pairs(si, sj, ids) is True
    rng = np.random.default_rng(0)
    # one id changed anywhere: the first pair of a row block, inside it, the last pair
    for k in {0, len(si) - 1, *rng.integers(0, len(si), 12).tolist()}:
        for side in (0, 1):
            bad = [si.copy(), sj.copy()]
            bad[side][k] = ids[(np.searchsorted(np.sort(ids), bad[side][k]) + 1) % len(ids)] \
                if ids.dtype != object else "w"
            if bad[side][k] == (si, sj)[side][k]:
                continue
            assert _squareform_pairs(bad[0], bad[1], ids) is False
            assert _reference(bad[0], bad[1], ids) is False
    # swapped sides, a missing pair, a pair too many
    if len(ids) > 2:
        assert _squareform_pairs(sj, si, ids) is _reference(sj, si, ids) is False
    assert _squareform_pairs(si[:-1], sj[:-1], ids) is False
    assert _squareform_pairs(np.append(si, si[-1:]), np.append(sj, sj[-1:]), ids) is False


def test_condensed_rdm_with_pairs_out_of_order_is_refused_with_the_fix():
    ids = [f"s{i}" for i in range(6)]
    rng = np.random.default_rng(1)
    r = rng.random((6, 6))
    r = r + r.T
    np.fill_diagonal(r, 0.0)
    c = data.condense(data.rdm(r, stimulus=ids))
    assert data.condensed_ids(c).tolist() == ids
    sj = c.coords["stimulus_j"].values.copy()
    sj[[5, 6]] = sj[[6, 5]]  # (s1, s3) named before (s1, s2)
    si = c.coords["stimulus_i"].values.copy()
    si[[4, 5]] = si[[5, 4]]  # (s1, s5) and (s0, s2)
    for bad in (c.assign_coords(stimulus_j=("pair", sj)), c.assign_coords(stimulus_i=("pair", si))):
        with pytest.raises(SchemaError, match="squareform order"):
            data.condensed_ids(bad)
