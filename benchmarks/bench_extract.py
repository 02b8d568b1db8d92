"""neurorep.models.extract_images vs a plain torch loop with forward hooks.

Workload: EfficientNet-Lite0 (the registered ImageNet model) on the 92 images
of Kriegeskorte et al. (2008) from the data mirror (``--n-images`` repeats
them), the same layers and the same batch size on both sides:

* ``many``: the stem, all 16 blocks, the head, the pooled features and the
  logits (20 layers, flattened, about 5.3 MB of activations per image);
* ``few``: 3 layers (two blocks, the logits), flattened.

The plain loop is what a user writes by hand: per batch, read the files with
PIL, preprocess them with the same :class:`neurorep.models.ImagePreprocess`,
run the model under ``torch.no_grad`` with one forward hook per layer that keeps
``output.reshape(batch, -1)``, then ``np.concatenate`` each layer's batches.
neurorep pools inside the hook into one preallocated array per layer (in
memory), or writes each batch straight into a zarr store (``cache_dir``).

Each variant runs in a fresh subprocess; the report gives the median wall time
over ``--repeat`` runs, images per second, and the peak resident memory above
the level before extraction (sampled every 5 ms with psutil), plus a check that
the activations agree. Run:
``python benchmarks/bench_extract.py [--quick] [--n-images 276] [--threads 2] [--repeat 3]``.
The default 276 images (the 92, three times) keep about 1.1 GB of activations
in the ``many`` set, more than the forward pass itself needs at batch 32
(about 0.5 GB): the regime where what is kept decides the memory.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

MANY = ["_bn0"] + [f"_blocks.{i}" for i in range(16)] + ["_bn1", "_avg_pooling", "_fc"]
FEW = ["_blocks.4", "_blocks.10", "_fc"]
MIRROR = Path(__file__).resolve().parents[1].parent / "shared" / "data"


class PeakRSS:
    """Peak resident set size (bytes) above the level at start, sampled in a thread."""

    def __init__(self, interval: float = 0.005):
        import psutil

        self.proc, self.interval = psutil.Process(), interval
        self.base = self.peak = self.proc.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(self.interval)

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.proc.memory_info().rss)

    @property
    def mb(self) -> float:
        return (self.peak - self.base) / 2**20


def _image_files(n: int) -> list[Path]:
    folder = MIRROR / "cichy2014_algonauts2019_92img_fmri_rdms" / "92images"
    files = sorted(folder.glob("*.jpg"))
    if not files:
        raise SystemExit(f"the 92 images are not at {folder}; this benchmark needs the data mirror.")
    return [files[i % len(files)] for i in range(n)]


def plain_loop(net: Any, files: list[Path], layers: list[str], batch_size: int, prep: Any) -> dict[str, np.ndarray]:
    import torch
    from PIL import Image

    named = dict(net.named_modules())
    store: dict[str, list[np.ndarray]] = {name: [] for name in layers}

    def hook(name: str) -> Any:
        def fn(_m: Any, _i: Any, out: Any) -> None:
            store[name].append(out.detach().reshape(out.shape[0], -1).numpy())

        return fn

    handles = [named[name].register_forward_hook(hook(name)) for name in layers]
    net.eval()
    try:
        with torch.no_grad():
            for start in range(0, len(files), batch_size):
                batch = []
                for path in files[start : start + batch_size]:
                    with Image.open(path) as im:
                        batch.append(prep(im.convert("RGB")))
                net(torch.from_numpy(np.stack(batch)))
    finally:
        for h in handles:
            h.remove()
    return {name: np.concatenate(store.pop(name)) for name in layers}


def worker(args: argparse.Namespace) -> None:
    import torch

    from neurorep import data
    from neurorep.models import (
        EFFICIENTNET_LITE0_PREPROCESS,
        extract_images,
        load_efficientnet_lite0,
    )

    torch.set_num_threads(args.threads)
    layers = MANY if args.layers == "many" else FEW
    files = _image_files(args.n_images)
    ids = [f"s{i:05d}" for i in range(len(files))]
    net = load_efficientnet_lite0()
    with torch.no_grad():  # warm-up (first-call allocations, thread pools)
        net(torch.zeros(2, 3, 224, 224))
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        with PeakRSS() as mem:
            if args.worker == "plain":
                out = plain_loop(net, files, layers, args.batch_size, EFFICIENTNET_LITE0_PREPROCESS)
            else:
                acts = extract_images(net, files, layers=layers, batch_size=args.batch_size,
                                      stimulus=ids, preprocess=EFFICIENTNET_LITE0_PREPROCESS,
                                      progress=False, cache_dir=tmp if args.worker == "cache" else None)
                members = data.members(acts)
                out = {name: members[name] for name in layers}
            seconds = time.perf_counter() - t0
        # outside the measurement: a cached tree is lazy, and this reads one layer at a time
        check = {name: [float(np.asarray(v, np.float64).sum()), int(np.shape(v)[1])] for name, v in out.items()}
        total = sum(np.shape(v)[0] * np.shape(v)[1] * 4 for v in out.values()) / 2**20
    print(json.dumps({"seconds": seconds, "peak_mb": mem.mb, "activations_mb": total, "check": check}))


def _run(kind: str, args: argparse.Namespace) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--worker", kind, "--layers", args.layers, "--n-images",
           str(args.n_images), "--batch-size", str(args.batch_size), "--threads", str(args.threads)]
    # large allocations go straight to mmap and back to the system when freed, so that the
    # resident-memory peak follows what each variant holds, not glibc's heap caching
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "1048576", "MALLOC_TRIM_THRESHOLD_": "1048576"}
    res = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    if res.returncode != 0:
        raise SystemExit(f"worker {kind} failed:\n{res.stderr}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="32 images, 1 repeat")
    parser.add_argument("--n-images", type=int, default=276, help="the 92 images, repeated")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--layers", choices=["many", "few", "both"], default="both")
    parser.add_argument("--worker", choices=["plain", "memory", "cache"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    if args.quick:
        args.n_images, args.repeat = 40, 1
    import threadpoolctl
    import torch

    print(f"EfficientNet-Lite0, {args.n_images} images, batch {args.batch_size}, torch "
          f"{torch.__version__} with {args.threads} threads; median of {args.repeat}")
    print(threadpoolctl.threadpool_info())
    sets = ["many", "few"] if args.layers == "both" else [args.layers]
    for layer_set in sets:
        args.layers = layer_set
        runs: dict[str, list[dict[str, Any]]] = {"plain": [], "memory": [], "cache": []}
        for _ in range(args.repeat):  # interleaved, so machine load hits every variant alike
            for kind in runs:
                runs[kind].append(_run(kind, args))
        ref = runs["plain"][0]
        n_layers = len(ref["check"])
        print(f"\n{layer_set} layers ({n_layers}), {ref['activations_mb']:.0f} MB of activations")
        print(f"{'variant':<34}{'time s':>8}{'img/s':>8}{'vs plain':>10}{'peak MB':>10}{'vs plain':>10}")
        t_plain = statistics.median(r["seconds"] for r in runs["plain"])
        m_plain = statistics.median(r["peak_mb"] for r in runs["plain"])
        labels = {"plain": "plain torch loop + hooks", "memory": "neurorep extract_images",
                  "cache": "neurorep extract_images(cache_dir)"}
        for kind, rs in runs.items():
            t = statistics.median(r["seconds"] for r in rs)
            m = statistics.median(r["peak_mb"] for r in rs)
            print(f"{labels[kind]:<34}{t:8.2f}{args.n_images / t:8.1f}{t / t_plain:10.2f}"
                  f"{m:10.0f}{m / m_plain:10.2f}")
            worst = max(abs(a[0] - b[0]) / max(1.0, abs(b[0])) for a, b in
                        zip(rs[0]["check"].values(), ref["check"].values(), strict=True))
            same_units = all(a[1] == b[1] for a, b in zip(rs[0]["check"].values(),
                                                          ref["check"].values(), strict=True))
            if worst > 1e-5 or not same_units:
                print(f"  !! {kind} disagrees with the plain loop (relative sum difference {worst:.2e})")


if __name__ == "__main__":
    main()
