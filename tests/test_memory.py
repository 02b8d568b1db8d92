"""The allocation budget (neurorep._core.memory): available memory, limits, the refusal message."""

from __future__ import annotations

from pathlib import Path

import pytest

from neurorep._core import memory as _memory


def test_available_memory_agrees_with_the_system():
    avail = _memory.available_memory()
    assert avail is not None and avail > 0
    meminfo = Path("/proc/meminfo")
    if meminfo.is_file():
        kb = next(int(line.split()[1]) for line in meminfo.read_text().splitlines()
                  if line.startswith("MemAvailable:"))
        # read at slightly different times, possibly lowered by a cgroup limit
        assert avail <= kb * 1024 * 1.2


def test_limits_fraction_bytes_and_bad_values(monkeypatch):
    monkeypatch.setattr(_memory, "available_memory", lambda: 10_000_000_000)
    assert _memory.resolve_limit(None) == pytest.approx(7.5e9)
    assert _memory.resolve_limit(0.5) == pytest.approx(5e9)
    assert _memory.resolve_limit(3e9) == 3e9
    for bad in (0, -0.5, True, "8GB", float("nan")):
        with pytest.raises(ValueError, match="memory_limit must be a fraction"):
            _memory.resolve_limit(bad)
    _memory.check_allocation(7e9, what="x", fix="y")  # within the default budget
    with pytest.raises(MemoryError, match=r"^big thing needs about 8 GB; the budget is 7\.5 GB, "
                                          r"75% of the 10 GB available now \(set with "
                                          r"memory_limit=\)\. Do less\.$"):
        _memory.check_allocation(8e9, what="big thing", fix="Do less.")
    with pytest.raises(MemoryError, match=r"budget is 2 GB \(memory_limit=2000000000\.0\)"):
        _memory.check_allocation(3e9, what="x", fix="y", limit=2e9)
    with pytest.raises(MemoryError, match=r"available now\. y$"):
        _memory.check_allocation(9e9, what="x", fix="y", name=None)


def test_unknown_available_memory_refuses_nothing(monkeypatch):
    monkeypatch.setattr(_memory, "available_memory", lambda: None)
    _memory.check_allocation(1e15, what="x", fix="y")
    with pytest.raises(MemoryError):
        _memory.check_allocation(1e15, what="x", fix="y", limit=1e12)  # bytes still apply


def test_cgroup_limit_lowers_the_available_memory(tmp_path, monkeypatch):
    (tmp_path / "memory.max").write_text("4000000000\n")
    (tmp_path / "memory.current").write_text("3000000000\n")
    (tmp_path / "memory.stat").write_text("anon 2000000000\ninactive_file 500000000\n")
    monkeypatch.setattr(_memory, "_CGROUP", tmp_path)
    assert _memory._cgroup_available() == 1_500_000_000
    (tmp_path / "memory.max").write_text("max\n")
    assert _memory._cgroup_available() is None
