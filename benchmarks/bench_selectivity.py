"""Benchmark: captions for many units against a large embedding bank, in bounded memory.

Full size: 100,000 units x a bank of 50,000 embeddings (384-D, float32) with
synthetic texts. Reports wall time per stage of ``caption_units`` (bank scan =
scores + top-n + softmax projection, concepts, keywords, composing), the peak
traced memory of the call (tracemalloc), the process peak RSS, the achieved
GEMM rate, and a side-by-side ratio against a naive numpy reference (dense
float64 scores and softmax for all units at once, per-unit Python keyword
counting) on a subset of units, with an agreement check.

Usage::

    python benchmarks/bench_selectivity.py            # full size (minutes)
    python benchmarks/bench_selectivity.py --quick    # 5,000 units x 5,000 bank

Not run in CI.
"""

from __future__ import annotations

import argparse
import math
import resource
import time
import tracemalloc
from collections import Counter
from contextlib import contextmanager
from typing import Any

import numpy as np

import neurorep.selectivity._caption as cap_mod
from neurorep import data
from neurorep.selectivity import caption_units
from neurorep.selectivity._keywords import make_tokenizer

STAGES = ("scan_bank", "_concepts_of", "_keywords_of", "_compose_all")


def make_bank(n_bank: int, dim: int, gen: np.random.Generator, n_topics: int = 200) -> Any:
    """Clustered unit-norm embeddings with texts whose words follow the clusters."""
    syll = ["ka", "lo", "mi", "ru", "te", "sa", "no", "pe", "vi", "du", "ga", "zo", "ri", "ba"]
    vocab = np.array(sorted({"".join(gen.choice(syll, 3)) for _ in range(20000)}))[:5000]
    topic = gen.integers(n_topics, size=n_bank)
    centers = gen.standard_normal((n_topics, dim))
    E = centers[topic] + 1.5 * gen.standard_normal((n_bank, dim))
    E /= np.linalg.norm(E, axis=1, keepdims=True)
    # each topic prefers 30 words; sentences mix topic words with Zipf-distributed filler
    topic_words = gen.integers(vocab.size, size=(n_topics, 30))
    zipf = np.minimum(gen.zipf(1.3, size=(n_bank, 6)) - 1, vocab.size - 1)
    own = topic_words[topic[:, None], gen.integers(30, size=(n_bank, 4))]
    words = vocab[np.concatenate([own, zipf], axis=1)]
    texts = [" ".join(row) for row in words]
    return data.responses(E.astype(np.float32), stimulus=[f"s{i:06d}" for i in range(n_bank)],
                          stimulus_coords={"text": texts}, name="bank"), centers, topic


def make_weights(n_units: int, centers: np.ndarray, gen: np.random.Generator) -> np.ndarray:
    k = centers.shape[0]
    a, b = gen.integers(k, size=n_units), gen.integers(k, size=n_units)
    mixed = gen.random(n_units) < 0.3
    W = centers[a] + np.where(mixed[:, None], centers[b], 0.0)
    W += 0.5 * gen.standard_normal(W.shape)
    return W.astype(np.float32)


