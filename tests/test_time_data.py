"""Epochs as a first-class layout (issue #17): the time axis, MNE bridges, loaders, simulator."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from neurorep import SchemaError, data, datasets


def _epochs(n_stim=3, n_time=10, n_unit=4, *, sfreq=100.0, tmin=-0.02, rng=0, reps=None):
    g = np.random.default_rng(rng)
    t = np.arange(n_time) / sfreq + tmin
    if reps is None:
        return data.responses(g.normal(size=(n_stim, n_time, n_unit)),
                              dims=("stimulus", "time", "unit"), time=t)
    return data.responses(g.normal(size=(n_stim, reps, n_time, n_unit)),
                          dims=("stimulus", "repetition", "time", "unit"), time=t)


# ----------------------------------------------------------------------------- time axis
def test_sampling_interval_and_irregular_sampling():
    ep = _epochs(sfreq=250.0)
    assert data.sampling_interval(ep) == pytest.approx(0.004)
    t = ep.time.values.copy()
    t[5] += 0.001  # one late sample
    with pytest.raises(SchemaError, match="sampled irregularly.*resample first"):
        data.sampling_interval(ep.assign_coords(time=t))
    with pytest.raises(SchemaError, match="at least 2 time points"):
        data.sampling_interval(ep.isel(time=[0]))


def test_time_not_monotonic_is_refused_with_the_fix():
    ep = _epochs()
    t = ep.time.values.copy()
    t[[3, 4]] = t[[4, 3]]
    bad = ep.assign_coords(time=t)
    with pytest.raises(SchemaError, match=r"not monotonic.*sortby\('time'\)"):
        data.sampling_interval(bad)
    with pytest.raises(SchemaError, match="strictly increasing"):
        data.check_epochs(bad)


def test_crop_time_inclusive_and_outside_window():
    ep = _epochs(tmin=0.0)
    c = data.crop_time(ep, tmin=0.02, tmax=0.05)
    np.testing.assert_allclose(c.time.values, [0.02, 0.03, 0.04, 0.05])
    np.testing.assert_array_equal(c.values, ep.values[:, 2:6])
    with pytest.raises(SchemaError, match=r"outside the data.*data span 0 to 0.09 s"):
        data.crop_time(ep, tmin=0.5, tmax=0.6)
    with pytest.raises(SchemaError, match="must not exceed tmax"):
        data.crop_time(ep, tmin=0.05, tmax=0.01)


def test_bin_time_equals_a_loop_and_rsatoolbox():
    ep = _epochs(n_time=12, reps=2)
    b = data.bin_time(ep, window=0.03, step=0.02)
    starts = range(0, 12 - 3 + 1, 2)
    ref = np.stack([ep.values[:, :, s:s + 3].mean(axis=2) for s in starts], axis=2)
    np.testing.assert_allclose(b.values, ref, atol=1e-12)
    np.testing.assert_allclose(b.time.values, [ep.time.values[s:s + 3].mean() for s in starts])
    assert b.attrs["bin_window"] == pytest.approx(0.03)
    # rsatoolbox's TemporalDataset.bin_time averages the same samples (non-overlapping bins)
    from rsatoolbox.data import TemporalDataset

    ep3 = ep.isel(repetition=0)
    tds = TemporalDataset(np.transpose(ep3.values, (0, 2, 1)),
                          time_descriptors={"time": ep3.time.values})
    bins = [ep3.time.values[s:s + 3] for s in range(0, 12, 3)]
    ref2 = tds.bin_time("time", bins).measurements  # (stimulus, unit, time)
    ours = data.bin_time(ep3, window=0.03)
    np.testing.assert_allclose(np.transpose(ours.values, (0, 2, 1)), ref2, atol=1e-12)
    with pytest.raises(SchemaError, match="longer than the data"):
        data.bin_time(ep, window=1.0)
    with pytest.raises(SchemaError, match="shorter than one sample"):
        data.bin_time(ep, window=0.001)


def test_epochs_of_different_lengths_are_refused_with_the_fix():
    a, b = _epochs(n_time=10), _epochs(n_time=8)
    with pytest.raises(SchemaError, match=r"different lengths.*crop_time"):
        data.check_epochs({"V1": a, "IT": b})
    assert list(data.check_epochs({"V1": a, "IT": a})) == ["V1", "IT"]
    with pytest.raises(SchemaError, match="expected epochs"):
        data.check_epochs(a.isel(time=0))


def test_epochs_round_trip_netcdf_and_zarr(tmp_path):
    ep = datasets.make_epochs(n_stimuli=8, n_categories=2, n_units=3, n_repetitions=2, rng=1)
    for suffix in (".nc", ".zarr"):
        back = data.load(data.save(ep, tmp_path / f"ep{suffix}"))
        xr.testing.assert_identical(back, ep)
        assert data.validate(back) == "epochs"


# ----------------------------------------------------------------------------- MNE bridge
mne = pytest.importorskip("mne")


def _mne_epochs(counts=(3, 3), n_ch=4, n_time=30, sfreq=200.0, metadata=False):
    g = np.random.default_rng(0)
    info = mne.create_info([f"E{i}" for i in range(n_ch)], sfreq, "eeg")
    codes = np.repeat([10, 20], counts)
    g.shuffle(codes)
    n = codes.size
    events = np.c_[np.arange(n) * 100, np.zeros(n, int), codes]
    meta = None
    if metadata:
        import pandas as pd

        meta = pd.DataFrame({"rt": g.uniform(0.3, 0.9, n), "word": [f"w{i}" for i in range(n)]})
    return mne.EpochsArray(g.normal(size=(n, n_ch, n_time)), info, events, tmin=-0.05,
                           event_id={"face": 10, "house": 20}, metadata=meta, verbose="error")


def test_from_mne_by_event_stacks_trials_by_event_name():
    ep = _mne_epochs()
    da = data.from_mne(ep)
    assert da.dims == ("stimulus", "repetition", "time", "unit")
    assert da.stimulus.values.tolist() == ["face", "house"]
    raw = ep.get_data()
    face = raw[ep.events[:, 2] == 10]
    np.testing.assert_array_equal(da.sel(stimulus="face").values, np.transpose(face, (0, 2, 1)))
    np.testing.assert_allclose(da.time.values, ep.times)
    assert da.attrs["sfreq"] == 200.0 and set(da.ch_type.values) == {"eeg"}
    with pytest.raises(SchemaError, match=r"same number of trials.*equalize_event_counts"):
        data.from_mne(_mne_epochs(counts=(3, 2)))


def test_from_mne_by_epoch_keeps_events_and_metadata_and_goes_back():
    ep = _mne_epochs(counts=(3, 2), metadata=True)
    da = data.from_mne(ep, by="epoch")
    assert da.dims == ("stimulus", "time", "unit")
    assert da.event.values.tolist() == [{10: "face", 20: "house"}[c] for c in ep.events[:, 2]]
    np.testing.assert_allclose(da.rt.values, ep.metadata["rt"].to_numpy())
    back = data.to_mne(da)
    np.testing.assert_array_equal(back.get_data(), ep.get_data())
    assert back.event_id == ep.event_id
    np.testing.assert_array_equal(back.events[:, 2], ep.events[:, 2])
    np.testing.assert_allclose(back.metadata["rt"].to_numpy(), ep.metadata["rt"].to_numpy())


def test_to_mne_from_repetitions_and_evoked_average():
    da = data.from_mne(_mne_epochs())
    ep = data.to_mne(da)
    assert len(ep) == 6 and sorted(ep.event_id) == ["face", "house"]
    ev = data.to_mne(da, kind="evoked")
    assert [e.comment for e in ev] == ["face", "house"] and ev[0].nave == 3
    np.testing.assert_allclose(ev[1].data, da.sel(stimulus="house").mean("repetition").values.T)


def test_to_mne_refuses_units_missing_from_info():
    da = data.from_mne(_mne_epochs())
    info = mne.create_info(["E0", "E1"], 200.0, "eeg")
    with pytest.raises(SchemaError, match="not channels of the given info"):
        data.to_mne(da, info=info)
    info = mne.create_info([f"E{i}" for i in range(4)], 100.0, "eeg")
    with pytest.raises(SchemaError, match="sampled at 200 Hz"):
        data.to_mne(da, info=info)


def test_mne_bridge_round_trip_on_the_real_evoked_file(data_home):
    path = data_home / "mne_test_evoked_audvis" / "test-ave.fif.gz"
    evokeds = mne.read_evokeds(path, verbose="error")
    da = data.members(datasets.load("mne_evoked_audvis", data_home=data_home))["evoked"]
    assert da.shape == (4, 421, 366)
    assert da.stimulus.values.tolist() == [e.comment for e in evokeds]
    assert da.nave.values.tolist() == [e.nave for e in evokeds]
    picked = [e.copy().pick("data") for e in evokeds]
    assert da.unit.values.tolist() == picked[0].ch_names
    assert (da.ch_type.values == np.array(picked[0].get_channel_types())).all()
    back = data.to_mne(da, kind="evoked")
    for b, e in zip(back, picked, strict=True):
        np.testing.assert_array_equal(b.data, e.data)
        np.testing.assert_allclose(b.times, e.times, atol=1e-12)
        assert b.info["sfreq"] == e.info["sfreq"] and b.ch_names == e.ch_names
        assert b.get_channel_types() == e.get_channel_types()
        np.testing.assert_array_equal(
            [c["loc"][:3] for c in b.info["chs"]], [c["loc"][:3] for c in e.info["chs"]])
        assert b.comment == e.comment and b.nave == e.nave
    exact = data.to_mne(da, kind="evoked", info=evokeds[0].info)
    assert exact[0].info["projs"] == picked[0].info["projs"]
    assert exact[0].info["highpass"] == picked[0].info["highpass"]
    # and again from the rebuilt objects
    xr.testing.assert_allclose(data.from_mne(back).drop_vars(["nave"]),
                               da.drop_vars(["nave"]))


# ----------------------------------------------------------------------------- loaders
def test_things_eeg2_layout_is_read_without_pickle_code(tmp_path):
    g = np.random.default_rng(0)
    values = g.normal(size=(5, 4, 3, 7)).astype(np.float32)
    times = np.arange(7) / 250.0 - 0.2 / 10
    folder = tmp_path / "things_eeg2" / "sub-02"
    folder.mkdir(parents=True)
    np.save(folder / "preprocessed_eeg_training.npy",
            {"preprocessed_eeg_data": values, "ch_names": ["Fp1", "Cz", "Oz"], "times": times})
    eeg = data.members(datasets.load_things_eeg2(tmp_path, subject="sub-02"))["eeg"]
    assert eeg.dims == ("stimulus", "repetition", "time", "unit")
    np.testing.assert_array_equal(eeg.values, np.transpose(values, (0, 1, 3, 2)))
    np.testing.assert_allclose(eeg.time.values, times)
    assert eeg.unit.values.tolist() == ["Fp1", "Cz", "Oz"] and eeg.stimulus.values[0] == "training_00001"
    with_pos = datasets.load_things_eeg2(tmp_path, subject="sub-02", montage="colin27_1020")
    assert np.isfinite(data.members(with_pos)["eeg"].x.values).all()
    (tmp_path / "things_eeg2" / "sub-01").mkdir()
    (folder / "preprocessed_eeg_training.npy").rename(
        tmp_path / "things_eeg2" / "sub-01" / "preprocessed_eeg_training.npy")
    tree = datasets.load("things_eeg2", data_home=tmp_path)
    assert tree.attrs["dataset"] == "things_eeg2" and data.members(tree)["eeg"].shape == eeg.shape


def test_things_eeg2_refuses_a_pickle_that_runs_code(tmp_path):
    from neurorep import UnsafeFileError

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    path = tmp_path / "preprocessed_eeg_test.npy"
    np.save(path, np.array({"x": Evil()}, dtype=object), allow_pickle=True)
    with pytest.raises(UnsafeFileError, match="builtins.print"):
        datasets.load_things_eeg2(path=path)
    np.save(path, {"preprocessed_eeg_data": np.zeros((2, 2, 3)), "ch_names": ["a"],
                   "times": [0.0]})
    with pytest.raises(SchemaError, match=r"\(images, repetitions, channels, times\)"):
        datasets.load_things_eeg2(path=path)
    with pytest.raises(FileNotFoundError, match="preprocessed_eeg_training.npy not found"):
        datasets.load("things_eeg2", data_home=tmp_path)


def test_zhang_desimone_pseudo_population(data_home):
    import scipy.io as sio

    tree = datasets.load("zhang2011_it_7objects", data_home=data_home)
    it = data.members(tree)["IT"]
    assert it.shape == (7, 59, 39, 132)
    assert it.stimulus.values.tolist() == ["car", "couch", "face", "flower", "guitar", "hand", "kiwi"]
    np.testing.assert_allclose(it.time.values[[0, -1]], [-0.475, 0.475])
    # one unit, one label, one bin by hand: spikes in [0, 50) ms after onset -> rate
    folder = data_home / "zhang_desimone_macaque_IT_7objects_neurodecoder" / "raster_data_mat"
    first = sorted(folder.glob("*.mat"))[0]
    mat = sio.loadmat(first, simplify_cells=True)
    rows = np.flatnonzero(np.asarray(mat["raster_labels"]["stimulus_ID"]) == "face")[:59]
    counts = mat["raster_data"][rows][:, 500:550].sum(axis=1)
    got = it.sel(stimulus="face", unit=first.stem.removesuffix("_raster_data")).sel(
        time=0.025).values
    np.testing.assert_allclose(got, counts * 20.0)
    combos = data.members(datasets.load_zhang2011_it_7objects(data_home,
                                        labels="object_position", bin_width=0.1, step=0.1))["IT"]
    assert combos.sizes["stimulus"] == 21 and combos.sizes["time"] == 10
    assert set(combos.position.values) == {"upper", "middle", "lower"}
    with pytest.raises(ValueError, match="has only 19 trials"):
        datasets.load_zhang2011_it_7objects(data_home, labels="object_position",
                      n_trials=25)


def test_make_epochs_plants_onsets_and_peaks():
    ep = datasets.make_epochs(n_stimuli=16, n_categories=4, n_repetitions=6, n_units=12,
                              regions={"V1": (0.05, 0.1), "IT": (0.2, 0.3)}, snr=3.0, rng=3)
    assert ep.attrs["onset"] == {"V1": 0.05, "IT": 0.2}
    for region, (onset, peak) in {"V1": (0.05, 0.1), "IT": (0.2, 0.3)}.items():
        sub = ep.where(ep.region == region, drop=True).mean("repetition")
        var = sub.var("stimulus").mean("unit")  # stimulus-driven variance over time
        noise = 1.0 / ep.sizes["repetition"]
        assert float(var.sel(time=slice(None, onset - 0.01)).max()) < 3 * noise
        assert float(var.idxmax("time")) == pytest.approx(peak, abs=0.03)
    assert set(ep.category.values) == {"cat0", "cat1", "cat2", "cat3"}
    with pytest.raises(ValueError, match="onset < peak"):
        datasets.make_epochs(regions={"x": (0.2, 0.1)})
