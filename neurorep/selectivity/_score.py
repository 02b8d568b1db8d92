"""score_captions: does a unit's caption predict its held-out responses?"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
import xarray as xr

from neurorep import __version__
from neurorep._core.errors import NeurorepWarning, SchemaError, check_int, check_real
from neurorep._core.ranks import rank_rows
from neurorep._core.rng import as_generator
from neurorep.data import validate
from neurorep.selectivity._embed import Embedder, call_embed, minilm_embed


def _standardize(x: np.ndarray) -> np.ndarray:
    """Columns centred and scaled to unit norm (NaN columns where constant)."""
    xc = x - x.mean(axis=0)
    norm = np.linalg.norm(xc, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return xc / np.where(norm > 0, norm, np.nan)


def _rank_standardize(x: np.ndarray) -> np.ndarray:
    """Columns ranked (average ties), centred and scaled; a column with NaN is NaN."""
    x = np.asarray(x, dtype=np.float64)
    ranks = rank_rows(x.T).T
    ranks[:, np.isnan(x).any(axis=0)] = np.nan
    return _standardize(ranks)


#: Prediction-response agreement across held-out stimuli (columns -> standardised columns;
#: the score is then a dot product).
METRICS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "pearson": _standardize,
    "spearman": _rank_standardize,
}
NULLS = ("captions", "stimuli")


def _caption_strings(captions: Any) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(captions, xr.Dataset):
        if "caption" not in captions.data_vars:
            raise SchemaError(
                f"captions: a Dataset must hold a 'caption' variable (a caption_units result); got "
                f"{list(captions.data_vars)}."
            )
        captions = captions["caption"]
    if isinstance(captions, xr.DataArray):
        if captions.dims != ("unit",):
            raise SchemaError(f"captions: expected dims ('unit',); got {captions.dims}.")
        ids = np.asarray(captions["unit"].values) if "unit" in captions.coords else None
        texts = np.asarray([str(c) for c in captions.values], dtype=object)
        if ids is None:
            ids = np.arange(texts.size)
        return ids, texts
    if isinstance(captions, Mapping):
        return (np.asarray(list(captions.keys())),
                np.asarray([str(v) for v in captions.values()], dtype=object))
    raise SchemaError(
        f"captions: expected a caption_units Dataset, a DataArray (unit) of str, or a mapping "
        f"unit -> str; got {type(captions).__name__}."
    )


def _held_out(responses: Any) -> xr.DataArray:
    if not isinstance(responses, xr.DataArray):
        raise SchemaError(
            f"responses: expected a DataArray (stimulus, unit) of held-out responses; got "
            f"{type(responses).__name__}. Build one with neurorep.data.responses()."
        )
    check_real(responses.data, name="responses")
    validate(responses, kind="responses", name="responses")
    if "stimulus" not in responses.dims:
        raise SchemaError(f"responses: need a 'stimulus' dim; got {responses.dims}.")
    if "repetition" in responses.dims:
        responses = responses.mean("repetition")
    return responses.transpose("stimulus", "unit")


def _stimulus_embeddings(
    y: xr.DataArray, stimuli: Any, embed: Embedder
) -> np.ndarray:
    ids = np.asarray(y["stimulus"].values)
    if stimuli is None:
        if "text" not in y.coords:
            raise SchemaError(
                "responses: has no 'text' coord to embed; add it with "
                "responses.assign_coords(text=('stimulus', texts)) or pass stimuli= (embeddings of "
                "the held-out stimuli in the captions' embedding space)."
            )
        return call_embed(embed, [str(t) for t in y["text"].values], what="stimulus text")
    if isinstance(stimuli, xr.DataArray):
        if stimuli.ndim != 2 or "stimulus" not in stimuli.dims:
            raise SchemaError(f"stimuli: expected dims ('stimulus', <embedding dim>); got {stimuli.dims}.")
        have = set(np.asarray(stimuli["stimulus"].values).tolist())
        missing = [s for s in ids.tolist() if s not in have]
        if missing:
            raise SchemaError(
                f"stimuli: no embedding for {len(missing)} held-out stimulus id(s), e.g. "
                f"{missing[:5]}; embed every stimulus of responses."
            )
        check_real(stimuli.data, name="stimuli")
        S = np.asarray(stimuli.sel(stimulus=ids).transpose("stimulus", ...).values, dtype=np.float64)
    else:
        check_real(stimuli, name="stimuli")
        S = np.asarray(stimuli, dtype=np.float64)
        if S.ndim != 2 or S.shape[0] != ids.size:
            raise SchemaError(
                f"stimuli: a numpy array must be (n_stimuli={ids.size}, dim) in the order of "
                f"responses; got shape {S.shape}."
            )
    if not np.isfinite(S).all():
        raise SchemaError("stimuli: embeddings hold NaN or inf values.")
    return S


def _unit_norm(x: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, n, out=np.full_like(x, np.nan), where=n > 0)


def _embed_unique(embed: Embedder, texts: np.ndarray, what: str) -> np.ndarray:
    uniq, inverse = np.unique(texts.astype(str), return_inverse=True)
    E = call_embed(embed, uniq.tolist(), what=what)
    E = _unit_norm(E)
    E[uniq == ""] = np.nan
    return E[inverse.ravel()]


def score_captions(
    captions: Any,
    responses: xr.DataArray,
    *,
    embed: Embedder | None = None,
    stimuli: Any = None,
    null: Literal["captions", "stimuli"] = "captions",
    null_captions: Sequence[str] | xr.DataArray | None = None,
    n_permutations: int = 1000,
    metric: Literal["pearson", "spearman"] = "pearson",
    rng: Any = None,
    return_null: bool = True,
) -> xr.Dataset:
    """How well each unit's caption predicts that unit's held-out responses.

    The caption and every held-out stimulus are embedded with ``embed``; the
    caption's prediction for a stimulus is their cosine similarity, and the
    score is the correlation (``metric``) between predictions and responses
    across the held-out stimuli. Use stimuli that neither fitted the encoding
    model nor chose the caption.

    The null distribution replaces the caption by other captions
    (``null="captions"``: the other units' captions, or ``null_captions``,
    e.g. captions of random weight vectors -- needed with a single unit) or
    permutes the held-out stimuli (``null="stimuli"``). The p-value is
    one-sided, ``(1 + #{null >= score}) / (1 + #null)``.

    Parameters
    ----------
    captions : Dataset, DataArray or mapping
        A :func:`caption_units` result, a DataArray of strings over ``unit``,
        or unit id -> caption.
    responses : DataArray (stimulus, unit)
        Held-out responses; units matched to captions by id. Needs a
        ``text`` coord unless ``stimuli`` is given.
    embed : callable texts -> (n, d) array, optional
        Default :func:`minilm_embed` (MiniLM sentence embeddings).
    stimuli : DataArray (stimulus, feature) or array (n_stimuli, feature), optional
        Precomputed embeddings of the held-out stimuli (same space as
        ``embed``), matched by stimulus id.
    null : {"captions", "stimuli"}
    null_captions : sequence of str, optional
        Pool of null captions (default: the captions of all units, each unit
        excluding its own).
    n_permutations : int
        Null draws (captions: at most the pool size, drawn without replacement).
    metric : {"pearson", "spearman"}
    rng : int, Generator or None
        Seed or generator of the random draws (None: fresh entropy).
    return_null : bool
        Keep ``null_distribution`` (permutation, unit).

    Returns
    -------
    Dataset
        ``score``, ``pvalue`` (unit), ``null_distribution`` (permutation,
        unit), ``caption`` (unit), ``prediction`` (stimulus, unit; cosine
        caption-stimulus), and across units ``diversity`` (1 - mean pairwise
        cosine of caption embeddings) and ``unique_fraction``.

    Raises
    ------
    SchemaError
        Units without a caption, stimuli without text or embedding, an
        embedder returning a wrong shape or non-finite values.
    ValueError
        A null pool with fewer than two captions, a bad option.

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep import data
    >>> from neurorep.selectivity import hashing_embedder, score_captions
    >>> texts = ["red apple", "green apple", "blue sky", "grey sky", "red car", "blue car"]
    >>> y = data.responses(np.array([[2.0, 0], [1.5, 0], [0, 2], [0, 1.5], [1, 0], [0, 1]]),
    ...                    unit=["fruit", "sky"], stimulus_coords={"text": texts})
    >>> res = score_captions({"fruit": "apple", "sky": "sky"}, y, embed=hashing_embedder(32))
    >>> bool(res["score"].sel(unit="fruit") > 0.5)
    True
    """
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {sorted(METRICS)}; got {metric!r}.")
    if null not in NULLS:
        raise ValueError(f"null must be one of {list(NULLS)}; got {null!r}.")
    n_permutations = check_int("n_permutations", n_permutations, minimum=1)
    gen = as_generator(rng)
    fn = embed if embed is not None else minilm_embed
    cap_ids, cap_texts = _caption_strings(captions)
    y = _held_out(responses)
    unit_ids = np.asarray(y["unit"].values)
    pos = {u: i for i, u in enumerate(cap_ids.tolist())}
    missing = [u for u in unit_ids.tolist() if u not in pos]
    if missing:
        raise SchemaError(
            f"captions: no caption for {len(missing)} unit(s) of responses, e.g. {missing[:5]}; "
            f"caption the same units (ids must match) or select responses.sel(unit=...)."
        )
    texts = cap_texts[[pos[u] for u in unit_ids.tolist()]]
    n = y.sizes["stimulus"]
    if n < 3:
        raise ValueError(f"responses: need at least 3 held-out stimuli to score; got {n}.")
    transform = METRICS[metric]
    S = _unit_norm(_stimulus_embeddings(y, stimuli, fn))
    if np.isnan(S).any():
        raise SchemaError("stimuli: some held-out stimuli have all-zero embeddings.")
    C = _embed_unique(fn, texts, "caption")
    if C.shape[1] != S.shape[1]:
        raise SchemaError(
            f"captions embed to {C.shape[1]}-D but stimuli are {S.shape[1]}-D; embed both with "
            f"the same embedder."
        )
    bad = np.isnan(C).any(axis=1)
    if bad.any():
        warnings.warn(
            f"{int(bad.sum())} unit(s) have an empty caption (or one that embeds to zero), e.g. "
            f"{unit_ids[bad][:5].tolist()}; their score and p-value are NaN.",
            NeurorepWarning, stacklevel=2,
        )
    Yz = transform(np.asarray(y.values, dtype=np.float64))
    P = S @ np.nan_to_num(C).T  # (stimulus, unit) cosine predictions
    P[:, bad] = np.nan
    Pz = transform(P)
    score = np.sum(Pz * Yz, axis=0)

    if null == "captions":
        if null_captions is None:
            pool_texts, pool_emb, own = texts, C, True
        else:
            pool_texts = np.asarray([str(c) for c in np.asarray(null_captions).ravel()], dtype=object)
            pool_emb, own = _embed_unique(fn, pool_texts, "null caption"), False
        usable = np.flatnonzero(~np.isnan(pool_emb).any(axis=1))
        if usable.size < 2 or (own and unit_ids.size < 2):
            raise ValueError(
                f"null='captions' needs a pool of at least two other captions; got "
                f"{usable.size if not own else unit_ids.size - 1}. With a single unit pass "
                f"null_captions= (e.g. the captions of random weight vectors from caption_units) "
                f"or use null='stimuli'."
            )
        k = min(int(n_permutations), usable.size)
        draw = gen.choice(usable, size=k, replace=False)
        Pn = transform(S @ pool_emb[draw].T)  # (stimulus, k)
        nulls = Pn.T @ np.nan_to_num(Yz)  # (k, unit)
        nulls[:, np.isnan(Yz).any(axis=0)] = np.nan
        if own:
            nulls[draw[:, None] == np.arange(unit_ids.size)[None, :]] = np.nan
    else:
        k = int(n_permutations)
        nulls = np.empty((k, unit_ids.size))
        for i in range(k):
            perm = gen.permutation(n)
            nulls[i] = np.sum(Pz[perm] * Yz, axis=0)
    valid = ~np.isnan(nulls)
    exceed = np.sum(valid & (nulls >= score[None, :] - 1e-12), axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        pvalue = np.where(np.isnan(score), np.nan, (1.0 + exceed) / (1.0 + valid.sum(axis=0)))

    good = C[~bad]
    if good.shape[0] >= 2:
        total = good.sum(axis=0)
        mean_cos = (total @ total - good.shape[0]) / (good.shape[0] * (good.shape[0] - 1))
        diversity = 1.0 - float(mean_cos)
    else:
        diversity = float("nan")
    unique_fraction = len(set(texts.tolist())) / texts.size

    coords: dict[str, Any] = {
        str(k_): v for k_, v in y.coords.items() if v.dims in (("unit",), ("stimulus",))
    }
    data: dict[str, Any] = {
        "score": ("unit", score),
        "pvalue": ("unit", pvalue),
        "caption": ("unit", texts),
        "prediction": (("stimulus", "unit"), P),
        "diversity": ((), diversity),
        "unique_fraction": ((), unique_fraction),
    }
    if return_null:
        data["null_distribution"] = (("permutation", "unit"), nulls.astype(np.float32))
    ds = xr.Dataset(data, coords=coords)
    ds["score"].attrs = {"metric": metric, "description": "corr(cos(caption, stimulus), response)"}
    ds["pvalue"].attrs = {"null": null, "alternative": "greater"}
    ds["diversity"].attrs = {"description": "1 - mean pairwise cosine of the units' caption embeddings"}
    ds.attrs = {
        "analysis": "score_captions",
        "neurorep_version": __version__,
        "metric": metric,
        "null": null,
        "n_permutations": int(k),
        "null_pool": "units" if (null == "captions" and null_captions is None) else (
            "null_captions" if null == "captions" else "stimulus permutations"),
        "n_stimuli": int(n),
        "embed": getattr(fn, "__name__", type(fn).__name__),
    }
    return ds
