"""Forward hooks on named submodules: pooled outputs per batch, written to memory or to zarr.

The engine behind :func:`neurorep.models.extract_images` and
:func:`neurorep.models.extract_torch`. Each hooked output is pooled inside the
hook, so a layer's full feature map never outlives its batch; the pooled rows
go straight into one preallocated array per layer (or one zarr array per
layer), so nothing is held twice.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import shutil
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from neurorep._core.errors import check_option

POOLINGS = ("flatten", "mean", "max", "grid")


def module_layers(module: Any) -> list[str]:
    """Names of every submodule of ``module`` (``named_modules`` order, root excluded)."""
    return [name for name, _ in module.named_modules() if name]


def check_layers(module: Any, layers: Sequence[str], *, func: str) -> dict[str, Any]:
    """The submodules named in ``layers``; a KeyError lists the valid names otherwise."""
    if isinstance(layers, str):
        raise TypeError(f"{func}: layers must be a list of names; got the string {layers!r}. Use [{layers!r}].")
    if not layers:
        raise ValueError(f"{func}: name at least one layer (list_layers(model) lists them).")
    if len(set(layers)) != len(layers):
        dup = sorted({name for name in layers if list(layers).count(name) > 1})
        raise ValueError(f"{func}: layers are repeated: {dup}.")
    named = dict(module.named_modules())
    valid = [n for n in named if n]
    missing = [str(n) for n in layers if str(n) not in named or not str(n)]
    if missing:
        hints = []
        for name in missing:
            close = difflib.get_close_matches(name, valid, n=3)
            if close:
                hints.append(f"{name!r}: did you mean {close}?")
        shown = valid if len(valid) <= 60 else valid[:60] + [f"... ({len(valid)} in all)"]
        raise KeyError(
            f"{func}: no submodule(s) {missing} in the model. "
            + (" ".join(hints) + " " if hints else "")
            + f"Valid layers (module paths, see list_layers(model)): {shown}"
        )
    return {str(n): named[str(n)] for n in layers}


def _output_tensor(out: Any, layer: str) -> Any:
    import torch

    if isinstance(out, tuple | list) and out:
        out = out[0]
    if not isinstance(out, torch.Tensor):
        raise TypeError(
            f"layer {layer!r} returns {type(out).__name__}, not a tensor; hook a submodule that "
            f"returns a tensor (list_layers(model) lists them)."
        )
    return out


def pool_output(t: Any, pooling: str | Callable[[Any], Any], grid_size: int, layer: str) -> Any:
    """``(batch, ...)`` tensor -> ``(batch, units)`` float32 tensor."""
    import torch

    b = t.shape[0]
    if callable(pooling):
        out = pooling(t)
        if not isinstance(out, torch.Tensor) or out.ndim != 2 or out.shape[0] != b:
            got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise ValueError(
                f"pooling callable must map layer {layer!r}'s output {tuple(t.shape)} to a "
                f"(batch, units) tensor with batch = {b}; got {got}."
            )
        return out.float()
    t = t.float()
    if t.ndim <= 2 or pooling == "flatten":
        return t.reshape(b, -1)
    if t.ndim == 3:
        raise ValueError(
            f"pooling={pooling!r}: layer {layer!r} gives a 3-D output {tuple(t.shape)}, whose "
            f"spatial or token axis is ambiguous (conv1d is (batch, channel, length), "
            f"transformers are (batch, token, feature)). Use pooling='flatten', or a callable "
            f"such as pooling=lambda t: t.mean(1)."
        )
    if pooling == "mean":
        return t.mean(dim=tuple(range(2, t.ndim)))
    if pooling == "max":
        return t.amax(dim=tuple(range(2, t.ndim)))
    if t.ndim != 4:
        raise ValueError(
            f"pooling='grid' needs (batch, channel, height, width) maps; layer {layer!r} gives "
            f"{tuple(t.shape)}."
        )
    size = (min(grid_size, t.shape[2]), min(grid_size, t.shape[3]))
    return torch.nn.functional.adaptive_avg_pool2d(t, size).reshape(b, -1)


def unit_coords(shape: tuple[int, ...], pooling: Any, grid_size: int) -> dict[str, np.ndarray]:
    """Per-unit ``channel`` (and ``y``, ``x``) coords for pooled 4-D maps; none otherwise."""
    if callable(pooling) or len(shape) != 4:
        return {}
    c, h, w = shape[1:]
    if pooling in ("mean", "max"):
        return {"channel": np.arange(c, dtype=np.int32)}
    if pooling == "grid":
        h, w = min(grid_size, h), min(grid_size, w)
    return {
        "channel": np.repeat(np.arange(c, dtype=np.int32), h * w),
        "y": np.tile(np.repeat(np.arange(h, dtype=np.int32), w), c),
        "x": np.tile(np.arange(w, dtype=np.int32), c * h),
    }


def unit_ids(n: int, width: int | None = None) -> np.ndarray:
    """``unit000``... ids (zero-padded to the width of ``n - 1`` unless ``width`` is given)."""
    width = len(str(max(n - 1, 0))) if width is None else width
    return np.strings.add("unit", np.strings.zfill(np.arange(n).astype(str), width))


class LayerInfo:
    """What the first batch tells about a layer: units, per-unit coords, pseudo-depth."""

    def __init__(self, name: str, n_units: int, coords: dict[str, np.ndarray], depth: float):
        self.name, self.n_units, self.coords, self.depth = name, n_units, coords, depth


class MemorySink:
    """One preallocated ``(n_stimuli, units)`` float32 array per layer."""

    def __init__(self, n: int):
        self.n = n
        self.arrays: dict[str, np.ndarray] = {}

    def start(self, infos: Mapping[str, LayerInfo]) -> None:
        self.arrays = {k: np.empty((self.n, v.n_units), dtype=np.float32) for k, v in infos.items()}

    def write(self, layer: str, rows: slice, values: np.ndarray) -> None:
        self.arrays[layer][rows] = values


class ZarrSink:
    """Layers written batch by batch into a zarr store (``path.partial``, renamed when complete)."""

    def __init__(self, path: Path, n: int, chunk: int, stimulus_coords: Mapping[str, Any], ids: Sequence[str]):
        self.path = Path(path)
        self.tmp = self.path.with_name(self.path.name + ".partial")
        self.n, self.chunk = n, max(1, chunk)
        self.stimulus_coords, self.ids = stimulus_coords, list(ids)
        self.root_attrs: dict[str, Any] = {}
        self.arrays: dict[str, Any] = {}

    def start(self, infos: Mapping[str, LayerInfo]) -> None:
        import dask.array as da
        import zarr

        from neurorep._core.attrs import (
            _JSON,
            _OBJECT_ATTR,
            _ORDER_ATTR,
            _encode_attrs,
            _encode_dataset,
            _stored_name,
        )

        if self.tmp.exists():
            shutil.rmtree(self.tmp)
        self.tmp.parent.mkdir(parents=True, exist_ok=True)
        nodes = {}
        stim: dict[str, Any] = {"stimulus": np.asarray(self.ids)}
        stim.update({k: ("stimulus", np.asarray(v)) for k, v in self.stimulus_coords.items()})
        for name, info in infos.items():
            values = da.zeros((self.n, info.n_units), dtype=np.float32, chunks=(self.chunk, info.n_units))
            coords: dict[str, Any] = {**stim, "unit": unit_ids(info.n_units)}
            coords.update({k: ("unit", v) for k, v in info.coords.items()})
            ds = xr.Dataset({"activations": (("stimulus", "unit"), values)}, coords=coords)
            ds.attrs = {"layer": name, "depth": info.depth}
            nodes[f"/{name}"] = _encode_dataset(ds)
        root = xr.Dataset(attrs={**_encode_attrs(self.root_attrs), _OBJECT_ATTR: "DataTree"})
        if all(_stored_name(k, i) == k for i, k in enumerate(infos)):  # the network's order
            root.attrs[_ORDER_ATTR] = _JSON + json.dumps(list(infos))
        tree = xr.DataTree.from_dict({"/": root, **nodes})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # metadata is consolidated once, in finish()
            tree.to_zarr(self.tmp, zarr_format=2, consolidated=False, compute=False)
        group = zarr.open_group(str(self.tmp), mode="r+", zarr_format=2)
        self.arrays = {name: group[f"{name}/activations"] for name in infos}

    def write(self, layer: str, rows: slice, values: np.ndarray) -> None:
        self.arrays[layer][rows] = values

    def finish(self) -> None:
        import zarr

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            zarr.consolidate_metadata(str(self.tmp), zarr_format=2)
        if self.path.exists():
            shutil.rmtree(self.path)
        self.tmp.rename(self.path)

    def abort(self) -> None:
        if self.tmp.exists():
            shutil.rmtree(self.tmp, ignore_errors=True)


def run_hooks(
    module: Any,
    batches: Iterable[tuple[slice, Any]],
    layers: Sequence[str],
    *,
    pooling: str | Callable[[Any], Any],
    grid_size: int,
    sink: MemorySink | ZarrSink,
    func: str,
) -> dict[str, LayerInfo]:
    """Run ``module`` on every batch with hooks on ``layers``; pooled rows go to ``sink``.

    A probe forward pass on the first two inputs gives each layer's size and a
    pseudo-depth (hooks on every leaf module count calls: the depth is the
    fraction of the network's leaf-module calls completed when the layer's
    output exists); then every batch runs with hooks that pool each output and
    write it into the sink at once, so no layer output outlives its use in the
    network. The module (and every submodule) runs in eval mode; the training
    flags are restored afterwards. Inputs go to the device of the module's
    parameters.
    """
    import torch

    if not callable(pooling):
        check_option("pooling", pooling, POOLINGS)
    if isinstance(grid_size, bool) or not isinstance(grid_size, int | np.integer) or grid_size < 1:
        raise ValueError(f"grid_size must be a positive int; got {grid_size!r}.")
    targets = check_layers(module, layers, func=func)
    state: dict[str, Any] = {"rows": slice(0, 0), "probe": True, "calls": 0}
    seen: set[str] = set()
    shapes: dict[str, tuple[int, ...]] = {}
    units: dict[str, int] = {}
    position: dict[str, int] = {}

    def layer_hook(name: str) -> Callable[..., None]:
        def fn(_mod: Any, _inp: Any, out: Any) -> None:
            if name in seen:
                raise RuntimeError(
                    f"{func}: layer {name!r} ran more than once in one forward pass (a module "
                    f"shared by several places, such as one activation module reused by every "
                    f"block). Hook a module that runs once (list_layers(model) lists them)."
                )
            seen.add(name)
            t = _output_tensor(out, name).detach()
            rows = state["rows"]
            n_rows = rows.stop - rows.start
            if t.ndim < 1 or t.shape[0] != n_rows:
                raise RuntimeError(
                    f"{func}: layer {name!r} gave an output of shape {tuple(t.shape)} for a batch "
                    f"of {n_rows}; its first axis must be the batch."
                )
            pooled = pool_output(t, pooling, grid_size, name).cpu().numpy()
            if state["probe"]:
                shapes[name] = tuple(t.shape)
                units[name] = int(pooled.shape[1])
                position[name] = state["calls"]
                return
            if pooled.shape[1] != units[name]:
                raise RuntimeError(
                    f"{func}: layer {name!r} gave {pooled.shape[1]} units for inputs "
                    f"{rows.start}..{rows.stop - 1} but {units[name]} for the first ones (inputs "
                    f"of different sizes?)."
                )
            sink.write(name, rows, pooled)

        return fn

    def count_hook(_mod: Any, _inp: Any, _out: Any) -> None:
        state["calls"] += 1

    param = next(iter(module.parameters()), None)
    device = param.device if param is not None else None

    def forward(x: Any) -> None:
        seen.clear()
        module(x.to(device) if device is not None and isinstance(x, torch.Tensor) else x)
        missing = [name for name in layers if name not in seen]
        if missing:
            raise RuntimeError(
                f"{func}: layer(s) {missing} did not run in the forward pass (containers such "
                f"as ModuleList or ModuleDict are not called themselves); hook their members "
                f"instead, e.g. {missing[0]!r}.0."
            )

    leaves = [m for _, m in module.named_modules() if next(m.children(), None) is None]
    modes = [(m, m.training) for m in module.modules()]
    counting = [m.register_forward_hook(count_hook) for m in leaves]
    # layer hooks after the counting hooks: a leaf layer counts its own call
    handles = [targets[name].register_forward_hook(layer_hook(name)) for name in layers]
    infos: dict[str, LayerInfo] = {}
    module.eval()
    try:
        with torch.no_grad():
            for rows, x in batches:
                if state["probe"]:
                    probe = x[:2]
                    state["rows"] = slice(0, int(probe.shape[0]))
                    forward(probe)
                    for h in counting:
                        h.remove()
                    total = max(state["calls"], 1)
                    infos = {
                        name: LayerInfo(name, units[name], unit_coords(shapes[name], pooling, grid_size),
                                        min(position[name] / total, 1.0))
                        for name in layers
                    }
                    sink.start(infos)
                    state["probe"] = False
                state["rows"] = rows
                forward(x)
    finally:
        for h in counting + handles:
            h.remove()
        for m, flag in modes:
            m.training = flag
    return infos


def weights_digest(module: Any) -> str:
    """A hash of a module's class, structure and every parameter and buffer."""
    import torch

    h = hashlib.blake2b(digest_size=16)
    h.update(f"{type(module).__module__}.{type(module).__qualname__}\n{module!r}".encode())
    for name, t in module.state_dict().items():
        if not isinstance(t, torch.Tensor):
            h.update(f"{name}={t!r}".encode())
            continue
        t = t.detach().cpu().contiguous()
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)}".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().data)
    return h.hexdigest()


def callable_key(fn: Any) -> str:
    """A stable description of a preprocessing or pooling callable for cache keys."""
    code = getattr(fn, "__code__", None)
    if code is not None:
        return f"{getattr(fn, '__qualname__', '?')}:{hashlib.sha256(code.co_code).hexdigest()}:{code.co_consts!r}"
    return repr(fn)
