"""The ``neurorep`` command: datasets, demo, align."""

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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="neurorep", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("datasets", help="list, describe or fetch datasets")
    p.add_argument("action", choices=["list", "info", "fetch"])
    p.add_argument("name", nargs="?")
    p.add_argument("--data-home", type=Path, default=None, help="where to put fetched files")
    p.set_defaults(func=_datasets)

    p = sub.add_parser("demo", help="run the offline end-to-end demo and write a report")
    p.add_argument("--out", type=Path, default=Path("demo_output"))
    p.add_argument("--data-home", type=Path, default=None,
                   help="real-data mirror; adds MiniLM vs the Pereira 2018 sentences")
    p.add_argument("--synthetic-model", action="store_true",
                   help="use a random ReLU network instead of MiniLM")
    p.add_argument("--n-boot", type=int, default=200)
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=_demo)
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
