"""The ``neurorep`` command: datasets, models, demo, align, encode, rsa.

Every analysis command writes one run's files together: they are computed
into a hidden sibling of ``--out`` and moved into place only when the whole
run succeeded (``--overwrite`` replaces a previous run's folder, deleting it
only after the new one is in place). An existing output is refused before
any computation starts.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

# what each command writes (an old output folder without a marker file holding only
# these names may be replaced with --overwrite)
_ALIGN_FILES = ("scores.nc", "best_layer.nc", "score_matrix.png", "layer_profiles.png")
_DEMO_FILES = ("report.html", "results", "figures")
_ENCODE_FILES = ("scores.nc", "unit_scores.nc", "layer_profiles.png")
_RSA_FILES = ("scores.nc", "evaluation.nc", "rdms.nc", "figures")


# ----------------------------------------------------------------------------- argument types
def _int_at_least(low: int, what: str) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}; got {text!r}.") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"expected {what}; got {value}.")
        return value

    return parse


_n_boot = _int_at_least(2, "an integer >= 2 (bootstrap samples for the confidence intervals)")
_seed = _int_at_least(0, "a non-negative integer seed")
_folds = _int_at_least(2, "an integer >= 2 (cross-validation folds)")
_n_perm = _int_at_least(0, "a non-negative integer (0: no permutation test)")


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1), e.g. 0.95; got {text!r}.") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1), e.g. 0.95; got {value}.")
    return value


def _alphas(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated positive numbers, e.g. 0.1,1,10,100; got {text!r}."
        ) from None
    if not values or not all(math.isfinite(v) and v > 0 for v in values):
        raise argparse.ArgumentTypeError(
            f"expected comma-separated positive numbers, e.g. 0.1,1,10,100; got {text!r}."
        )
    return values


def _names(text: str) -> list[str]:
    names = [v.strip() for v in text.split(",") if v.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"expected comma-separated names; got {text!r}.")
    return names


# ----------------------------------------------------------------------------- shared steps
def _record(args: argparse.Namespace) -> dict[str, Any]:
    from neurorep import __version__

    return {
        "command": args.command,
        "argv": list(getattr(args, "argv", [])),
        "neurorep_version": __version__,
        "rng": getattr(args, "rng", None),
    }


def _start(args: argparse.Namespace, known: tuple[str, ...]) -> Any:
    """Refuse an unusable --out now (before any work); the run folder for later."""
    from neurorep._rundir import check_out, run_dir

    check_out(args.out, overwrite=args.overwrite, known=known)
    return lambda: run_dir(args.out, overwrite=args.overwrite, known=known, record=_record(args))


def _exactly_one(args: argparse.Namespace, *options: str) -> None:
    given = [o for o in options if getattr(args, o.lstrip("-").replace("-", "_")) is not None]
    if len(given) != 1:
        listed = " or ".join(f"--{o.lstrip('-')}" for o in options)
        got = f"got {', '.join(given)}" if given else "got none"
        raise ValueError(f"give exactly one of {listed}; {got}.")


def _brain_source(args: argparse.Namespace) -> dict[str, Any]:
    """Every member of --brain FILE or --dataset NAME."""
    import xarray as xr

    from neurorep import data, datasets

    if args.brain is None:
        return data.members(datasets.load(args.dataset, args.data_home))
    obj = data.load(args.brain)
    if isinstance(obj, xr.Dataset):
        raise ValueError(
            f"--brain {str(args.brain)!r} holds a results Dataset; give responses or RDMs "
            f"(a DataArray or a DataTree of them)."
        )
    return {str(obj.name or "brain"): obj} if isinstance(obj, xr.DataArray) else data.members(obj)


def _select(source: dict[str, Any], names: list[str] | None, option: str,
            exclude: list[str] | None = None) -> dict[str, Any]:
    if names:
        missing = [m for m in names if m not in source]
        if missing:
            raise ValueError(f"{option} {missing} not found; available: {sorted(source)}")
        return {k: source[k] for k in names}
    out = {k: v for k, v in source.items() if k not in (exclude or [])}
    if not out:
        raise ValueError(f"no members left for {option}; available: {sorted(source)}")
    return out


def _model_activations(name: str, brain: dict, data_home: Path | None):  # type: ignore[type-arg]
    from neurorep import data
    from neurorep.models import MODELS, extract_images, extract_text, get_model

    first = next(iter(brain.values()))
    ids = data.stimulus_ids(first)
    if name in MODELS and get_model(name).modality == "image":
        if "image" not in first.coords:
            raise ValueError(
                f"--model-name {name} needs brain stimuli with an 'image' coordinate (file paths)."
            )
        return extract_images(name, list(first["image"].values), stimulus=ids)
    if "text" not in first.coords:
        raise ValueError(f"--model-name {name} needs brain stimuli with a 'text' coordinate.")
    return extract_text(name, list(first["text"].values), stimulus=ids)


def _model_members(args: argparse.Namespace, brain: dict[str, Any]) -> dict[str, Any]:
    """name -> DataArray of the model side (activations layers, features or RDMs)."""
    import xarray as xr

    from neurorep import data

    if args.model is not None:
        obj = data.load(args.model)
        if isinstance(obj, xr.Dataset):
            raise ValueError(
                f"--model {str(args.model)!r} holds a results Dataset; give activations (a "
                f"DataTree), features or RDMs."
            )
        mem = {str(obj.name or Path(args.model).stem): obj} if isinstance(obj, xr.DataArray) else data.members(obj)
    else:
        mem = data.members(_model_activations(args.model_name, brain, args.data_home))
    if args.layers:
        missing = [m for m in args.layers if m not in mem]
        if missing:
            raise ValueError(f"--layers {missing} not found; available: {list(mem)}")
        mem = {k: mem[k] for k in args.layers}
    return mem


def _figure(display: Any, path: Path) -> None:
    """Save a plot function's figure (a PlotDisplay) and close it."""
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    display.figure_.savefig(path, dpi=150, bbox_inches="tight")
    plt.close(display.figure_)


