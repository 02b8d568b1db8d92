"""Simulators with planted ground truth (the embedded data of the demo and fast tests)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr

from neurorep._core.errors import check_int
from neurorep._core.rng import as_generator
from neurorep.data import activations, members, responses, validate


def make_model_activations(
    n_stimuli: int = 200,
    *,
    n_layers: int = 6,
    width: int = 64,
    input_dim: int = 32,
    rng: Any = None,
) -> xr.DataTree:
    """Activations of a random deep ReLU network on random stimuli.

    Each layer is ``relu(z-scored(previous) @ W)`` with fresh Gaussian
    weights, so layers are related but not linearly redundant.

    Parameters
    ----------
    n_stimuli : int, optional
        Random input stimuli (default 200), ids ``stim0000``...
    n_layers : int, optional
        Layers (default 6).
    width : int, optional
        Units per layer (default 64).
    input_dim : int, optional
        Dimension of the Gaussian inputs (default 32).
    rng : int, Generator or None
        Seed or generator of the simulation (None: fresh entropy).

    Returns
    -------
    DataTree
        Activations ``layer1..layerN`` ``(stimulus, unit)``, model ``"random_relu"``.

    Examples
    --------
    >>> from neurorep.datasets import make_model_activations
    >>> acts = make_model_activations(20, n_layers=3, width=8, rng=0)
    >>> sorted(acts.children), acts["layer1"].ds["activations"].shape
    (['layer1', 'layer2', 'layer3'], (20, 8))
    """
    gen = as_generator(rng)
    x = gen.standard_normal((n_stimuli, input_dim))
    layers: dict[str, np.ndarray] = {}
    h = x
    for k in range(n_layers):
        h = (h - h.mean(0)) / (h.std(0) + 1e-9)
        w = gen.standard_normal((h.shape[1], width)) / np.sqrt(h.shape[1])
        h = np.maximum(h @ w + 0.5 * gen.standard_normal(width), 0.0)
        layers[f"layer{k + 1}"] = h.copy()
    ids = [f"stim{i:04d}" for i in range(n_stimuli)]
    return activations(layers, stimulus=ids, model="random_relu")


def make_layered_brain(
    model: xr.DataTree | None = None,
    *,
    regions: Mapping[str, str | Mapping[str, float]] | None = None,
    n_units: int = 60,
    n_repetitions: int = 4,
    noise: float = 1.0,
    n_stimuli: int = 200,
    rng: Any = None,
) -> xr.DataTree:
    """A "layered brain": regions whose responses are noisy mixtures of model layers.

    Region ``r`` responds ``Y_r = sum_l w_rl * Z(A_l) B_rl + noise`` where
    ``Z(A_l)`` is layer ``l``'s z-scored activations, ``B_rl`` random readout
    weights scaled to unit signal variance per unit, and the noise is i.i.d.
    Gaussian with standard deviation ``noise`` on every repetition.

    Parameters
    ----------
    model : activations DataTree, optional
        A real or synthetic model; default :func:`make_model_activations`.
    regions : mapping, optional
        Region name -> layer name, or -> {layer: weight} for a mixture.
        Default: three regions on the first, middle and last layers.
    n_units : int
        Units per region.
    n_repetitions : int
        Repeated presentations (the ``repetition`` dim) for noise ceilings.
    noise : float
        Noise standard deviation per repetition (signal variance is 1).
    n_stimuli : int, optional
        Stimuli of the default model (default 200); ignored when ``model``
        is given.
    rng : int, Generator or None
        Seed or generator of the simulation (None: fresh entropy).

    Returns
    -------
    DataTree
        ``brain/<region>``: responses ``(stimulus, repetition, unit)``;
        ``model``: the activations; ``truth``: a Dataset over ``region`` with
        ``best_layer`` (the largest-weight layer), ``ceiling`` (the expected
        noise ceiling, as a Pearson r, of repetition-averaged responses:
        ``sqrt(1 / (1 + noise**2 / n_repetitions))``) and root attrs holding
        the full mixture weights.

    Examples
    --------
    >>> from neurorep.datasets import make_layered_brain
    >>> sim = make_layered_brain(n_stimuli=50, n_units=5, rng=1)
    >>> sorted(sim["brain"].children)
    ['early', 'late', 'middle']
    """
    gen = as_generator(rng)
    if model is None:
        model = make_model_activations(n_stimuli, rng=gen)
    validate(model, kind="activations", name="model")
    layers = members(model)
    names = list(layers)
    if regions is None:
        regions = {
            "early": names[0],
            "middle": names[len(names) // 2],
            "late": names[-1],
        }
    if n_repetitions < 2:
        raise ValueError(f"n_repetitions must be >= 2 for a noise ceiling; got {n_repetitions}.")
    stim = layers[names[0]]["stimulus"].values
    brain: dict[str, xr.DataArray] = {}
    mixtures: dict[str, dict[str, float]] = {}
    for region, spec in regions.items():
        mix = {spec: 1.0} if isinstance(spec, str) else {str(k): float(v) for k, v in spec.items()}
        unknown = [k for k in mix if k not in layers]
        if unknown:
            raise KeyError(f"region {region!r} names unknown layer(s) {unknown}; layers: {names}.")
        total = sum(w**2 for w in mix.values()) ** 0.5
        signal = np.zeros((len(stim), n_units))
        for layer, w in mix.items():
            a = np.asarray(layers[layer].values, float)
            a = (a - a.mean(0)) / (a.std(0) + 1e-9)
            b = gen.standard_normal((a.shape[1], n_units))
            part = a @ b
            part /= part.std(0) + 1e-12
            signal += (w / total) * part
        signal /= signal.std(0) + 1e-12
        obs = signal[:, None, :] + noise * gen.standard_normal((len(stim), n_repetitions, n_units))
        brain[region] = responses(
            obs,
            dims=("stimulus", "repetition", "unit"),
            stimulus=stim,
            repetition=[f"rep{i}" for i in range(n_repetitions)],
            unit=[f"{region}_u{u:03d}" for u in range(n_units)],
            region=region,
            subject="sim01",
        )
        mixtures[region] = {k: w / total for k, w in mix.items()}
    region_names = list(regions)
    truth = xr.Dataset(
        {
            "best_layer": ("region", [max(m, key=lambda k: abs(m[k])) for m in mixtures.values()]),
            "ceiling": ("region", np.full(len(region_names), np.sqrt(1 / (1 + noise**2 / n_repetitions)))),
        },
        coords={"region": region_names},
    )
    nodes: dict[str, Any] = {"/": xr.Dataset(attrs={"mixtures": mixtures, "noise": noise, "simulator": "make_layered_brain"})}
    for region, da in brain.items():
        nodes[f"/brain/{region}"] = da.to_dataset(name="responses")
    nodes["/model"] = xr.Dataset(attrs=dict(model.attrs))
    for node in model.children.values():
        nodes[f"/model/{node.name}"] = node.to_dataset()
    nodes["/truth"] = truth
    return xr.DataTree.from_dict(nodes)


def make_ring(
    n_points: int = 60,
    *,
    n_units: int = 20,
    noise: float = 0.05,
    rng: Any = None,
) -> xr.DataArray:
    """Responses lying on a circle (one H1 class) embedded in ``n_units`` dims.

    Parameters
    ----------
    n_points : int, optional
        Stimuli, evenly spaced around the circle (at least 3; default 60).
    n_units : int, optional
        Dimensions of the embedding (at least 2, a circle spans a plane;
        default 20); the circle lies in a random plane.
    noise : float, optional
        Standard deviation of the Gaussian noise added per coordinate
        (default 0.05; the circle has radius 1).
    rng : int, Generator or None
        Seed or generator of the simulation (None: fresh entropy).

    Returns
    -------
    DataArray
        Responses ``(stimulus, unit)``; stimulus coord ``angle`` (radians);
        attrs ``simulator`` and ``noise``.

    Examples
    --------
    >>> from neurorep.datasets import make_ring
    >>> ring = make_ring(12, n_units=3, noise=0.0, rng=0)
    >>> ring.shape, round(float((ring**2).sum("unit").mean()), 6)
    ((12, 3), 1.0)
    """
    n_units = check_int(
        "make_ring: n_units", n_units, minimum=2,
        fix="A circle needs a plane to lie in: pass n_units=2 or more (e.g. the default 20).",
    )
    n_points = check_int("make_ring: n_points", n_points, minimum=3)
    if not np.isfinite(noise) or noise < 0:
        raise ValueError(f"make_ring: noise must be a finite number >= 0; got {noise!r}.")
    gen = as_generator(rng)
    theta = 2 * np.pi * np.arange(n_points) / n_points
    basis, _ = np.linalg.qr(gen.standard_normal((n_units, 2)))
    x = np.c_[np.cos(theta), np.sin(theta)] @ basis.T
    x += noise * gen.standard_normal(x.shape)
    return responses(
        x,
        stimulus=[f"ring{i:03d}" for i in range(n_points)],
        stimulus_coords={"angle": theta},
        attrs={"simulator": "make_ring", "noise": noise},
    )


def make_clusters(
    n_clusters: int = 3,
    n_per_cluster: int = 20,
    *,
    n_units: int = 20,
    separation: float = 10.0,
    rng: Any = None,
) -> xr.DataArray:
    """Responses in well-separated Gaussian clusters (``n_clusters`` long H0 bars).

    Parameters
    ----------
    n_clusters : int, optional
        Clusters (default 3).
    n_per_cluster : int, optional
        Stimuli per cluster (default 20).
    n_units : int, optional
        Dimensions (default 20).
    separation : float, optional
        Standard deviation of the cluster centres; the points around each
        centre have standard deviation 1 (default 10).
    rng : int, Generator or None
        Seed or generator of the simulation (None: fresh entropy).

    Returns
    -------
    DataArray
        Responses ``(stimulus, unit)`` with stimulus coord ``cluster`` (the
        cluster index); attrs ``simulator`` and ``separation``.

    Examples
    --------
    >>> from neurorep.datasets import make_clusters
    >>> x = make_clusters(2, 5, n_units=4, rng=0)
    >>> x.shape, x["cluster"].values.tolist()
    ((10, 4), [0, 0, 0, 0, 0, 1, 1, 1, 1, 1])
    """
    gen = as_generator(rng)
    centres = separation * gen.standard_normal((n_clusters, n_units))
    labels = np.repeat(np.arange(n_clusters), n_per_cluster)
    x = centres[labels] + gen.standard_normal((len(labels), n_units))
    return responses(
        x,
        stimulus=[f"c{lab}_{i:03d}" for i, lab in enumerate(labels)],
        stimulus_coords={"cluster": labels},
        attrs={"simulator": "make_clusters", "separation": separation},
    )
