"""The ``neurorep`` command: datasets, models, demo, align."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


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
        for f in m.files:
            print(f"file: {f.name} ({f.size} bytes) sha256 {f.sha256}\n      {f.url}")
        print("cite:\n  " + "\n  ".join(m.citation))
        return 0
    folder = datasets.fetch(args.name, data_home=args.data_home, progressbar=True)
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

    run_demo(
        args.out,
        data_home=args.data_home,
        use_minilm=not args.synthetic_model,
        n_boot=args.n_boot,
        overwrite=args.overwrite,
    )
    return 0


def _model_activations(name: str, brain: dict, data_home: Path | None):  # type: ignore[type-arg]
    from neurorep import data

    first = next(iter(brain.values()))
    ids = data.stimulus_ids(first)
    from neurorep.models import MODELS, extract_images, extract_text, get_model

    if name in MODELS and get_model(name).modality == "image":
        coord = first["image"] if "image" in first.coords else None
        if coord is None:
            raise ValueError(f"--model-name {name} needs brain stimuli with an 'image' coordinate (file paths).")
        return extract_images(name, list(coord.values), stimulus=ids)

    if "text" not in first.coords:
        raise ValueError(f"--model-name {name} needs brain stimuli with a 'text' coordinate.")
    return extract_text(name, list(first["text"].values), stimulus=ids)


def _align(args: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import xarray as xr

    from neurorep import data, datasets
    from neurorep.alignment import best_layer, score_matrix
    from neurorep.plotting import plot_layer_profiles, plot_score_matrix

    if (args.brain is None) == (args.dataset is None):
        raise ValueError("give exactly one of --brain FILE or --dataset NAME.")
    if args.brain is not None:
        obj = data.load(args.brain)
        brain = {str(obj.name or "brain"): obj} if isinstance(obj, xr.DataArray) else data.members(obj)
    else:
        brain = data.members(datasets.load(args.dataset, args.data_home))
    if args.members:
        keep = [m.strip() for m in args.members.split(",")]
        missing = [m for m in keep if m not in brain]
        if missing:
            raise ValueError(f"--members {missing} not found; available: {sorted(brain)}")
        brain = {k: brain[k] for k in keep}
    if (args.model is None) == (args.model_name is None):
        raise ValueError("give exactly one of --model FILE or --model-name NAME.")
    model = data.load(args.model) if args.model is not None else _model_activations(args.model_name, brain, args.data_home)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    scores = score_matrix(brain, model, metric=args.metric, n_boot=args.n_boot, rng=0)
    data.save(scores, out / "scores.nc", overwrite=args.overwrite)
    best = None
    if "subject_score" not in scores and all("stimulus" in v.dims for v in brain.values()):
        best = best_layer(brain, model, metric=args.metric, n_boot=args.n_boot, rng=0)
        data.save(best, out / "best_layer.nc", overwrite=args.overwrite)
    ax = plot_score_matrix(scores, best=best)
    ax.figure.savefig(out / "score_matrix.png", dpi=150, bbox_inches="tight")
    ax = plot_layer_profiles(scores)
    ax.figure.savefig(out / "layer_profiles.png", dpi=150, bbox_inches="tight")
    top = scores.score.idxmax("layer")
    for region in scores.region.values:
        print(f"{region}: best layer {top.sel(region=region).item()} "
              f"(score {float(scores.score.sel(region=region).max()):.3f}, ceiling {float(scores.ceiling.sel(region=region)):.3f})")
    print(f"results and figures in {out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="neurorep", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("datasets", help="list, describe or fetch datasets")
    p.add_argument("action", choices=["list", "info", "fetch"])
    p.add_argument("name", nargs="?")
    p.add_argument("--data-home", type=Path, default=None, help="where to put fetched files")
    p.set_defaults(func=_datasets)

    p = sub.add_parser("models", help="list or describe the registered offline models")
    p.add_argument("action", choices=["list", "info"])
    p.add_argument("name", nargs="?")
    p.add_argument("--modality", choices=["image", "text"], default=None, help="list only these")
    p.set_defaults(func=_models)

    p = sub.add_parser("demo", help="run the offline end-to-end demo and write a report")
    p.add_argument("--out", type=Path, default=Path("demo_output"))
    p.add_argument("--data-home", type=Path, default=None,
                   help="real-data mirror; adds MiniLM vs the Pereira 2018 sentences")
    p.add_argument("--synthetic-model", action="store_true",
                   help="use a random ReLU network instead of MiniLM")
    p.add_argument("--n-boot", type=int, default=200)
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=_demo)

    p = sub.add_parser("align", help="region x layer score matrix from files or a dataset + model")
    p.add_argument("--brain", type=Path, help="responses/RDM set (.nc or .zarr)")
    p.add_argument("--dataset", help="a dataset name (see `neurorep datasets list`)")
    p.add_argument("--members", help="comma-separated members of the brain set to use")
    p.add_argument("--model", type=Path, help="activations DataTree (.nc or .zarr)")
    p.add_argument("--model-name", help="a registered model (`neurorep models list`): text models need a 'text' "
                        "coord, image models (efficientnet-lite0, cifar10-cnn) an 'image' coord")
    p.add_argument("--metric", default="rsa")
    p.add_argument("--n-boot", type=int, default=200)
    p.add_argument("--data-home", type=Path, default=None)
    p.add_argument("--out", type=Path, default=Path("align_output"))
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=_align)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (KeyError, ValueError, OSError, RuntimeError) as err:
        print(f"neurorep: error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