def _safe_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def _number_or_all(text: str) -> int | str:
    """A subject or session number, or ``all``."""
    if text == "all":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number or 'all'; got {text!r}") from None


def _all_or_list(values: list[int | str] | None) -> list[int] | str | None:
    """``['all']`` -> ``'all'``; 'all' mixed with numbers is refused."""
    if values is None or "all" not in values:
        return values  # type: ignore[return-value]
    if len(values) > 1:
        raise ValueError(f"give either numbers or 'all', not both; got {' '.join(map(str, values))}.")
    return "all"


# ----------------------------------------------------------------------------- commands
def _datasets(args: argparse.Namespace) -> int:
    from neurorep import datasets

    if args.action == "list":
        for name in datasets.list_datasets():
            m = datasets.get_manifest(name)
            tag = "loader" if name in datasets.LOADERS else "manifest"
            print(f"{name:26s} [{tag:8s}] {m.title}")
        return 0
    if not args.name:
        print(f"neurorep datasets {args.action}: name a dataset (see `neurorep datasets list`).", file=sys.stderr)
        return 2
    m = datasets.get_manifest(args.name)
    if args.action == "info":
        print(f"{m.name}: {m.title}\nmodality: {m.modality}\nstimuli: {m.stimuli}")
        print(f"license: {m.license}\nsource: {m.source}")
        if m.access:
            print(f"access: {m.access}")
        if m.download_size:
            print(f"download size: {m.download_size}")
        for f in m.files:
            print(f"file: {f.name} ({f.size} bytes) sha256 {f.sha256 or '(recorded on first download)'}\n      {f.url}")
        print("cite:\n  " + "\n  ".join(m.citation))
        return 0
    folder = datasets.fetch(
        args.name, data_home=args.data_home, subjects=_all_or_list(args.subjects),
        sessions=_all_or_list(args.sessions),
        redownload=args.redownload, progressbar=True,
    )
    print(f"{args.name}: files verified in {folder}")
    return 0