@contextmanager
def timed_stages(times: dict[str, float]):
    originals = {name: getattr(cap_mod, name) for name in STAGES}

    def wrap(name, fn):
        def inner(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                times[name] = times.get(name, 0.0) + time.perf_counter() - t0

        return inner

    for name, fn in originals.items():
        setattr(cap_mod, name, wrap(name, fn))
    try:
        yield times
    finally:
        for name, fn in originals.items():
            setattr(cap_mod, name, fn)


def naive_reference(W: np.ndarray, bank: Any, n_top: int, temperature: float) -> dict[str, Any]:
    """Dense float64, all units at once; keywords by per-unit Python counting (log-odds)."""
    E = np.asarray(bank.values, dtype=np.float64)
    texts = [str(t) for t in bank["text"].values]
    Wd = W.astype(np.float64)
    G = Wd @ E.T
    order = np.argsort(-G, axis=1)[:, :n_top]
    cos = G / np.linalg.norm(Wd, axis=1)[:, None] / np.linalg.norm(E, axis=1)[None, :]
    P = np.exp(cos / temperature - (cos / temperature).max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    norms = np.linalg.norm(E, axis=1)
    v = P @ (E / norms[:, None])  # BrainSCUBA: mean unit-norm direction, at the mean norm
    proj = v / np.linalg.norm(v, axis=1, keepdims=True) * (P @ norms)[:, None]
    tok = make_tokenizer("english")
    doc_words = [tok(t) for t in texts]
    df = Counter(w for ws in doc_words for w in ws)
    n_all = sum(df.values())
    best_words = []
    for row in order:
        ya = Counter(w for i in row for w in doc_words[i])
        na = sum(ya.values())
        scores = {}
        for w, c in ya.items():
            if c < 2:
                continue
            alpha, yb = df[w], df[w] - c
            d = math.log((c + alpha) / (na + n_all - c - alpha)) - math.log(
                (yb + alpha) / (n_all - na + n_all - yb - alpha))
            scores[w] = d / math.sqrt(1 / (c + alpha) + 1 / (yb + alpha))
        best_words.append(max(scores, key=scores.get) if scores else "")
    return {"top": order, "projection": proj, "first_keyword": best_words}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5,000 units x 5,000 bank")
    parser.add_argument("--units", type=int, default=None)
    parser.add_argument("--bank", type=int, default=None)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--peer-units", type=int, default=None)
    args = parser.parse_args()
    n_units = args.units or (5_000 if args.quick else 100_000)
    n_bank = args.bank or (5_000 if args.quick else 50_000)
    n_peer = args.peer_units or (500 if args.quick else 1_000)
    n_top, temperature = 20, 1 / 150

    from threadpoolctl import threadpool_info

    print("threadpools:", [(p.get("internal_api"), p.get("num_threads"), p.get("architecture"))
                           for p in threadpool_info()])
    gen = np.random.default_rng(0)
    t0 = time.perf_counter()
    bank, centers, _ = make_bank(n_bank, args.dim, gen)
    W = make_weights(n_units, centers, gen)
    print(f"setup: bank {n_bank} x {args.dim}, units {n_units}: {time.perf_counter() - t0:.1f} s")

    # --- side by side on a subset of units (the naive peer needs all scores in memory)
    sub = W[:n_peer]
    t0 = time.perf_counter()
    ref = naive_reference(sub, bank, n_top, temperature)
    t_ref = time.perf_counter() - t0
    t0 = time.perf_counter()
    mine = caption_units(sub, bank, n_top=n_top, temperature=temperature, max_concepts=1)
    t_mine = time.perf_counter() - t0
    ids = bank["stimulus"].values
    same_top = np.mean(mine["top_stimulus"].values == ids[ref["top"]])
    proj_err = np.max(np.abs(mine["projection"].values - ref["projection"]))
    same_kw = np.mean(mine["keywords"].values[:, 0, 0] == np.asarray(ref["first_keyword"], object))
    print(f"peer subset {n_peer} units: naive numpy {t_ref:.2f} s, neurorep {t_mine:.2f} s, "
          f"ratio naive/neurorep = {t_ref / t_mine:.2f}")
    print(f"  agreement: top stimuli {same_top:.4f}, first keyword {same_kw:.4f}, "
          f"max |projection diff| {proj_err:.2e} (float32 vs float64)")
    naive_bytes = n_units * n_bank * 8 * 3
    print(f"  naive at full size would hold ~{naive_bytes / 2**30:.0f} GiB of dense score matrices")

    # --- full run, chunked over units
    times: dict[str, float] = {}
    tracemalloc.start()
    t0 = time.perf_counter()
    with timed_stages(times):
        caps = caption_units(W, bank, n_top=n_top, temperature=temperature)
    total = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    gflop = 2 * 2 * n_units * n_bank * args.dim / 1e9  # scores + projection
    print(f"caption_units: {n_units} units x {n_bank} bank: {total:.1f} s "
          f"({1e6 * total / n_units:.0f} us/unit)")
    for name in STAGES:
        print(f"  {name:>14}: {times.get(name, 0.0):7.1f} s")
    print(f"  GEMM work {gflop:.0f} GFLOP -> {gflop / times['scan_bank']:.0f} GFLOP/s in the scan")
    print(f"  peak traced memory during the call: {peak / 2**20:.0f} MiB "
          f"(inputs: weights {W.nbytes / 2**20:.0f} MiB, bank {bank.nbytes / 2**20:.0f} MiB; "
          f"output projection {caps['projection'].nbytes / 2**20:.0f} MiB)")
    print(f"  process peak RSS: {rss:.0f} MiB")
    print(f"  concepts per unit: {np.bincount(caps['n_concepts'].values).tolist()}; "
          f"example caption: {caps['caption'].values[0]!r}")


if __name__ == "__main__":
    main()
