"""Regenerate the baseline PNGs of tests/test_plotting_images.py.

    python tests/make_baseline_images.py                 # every case
    python tests/make_baseline_images.py plot_rdm ...    # only these

Run it after a deliberate change to a figure, look at the new images in
tests/baseline_images/, and commit them with the change.
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

sys.path.insert(0, str(Path(__file__).resolve().parent))

import test_plotting_images as cases  # noqa: E402


def main(argv: list[str]) -> int:
    names = argv or sorted(cases.CASES)
    unknown = sorted(set(names) - set(cases.CASES))
    if unknown:
        print(f"unknown case(s) {unknown}; known: {sorted(cases.CASES)}", file=sys.stderr)
        return 1
    cases.BASELINE_DIR.mkdir(exist_ok=True)
    for name in names:
        path = cases.render(name, cases.BASELINE_DIR / f"{name}.png")
        print(f"wrote {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