def _models(args: argparse.Namespace) -> int:
    from neurorep import models

    if args.action == "list":
        for name in models.list_models(args.modality):
            m = models.get_model(name)
            print(f"{name:24s} [{m.modality:5s}] {m.title}")
        return 0
    if not args.name:
        print("neurorep models info: name a model (see `neurorep models list`).", file=sys.stderr)
        return 2
    m = models.get_model(args.name)
    print(f"{m.name}: {m.title}\nmodality: {m.modality}\nlicense: {m.license}\ninstall: {m.install}")
    if m.aliases:
        print(f"aliases: {', '.join(m.aliases)}")
    print(f"default layers ({len(m.layers)}): {', '.join(m.layers)}")
    if m.preprocess is not None:
        print(f"preprocess: {m.preprocess!r}")
    print(f"cite:\n  {m.citation}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from neurorep._demo import run_demo

    open_run = _start(args, _DEMO_FILES)
    with open_run() as tmp:

        def log(message: object) -> None:  # the report moves to --out at the end
            print(str(message).replace(str(tmp), str(args.out)))

        run_demo(
            tmp,
            data_home=args.data_home,
            use_minilm=not args.synthetic_model,
            n_bootstrap=args.n_boot,
            log=log,
        )
    return 0


def _align(args: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")
    from neurorep import data
    from neurorep._core.errors import check_option
    from neurorep.alignment import METRICS, best_layer, score_matrix
    from neurorep.plotting import plot_layer_profiles, plot_score_matrix

    _exactly_one(args, "brain", "dataset")
    _exactly_one(args, "model", "model-name")
    check_option("--metric", args.metric, METRICS)
    open_run = _start(args, _ALIGN_FILES)
    brain = _select(_brain_source(args), args.members, "--members")
    model = data.load(args.model) if args.model is not None else _model_activations(args.model_name, brain, args.data_home)
    with open_run() as out:
        scores = score_matrix(brain, model, metric=args.metric, n_bootstrap=args.n_boot, rng=args.rng)
        data.save(scores, out / "scores.nc")
        best = None
        if "subject_score" not in scores and all("stimulus" in v.dims for v in brain.values()):
            best = best_layer(brain, model, metric=args.metric, n_bootstrap=args.n_boot, rng=args.rng)
            data.save(best, out / "best_layer.nc")
        _figure(plot_score_matrix(scores, best=best), out / "score_matrix.png")
        _figure(plot_layer_profiles(scores), out / "layer_profiles.png")
    top = scores.score.idxmax("layer")
    for region in scores.region.values:
        print(f"{region}: best layer {top.sel(region=region).item()} "
              f"(score {float(scores.score.sel(region=region).max()):.3f}, ceiling {float(scores.ceiling.sel(region=region, bound='lower')):.3f})")
    print(f"results and figures in {args.out}")
    return 0


def _mean_unit_score(scoring: str) -> Callable[[Any, Any], float]:
    import numpy as np

    def stat(pred: Any, resp: Any) -> float:
        pc = pred - pred.mean(0)
        yc = resp - resp.mean(0)
        syy = (yc * yc).sum(0)
        with np.errstate(divide="ignore", invalid="ignore"):
            if scoring == "r":
                spp = (pc * pc).sum(0)
                per_unit = np.where((syy > 0) & (spp > 0), (pc * yc).sum(0) / np.sqrt(syy * spp), np.nan)
            else:
                per_unit = np.where(syy > 0, 1.0 - ((resp - pred) ** 2).sum(0) / syy, np.nan)
        return float(np.nanmean(per_unit)) if np.isfinite(per_unit).any() else float("nan")

    return stat


def _encode(args: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import numpy as np
    import pandas as pd
    import xarray as xr

    from neurorep import __version__, data
    from neurorep.encoding import DEFAULT_ALPHAS, cross_validate_ridge
    from neurorep.plotting import plot_layer_profiles
    from neurorep.stats import bootstrap, noise_ceiling

    _exactly_one(args, "brain", "dataset")
    _exactly_one(args, "model", "model-name")
    open_run = _start(args, _ENCODE_FILES)
    brain = _select(_brain_source(args), args.members, "--members")
    for name, da in brain.items():
        if da.dims[-2:] == ("stimulus_i", "stimulus_j"):
            raise ValueError(
                f"brain member {name!r} is an RDM; encode needs responses (stimulus, unit) or "
                f"(stimulus, repetition, unit). Pick responses with --members, or use `neurorep rsa`."
            )
        if da.dims not in (("stimulus", "unit"), ("stimulus", "repetition", "unit")):
            raise ValueError(
                f"brain member {name!r} has dims {da.dims}; encode needs (stimulus, unit) or "
                f"(stimulus, repetition, unit) responses."
            )
    layers = _model_members(args, brain)
    alphas = args.alphas if args.alphas is not None else list(DEFAULT_ALPHAS)
    with open_run() as out:
        per_member: dict[str, xr.Dataset] = {}
        rows = []
        for name, da in brain.items():
            ceiling = None
            if "repetition" in da.dims:
                ceiling = noise_ceiling(da, metric=args.scoring)["ceiling"]
                da = da.mean("repetition", keep_attrs=True)
            per_layer = []
            summary = []
            for feats in layers.values():
                res = cross_validate_ridge(
                    feats, da, alphas=alphas, cv=args.cv, inner_cv=args.inner_cv, scoring=args.scoring,
                    n_permutations=args.n_permutations, n_bootstrap=args.n_boot, rng=args.rng,
                )
                pred = res["prediction"]
                p_vals = np.asarray(pred.values, float)
                y_vals = np.asarray(da.sel(stimulus=pred["stimulus"].values).values, float)
                tested = np.isfinite(p_vals).all(axis=1)  # samples some outer fold held out
                keep = res.drop_vars(["prediction", *[v for v in res.coords if "stimulus" in res[v].dims]])
                keep.attrs = {}
                per_layer.append(keep)
                summary.append(
                    bootstrap((p_vals[tested], y_vals[tested]), _mean_unit_score(args.scoring),
                              n_bootstrap=args.n_boot, ci=0.95, rng=args.rng)
                )
            ds = xr.concat(per_layer, dim=pd.Index(list(layers), name="layer"), coords="minimal",
                           compat="override")
            if ceiling is not None:
                ds["ceiling"] = ceiling.sel(unit=ds["unit"].values)
            ds.attrs = {"analysis": "cross_validate_ridge per layer", "scoring": args.scoring,
                        "cv": args.cv, "inner_cv": args.inner_cv, "alphas": alphas,
                        "n_bootstrap": args.n_boot, "n_permutations": args.n_permutations,
                        "ci": 0.95, "rng": args.rng, "neurorep_version": __version__}
            per_member[name] = ds
            rows.append({
                "score": [float(s.score) for s in summary],
                "ci_low": [float(s.ci_low) for s in summary],
                "ci_high": [float(s.ci_high) for s in summary],
                "ceiling": float(np.nanmean(ceiling.values)) if ceiling is not None else np.nan,
                "n_units": int(da.sizes["unit"]),
            })
        regions = list(brain)
        scores = xr.Dataset(
            {
                "score": (("region", "layer"), np.array([r["score"] for r in rows])),
                "ci_low": (("region", "layer"), np.array([r["ci_low"] for r in rows])),
                "ci_high": (("region", "layer"), np.array([r["ci_high"] for r in rows])),
                "ceiling": ("region", np.array([r["ceiling"] for r in rows])),
                "n_units": ("region", np.array([r["n_units"] for r in rows])),
            },
            coords={"region": regions, "layer": list(layers)},
            attrs={
                "analysis": "encode: mean over units of the held-out score",
                "metric": args.scoring, "ci": 0.95, "n_bootstrap": args.n_boot,
                "ci_method": "percentile bootstrap over stimuli of the held-out predictions",
                "cv": args.cv, "inner_cv": args.inner_cv, "rng": args.rng,
                "neurorep_version": __version__,
            },
        )
        depth = [float(v.attrs.get("depth", np.nan)) for v in layers.values()]
        scores = scores.assign_coords(depth=("layer", depth))
        data.save(scores, out / "scores.nc")
        data.save(xr.DataTree.from_dict({f"/{k}": v for k, v in per_member.items()}), out / "unit_scores.nc")
        _figure(plot_layer_profiles(scores), out / "layer_profiles.png")
    for region in regions:
        row = scores.score.sel(region=region)
        if np.isfinite(row.values).any():
            best = str(row.idxmax("layer").item())
            n = int(scores.n_units.sel(region=region))
            print(f"{region}: best layer {best} (mean held-out {args.scoring} "
                  f"{float(row.max()):.3f} over {n} unit{'' if n == 1 else 's'})")
        else:
            print(f"{region}: no finite score (constant responses?)")
    print(f"results and figures in {args.out}")
    return 0


def _as_rdms(name: str, da: Any, metric: Any) -> Any:
    """An RDM (2-D or stacked over subjects) from responses or an RDM member."""
    import xarray as xr

    from neurorep.rsa import compute_rdm

    if da.dims[-2:] == ("stimulus_i", "stimulus_j"):
        return da
    if "stimulus" not in da.dims:
        raise ValueError(
            f"{name!r} has dims {da.dims}; expected responses (stimulus, unit) / (stimulus, "
            f"repetition, unit) or an RDM (..., stimulus_i, stimulus_j)."
        )
    if "subject" in da.coords and da["subject"].dims == ("unit",):
        subjects = list(dict.fromkeys(str(s) for s in da["subject"].values))
        if len(subjects) > 1:  # one RDM per subject, stacked (units of a subject only)
            per = [compute_rdm(da.isel(unit=(da["subject"] == s).values), metric=metric) for s in subjects]
            return xr.concat(per, dim="subject").assign_coords(subject=subjects)
    return compute_rdm(da, metric=metric)


def _rsa(args: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import xarray as xr

    from neurorep import data
    from neurorep._core.errors import check_option
    from neurorep.plotting import plot_model_comparison
    from neurorep.rsa import BOOTSTRAPS, COMPARE_METHODS, METRICS, evaluate

    _exactly_one(args, "brain", "dataset")
    _exactly_one(args, "model", "model-name", "model-members")
    check_option("--rdm-metric", args.rdm_metric, METRICS)
    check_option("--method", args.method, [*COMPARE_METHODS, "pearson"])
    check_option("--bootstrap", args.bootstrap, ["auto", *BOOTSTRAPS])
    open_run = _start(args, _RSA_FILES)
    source = _brain_source(args)
    brain = _select(source, args.members, "--members", exclude=args.model_members)
    if args.model_members:
        models = _select(source, args.model_members, "--model-members")
    else:
        models = _model_members(args, brain)
    with open_run() as out:
        brain_rdms = {k: _as_rdms(f"brain member {k}", v, args.rdm_metric) for k, v in brain.items()}
        model_rdms = {}
        for k, v in models.items():
            r = _as_rdms(f"model {k}", v, args.rdm_metric)
            if r.ndim != 2:
                raise ValueError(
                    f"model {k!r} is a stack of RDMs {r.dims}; give one RDM per model."
                )
            model_rdms[k] = r
        results: dict[str, xr.Dataset] = {}
        for name, rdm in brain_rdms.items():
            lead = [d for d in rdm.dims[:-2]]
            dim = "subject" if "subject" in lead else (lead[0] if len(lead) == 1 else None)
            if len(lead) > 1 and "subject" not in lead:
                raise ValueError(
                    f"brain member {name!r} stacks RDMs over {lead}; rsa bootstraps a 'subject' "
                    f"dim. Save the RDMs with one leading 'subject' dim."
                )
            n_subj = rdm.sizes[dim] if dim is not None else 1
            boot = args.bootstrap
            if boot == "auto":
                boot = "both" if n_subj >= 3 else "stimulus"
            print(f"{name}: {n_subj} subject RDM(s); bootstrap over {boot}")
            results[name] = evaluate(
                data=rdm, models=model_rdms, method=args.method, bootstrap=boot, n_bootstrap=args.n_boot,
                ci=args.ci, dim=dim if len(lead) > 1 else None, rng=args.rng,
            )
        keep = ["score", "ci_low", "ci_high", "pvalue", "ceiling"]
        scores = xr.concat([r[keep] for r in results.values()], dim="region", coords="minimal",
                           compat="override", combine_attrs="drop")
        scores = scores.assign_coords(region=list(results))
        scores.attrs = {"analysis": "rsa.evaluate per brain member", "method": args.method,
                        "rdm_metric": args.rdm_metric, "ci": args.ci, "n_bootstrap": args.n_boot,
                        "rng": args.rng,
                        "bootstrap": [str(r.attrs["bootstrap"]) for r in results.values()]}
        data.save(scores, out / "scores.nc")
        data.save(xr.DataTree.from_dict({f"/{k}": v for k, v in results.items()}), out / "evaluation.nc")
        rdm_nodes = {f"/brain/{k}": v.to_dataset(name="rdm") for k, v in brain_rdms.items()}
        rdm_nodes.update({f"/models/{k}": v.to_dataset(name="rdm") for k, v in model_rdms.items()})
        data.save(xr.DataTree.from_dict(rdm_nodes), out / "rdms.nc")
        used: set[str] = set()
        for name, res in results.items():
            fname = _safe_name(name)
            while fname in used:
                fname += "_"
            used.add(fname)
            disp = plot_model_comparison(res, title=f"{name}: model RDMs ({args.method})")
            _figure(disp, out / "figures" / f"model_comparison_{fname}.png")
    for name, res in results.items():
        best = str(res.score.idxmax("model").item())
        print(f"{name}: best model {best} (score {float(res.score.max()):.3f}, "
              f"{args.ci:.0%} CI [{float(res.ci_low.sel(model=best)):.3f}, "
              f"{float(res.ci_high.sel(model=best)):.3f}])")
    print(f"results and figures in {args.out}")
    return 0


# ----------------------------------------------------------------------------- parser
def _add_run_options(p: argparse.ArgumentParser, default_out: str) -> None:
    p.add_argument("--out", type=Path, default=Path(default_out),
                   help=f"output folder (default {default_out}); written in one step at the end")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing output folder of a previous run (deleted only "
                        "after the new run succeeded)")


def _add_brain_options(p: argparse.ArgumentParser, what: str, *aliases: str) -> None:
    p.add_argument("--brain", *aliases, dest="brain", type=Path, help=f"{what} (.nc or .zarr)")
    p.add_argument("--dataset", help="a dataset name (see `neurorep datasets list`)")
    p.add_argument("--members", type=_names, help="comma-separated members of the brain set to use")
    p.add_argument("--data-home", type=Path, default=None, help="folder holding the datasets")


def _add_model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", type=Path, help="activations DataTree (.nc or .zarr)")
    p.add_argument("--model-name",
                   help="a registered model (`neurorep models list`): text models need a 'text' "
                        "coord, image models (efficientnet-lite0, cifar10-cnn) an 'image' coord")


def build_parser() -> argparse.ArgumentParser:
    """The ``neurorep`` argument parser (light: analysis modules load in the commands)."""
    from neurorep.stats import SCORES

    parser = argparse.ArgumentParser(prog="neurorep", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("datasets", help="list, describe or fetch datasets")
    p.add_argument("action", choices=["list", "info", "fetch"])
    p.add_argument("name", nargs="?")
    p.add_argument("--data-home", type=Path, default=None, help="where to put fetched files")
    p.add_argument("--subjects", type=_number_or_all, nargs="+", default=None,
                   help="fetch only these subjects, or 'all' (nsd, bold5000, things_fmri; "
                        "nsd needs --subjects or --sessions)")
    p.add_argument("--sessions", type=_number_or_all, nargs="+", default=None,
                   help="fetch only these sessions, or 'all' (nsd)")
    p.add_argument("--redownload", action="store_true",
                   help="download files that fail verification again")
    p.set_defaults(func=_datasets)

    p = sub.add_parser("models", help="list or describe the registered offline models")
    p.add_argument("action", choices=["list", "info"])
    p.add_argument("name", nargs="?")
    p.add_argument("--modality", choices=["image", "text"], default=None, help="list only these")
    p.set_defaults(func=_models)

    p = sub.add_parser("demo", help="run the offline end-to-end demo and write a report")
    p.add_argument("--data-home", type=Path, default=None,
                   help="real-data mirror; adds MiniLM vs the Pereira 2018 sentences")
    p.add_argument("--synthetic-model", action="store_true",
                   help="use a random ReLU network instead of MiniLM")
    p.add_argument("--n-bootstrap", "--n-boot", dest="n_boot", type=_n_boot, default=200)
    _add_run_options(p, "demo_output")
    p.set_defaults(func=_demo)

    p = sub.add_parser("align", help="region x layer score matrix from files or a dataset + model")
    _add_brain_options(p, "responses/RDM set")
    _add_model_options(p)
    p.add_argument("--metric", default="rsa",
                   help="a key of neurorep.alignment.METRICS: cka, rsa, encoding... (default rsa)")
    p.add_argument("--n-bootstrap", "--n-boot", dest="n_boot", type=_n_boot, default=200)
    p.add_argument("--rng", type=_seed, default=0, metavar="SEED", help="seed of every random draw (default 0)")
    _add_run_options(p, "align_output")
    p.set_defaults(func=_align)

    p = sub.add_parser(
        "encode", help="cross-validated ridge encoding: held-out score per unit and layer",
        description="Nested cross-validated ridge (neurorep.encoding.cross_validate_ridge) of every "
                    "brain member on every model layer. Repetitions are averaged for the fit and "
                    "give a per-unit noise ceiling (neurorep.stats.noise_ceiling). Writes "
                    "unit_scores.nc (per member: layer x unit scores, CIs, alphas), scores.nc "
                    "(region x layer mean held-out score with a bootstrap CI over stimuli) and "
                    "layer_profiles.png.")
    _add_brain_options(p, "responses (stimulus, unit) or (stimulus, repetition, unit)", "--responses")
    p.add_argument("--model", "--features", dest="model", type=Path,
                   help="activations DataTree or a features DataArray (stimulus, feature) (.nc or .zarr)")
    p.add_argument("--model-name",
                   help="a registered model (`neurorep models list`): text models need a 'text' "
                        "coord, image models (efficientnet-lite0, cifar10-cnn) an 'image' coord")
    p.add_argument("--layers", type=_names, help="comma-separated layers to use (default all)")
    p.add_argument("--cv", type=_folds, default=5, help="outer folds (held-out scores; default 5)")
    p.add_argument("--inner-cv", type=_folds, default=5, help="inner folds choosing alpha (default 5)")
    p.add_argument("--alphas", type=_alphas, default=None, help="comma-separated ridge penalties (default a log grid)")
    p.add_argument("--scoring", choices=list(SCORES), default="r")
    p.add_argument("--n-bootstrap", "--n-boot", dest="n_boot", type=_n_boot, default=200)
    p.add_argument("--n-permutations", type=_n_perm, default=0,
                   help="permutation test per unit with FDR (default 0: none)")
    p.add_argument("--rng", type=_seed, default=0, metavar="SEED", help="seed of every random draw (default 0)")
    _add_run_options(p, "encode_output")
    p.set_defaults(func=_encode)


    p = sub.add_parser(
        "rsa", help="RDMs of brain and models, model evaluation with bootstrap CIs",
        description="RDMs of every brain member (responses are turned into RDMs, one per subject "
                    "when units carry a 'subject' coord) and of every model layer or model RDM, "
                    "then neurorep.rsa.evaluate per brain member. Writes rdms.nc, evaluation.nc "
                    "(the full evaluate results), scores.nc (region x model score, CI, p-value, "
                    "ceilings) and figures/model_comparison_<member>.png.")
    _add_brain_options(p, "responses or RDMs")
    _add_model_options(p)
    p.add_argument("--model-members", type=_names,
                   help="comma-separated members of the brain source to use as model RDMs")
    p.add_argument("--layers", type=_names, help="comma-separated model layers to use (default all)")
    p.add_argument("--rdm-metric", default="correlation",
                   help="dissimilarity for responses and activations, a key of "
                        "neurorep.rsa.METRICS (default correlation)")
    p.add_argument("--method", default="corr",
                   help="RDM comparison, one of neurorep.rsa.COMPARE_METHODS (default corr)")
    p.add_argument("--bootstrap", default="auto",
                   help="what to resample: auto, both, subject, stimulus, dual or none; auto: "
                        "subjects and stimuli with >= 3 subject RDMs, else stimuli")
    p.add_argument("--n-bootstrap", "--n-boot", dest="n_boot", type=_n_boot, default=200)
    p.add_argument("--ci", type=_fraction, default=0.95)
    p.add_argument("--rng", type=_seed, default=0, metavar="SEED", help="seed of every random draw (default 0)")
    _add_run_options(p, "rsa_output")
    p.set_defaults(func=_rsa)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    try:
        return int(args.func(args))
    except (KeyError, ValueError, OSError, RuntimeError) as err:
        print(f"neurorep: error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
