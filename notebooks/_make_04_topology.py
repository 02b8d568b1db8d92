"""Write notebooks/04_topology.ipynb (no outputs). Run: python notebooks/_make_04_topology.py"""

from __future__ import annotations

from _nbtools import write

CELLS: list[tuple[str, str]] = [
    (
        "md",
        """# 04 · Topological RSA and persistent homology on real data

Topological RSA (tRSA; Lin & Kriegeskorte, *PNAS* 2024) replaces an RDM by a
**representational geo-topological matrix** (RGTM): the dissimilarities of each
RDM are ranked and rescaled to [0, 1], then everything below a lower threshold
becomes 0 ("same place"), everything above an upper threshold becomes 1
("disconnected"), and values in between rise linearly. Depending on the
thresholds the RGTM keeps local neighbourhoods, global structure, geometry or
mostly topology. Here we

1. look at the transform on human IT (Cichy et al. 2014, 15 subjects, 92 images);
2. ask how well a held-out subject's RDM identifies its region (EVC vs IT) with
   raw RDMs and with each RGTM regime — with bootstrap CIs over subjects and
   stimuli, and as measurement noise is added;
3. do the same for six mouse visual areas (Allen Brain Observatory, 2-photon);
4. compute the persistent homology of the 92-image IT geometry;
5. test dependence between representations with the adaptive geo-topological
   dependence measure (AGTDM).

Data (read from the local mirror; see each folder's `SOURCE.txt`): Cichy, Pantazis
& Oliva (2014) *Nat Neurosci* via the Algonauts 2019 release; Kriegeskorte et al.
(2008) *Neuron* via rsatoolbox; Allen Brain Observatory (de Vries et al. 2020
*Nat Neurosci*) RDMs as prepared by Conwell et al. (2021, NeurIPS).""",
    ),
    (
        "code",
        """import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import xarray as xr

from neurorep import data, datasets, topology
from neurorep.plotting.topology import (
    plot_barcode,
    plot_betti_curves,
    plot_gt_transform,
    plot_persistence_diagram,
)

t_start = time.perf_counter()
home = datasets.default_data_home()
cichy = data.members(datasets.load("cichy2014_92img", data_home=home))
k08 = data.members(datasets.load("kriegeskorte2008_92img", data_home=home))
allen = data.members(datasets.load("allen_mouse_natscenes", data_home=home))
print({k: dict(v.sizes) for k, v in cichy.items()})
print(f"{len(allen)} Allen RDMs, e.g. {list(allen)[:4]}")""",
    ),
    (
        "md",
        "## 1 · From RDM to RGTM\n\nThe subject-average IT RDM and its four named regimes (`topology.RGTM_REGIMES`).",
    ),
    (
        "code",
        """print(topology.RGTM_REGIMES)
it_mean = cichy["IT"].mean("subject")
fig = plot_gt_transform(it_mean)""",
    ),
    (
        "md",
        """## 2 · Which region is this subject's RDM from? (EVC vs IT, 15 subjects)

Leave-one-subject-out nearest centroid on the (transformed) RDM vectors.
`grid=6` searches the thresholds **inside each training fold**, so the held-out
subject never picks its own thresholds. Confidence intervals: 200 bootstrap
samples over subjects and stimuli (thresholds re-searched in each sample for
the grid variant, here with 30 samples to stay fast), centred on the estimate
(`ci_method="centered"`: a bootstrap sample has only ~63% distinct subjects and
stimuli, which lowers a cross-validated accuracy; the shift is reported as
`attrs["bootstrap_bias"]`). Chance is 0.5.""",
    ),
    (
        "code",
        """VARIANTS = {
    "RDM (raw)": {},
    "RDM (ranked)": {"lower": 0.0, "upper": 1.0},
    **{f"RGTM {r}": {"regime": r} for r in topology.RGTM_REGIMES},
}


def identification_table(rdm_set, dim, n_bootstrap, grid=6, grid_boot=30):
    rows = []
    for name, kw in {**VARIANTS, f"RGTM searched ({grid}x{grid} grid)": {"grid": grid}}.items():
        nb = grid_boot if "grid" in kw else n_bootstrap
        res = topology.score_identification(rdm_set, dim=dim, n_bootstrap=nb, rng=0, **kw)
        rows.append({"variant": name, "accuracy": float(res.score),
                     "ci_low": float(res.ci_low), "ci_high": float(res.ci_high),
                     "bootstrap_bias": res.attrs["bootstrap_bias"]})
    return pd.DataFrame(rows).set_index("variant"), res


cichy_table, cichy_grid = identification_table(cichy, "subject", n_bootstrap=200)
cichy_table.round(3)""",
    ),
    (
        "code",
        """print("thresholds chosen in each training fold (lower, upper):")
print(np.c_[cichy_grid.lower.values, cichy_grid.upper.values].round(2).tolist())
ax = cichy_table["accuracy"].plot.barh(
    xerr=[cichy_table["accuracy"] - cichy_table["ci_low"], cichy_table["ci_high"] - cichy_table["accuracy"]],
    color="C0", figsize=(6, 3.2))
ax.axvline(0.5, color="0.5", ls="--")
ax.set_xlabel("identification accuracy (EVC vs IT)")
ax.invert_yaxis()""",
    ),
    (
        "md",
        """## 3 · Robustness to measurement noise

Gaussian noise (symmetric, clipped at 0 as in the paper's simulations) with a
standard deviation of `level` × the SD of the dissimilarities is added to every
subject's RDM; accuracies are averaged over 2 noise seeds.""",
    ),
    (
        "code",
        """def add_noise(rdm_set, level, rng):
    out = {}
    for key, rdm in rdm_set.items():
        vals = rdm.values.copy()
        n = vals.shape[-1]
        iu = np.triu_indices(n, 1)
        noise = rng.normal(0, level * vals[..., iu[0], iu[1]].std(), vals.shape)
        vals = np.clip(vals + (noise + np.swapaxes(noise, -1, -2)) / 2, 0, None)
        vals[..., np.arange(n), np.arange(n)] = 0
        out[key] = rdm.copy(data=vals)
    return out


def noise_curves(rdm_set, dim, levels=(0, 1, 2, 4), seeds=(0, 1)):
    rows = []
    for level in levels:
        for seed in seeds:
            noisy = add_noise(rdm_set, level, np.random.default_rng(seed))
            for name, kw in VARIANTS.items():
                acc = float(topology.score_identification(noisy, dim=dim, **kw).score)
                rows.append({"noise": level, "seed": seed, "variant": name, "accuracy": acc})
    return pd.DataFrame(rows).groupby(["noise", "variant"])["accuracy"].mean().unstack()


cichy_noise = noise_curves(cichy, "subject")
cichy_noise.round(3)""",
    ),
    (
        "md",
        """## 4 · Six mouse visual areas (Allen Brain Observatory)

No subjects here: each area has 3–4 cortical-layer RDMs (119 natural scenes).
We stack them along a `layer` dim and identify the **area** of a held-out
layer's RDM (leave-one-layer-out; chance 1/6).""",
    ),
    (
        "code",
        """areas = sorted({key.split("/")[0] for key in allen})
allen_set = {}
for area in areas:
    keys = [k for k in allen if k.startswith(area + "/")]
    allen_set[area] = xr.concat([allen[k] for k in keys], dim="layer").assign_coords(
        layer=[k.split("/")[1] for k in keys])
allen_table, allen_grid = identification_table(allen_set, "layer", n_bootstrap=100, grid=5, grid_boot=20)
print("chance", allen_grid.attrs["chance"])
allen_table.round(3)""",
    ),
    (
        "code",
        """allen_noise = noise_curves(allen_set, "layer")
fig, axes = plt.subplots(1, 2, figsize=(10, 3.5), sharey=False)
for ax, (title, table, chance) in zip(
        axes, [("Cichy 2014: EVC vs IT", cichy_noise, 0.5), ("Allen: 6 mouse areas", allen_noise, 1 / 6)]):
    table.plot(ax=ax, marker="o")
    ax.axhline(chance, color="0.5", ls="--")
    ax.set_title(title)
    ax.set_xlabel("noise level (× SD of dissimilarities)")
    ax.set_ylabel("identification accuracy")
    ax.legend(fontsize=7)
allen_noise.round(3)""",
    ),
    (
        "md",
        """## 5 · Persistent homology of the 92-image IT geometry

Vietoris–Rips persistence (gudhi, H0 and H1) of the human IT RDM of
Kriegeskorte et al. (2008), averaged over 4 subjects × 2 sessions. Because the
geo-topological transform is monotone, the diagram of any RGTM follows from
this one diagram (`topology.gt_transform_diagram`) — checked here against a
recomputation.""",
    ),
    (
        "code",
        """hit = k08["human_IT"].mean(["subject", "session"])
dgm = topology.persistence(hit, maxdim=1)
fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
plot_persistence_diagram(dgm, ax=axes[0])
plot_barcode(dgm, ax=axes[1])
plot_betti_curves(topology.betti_curve(dgm), ax=axes[2])
h1 = dgm.where(dgm.dimension == 1, drop=True)
print(f"H1 bars: {h1.sizes['bar']}, longest lifetime {float((h1.death - h1.birth).max()):.3f} "
      f"(dissimilarity range {float(hit.values[np.triu_indices(92, 1)].min()):.2f}–{float(hit.max()):.2f})")

topo = topology.gt_transform_diagram(dgm, regime="topology", rdm=hit)
direct = topology.persistence(topology.gt_transform(hit, regime="topology"))
same = all(
    np.allclose(np.sort(topo.death.values[topo.dimension.values == k]),
                np.sort(direct.death.values[direct.dimension.values == k]))
    for k in (0, 1))
print("transformed diagram == recomputed:", same, "| bars per dimension:",
      [int((topo.dimension == k).sum()) for k in (0, 1)])""",
    ),
    (
        "md",
        """H0 persistence is single-linkage clustering. Does the last merge separate
animate from inanimate images? And how do the diagrams of different brains and
models compare once every RDM is put on the same rank scale (RGTM with
lower=0, upper=1, from each diagram without recomputation)? Wasserstein-1 distances:""",
    ),
    (
        "code",
        """from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import squareform

animate = hit.animate.values
for method in ("single", "average"):
    labels = fcluster(linkage(squareform(hit.values, checks=False), method), 2, "maxclust")
    print(f"{method:>7} linkage, 2 clusters: sizes {np.bincount(labels)[1:].tolist()}, "
          f"animate images per cluster {[int(animate[labels == c].sum()) for c in (1, 2)]} (of 48)")

rdms = {
    "human IT (K08)": hit,
    "monkey IT (K08)": k08["monkey_IT"],
    "IT (C14)": cichy["IT"].mean("subject"),
    "EVC (C14)": cichy["EVC"].mean("subject"),
    "AlexNet conv1": k08["alexnet/conv1"],
    "AlexNet fc7": k08["alexnet/fc7"],
}
ranked = {k: topology.gt_transform_diagram(topology.persistence(v), 0.0, 1.0, rdm=v) for k, v in rdms.items()}
names = list(ranked)
fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
for ax, dim in zip(axes, (0, 1)):
    mat = np.array([[topology.diagram_distance(ranked[a], ranked[b], dimension=dim, metric="wasserstein")
                     for b in names] for a in names])
    im = ax.imshow(mat, cmap="magma_r")
    ax.set_xticks(range(len(names)), names, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.set_title(f"H{dim} Wasserstein-1 (rank scale)")
    fig.colorbar(im, ax=ax, fraction=0.046)
    for i in range(len(names)):
        for j in range(len(names)):
            dark = mat[i, j] > 0.6 * mat.max()
            ax.text(j, i, f"{mat[i, j]:.1f}", ha="center", va="center", fontsize=7,
                    color="w" if dark else "0.2")
fig.tight_layout()""",
    ),
    (
        "md",
        """## 6 · AGTDM: are two representations dependent?

The maximum over a 10 × 10 threshold grid of the bias-corrected distance
correlation between the two RGTMs, with a permutation test (stimulus labels of
one RDM shuffled; the maximisation is repeated in every permutation, so the
p-value is valid). With 200 permutations the smallest possible p is 1/201.""",
    ),
    (
        "code",
        """pairs = {
    "human IT (K08) vs IT (C14)": (hit, rdms["IT (C14)"]),
    "EVC (C14) vs IT (C14)": (rdms["EVC (C14)"], rdms["IT (C14)"]),
    "IT (C14) vs animacy model": (rdms["IT (C14)"], k08["models/animacy"]),
    "AlexNet conv1 vs IT (C14)": (rdms["AlexNet conv1"], rdms["IT (C14)"]),
}
rows = []
for name, (a, b) in pairs.items():
    res = topology.agtdm(a, b, grid=10, n_permutations=200, rng=0)
    rows.append({"pair": name, "AGTDM": float(res.score), "p": float(res.pvalue),
                 "best lower": res.attrs["best_lower"], "best upper": res.attrs["best_upper"]})
print(f"notebook ran in {time.perf_counter() - t_start:.1f} s")
pd.DataFrame(rows).set_index("pair").round(3)""",
    ),
    (
        "md",
        """## What we found (at the time of writing; the cells above recompute it)

* **EVC vs IT (Cichy 2014).** Raw RDMs identify the region of a held-out
  subject 73% of the time (95% bootstrap CI 0.62–0.88); ranking alone gives
  90%, and every RGTM regime 90–93% (geometry- and topology-sensitive
  highest). The nested 6 × 6 threshold search reaches 90%, with the training
  folds choosing different thresholds (mostly (0, 1), (0.2, 0.8), (0, 0.2)).
  With 15 subjects the CIs (≈0.70–1.0) overlap, so the RGTM regimes are not
  distinguishable from each other or from the ranked RDM — the clear gain is
  ranked/transformed over raw dissimilarities.
* **Noise.** At 4 × the dissimilarity SD the geometry-sensitive RGTM keeps the
  highest accuracy (0.82, ranked RDM 0.78, raw 0.70), while the topology,
  global and local regimes fall to 0.60–0.70: discarding more of the distance
  scale costs robustness here.
* **Mouse areas (Allen).** Six-way identification from a held-out layer is hard
  (chance 0.17): raw RDMs 0.24, ranked RDM 0.48, RGTMs 0.33–0.43, searched 0.38 —
  CIs span roughly 0.1–0.7 with only 3–4 layers per area.
* **IT persistent homology (K08 human IT).** H0 is dominated by chaining: the
  last single-linkage merge peels off one outlier image, and the
  animate/inanimate split appears only with average linkage (43 of 48 animate
  images in one cluster). H1 holds 80 short loops (longest lifetime 0.06 in
  1 − r units, range 0.57–1.16): noise-scale loops, no dominant ring. In the
  topology-sensitive regime a single H1 bar survives; the transformed diagram
  equals the recomputed one. On the rank scale the brain RDMs' H0 diagrams are
  close to each other and far from AlexNet conv1; H1 distances mostly track how
  many small loops each RDM has (most for the noisier monkey-IT RDM, almost
  none for AlexNet).
* **AGTDM.** All four pairs are dependent at the smallest attainable p (1/201).
  The strongest is human IT (K08) vs IT (C14), two independent groups of
  people (0.65), then IT vs the animacy model (0.56); the maximising thresholds
  were (0, 1) for all pairs, i.e. the plain ranked RDMs.""",
    ),
]


if __name__ == "__main__":
    write(CELLS, "04_topology.ipynb")
