"""The built-in models: checkpoint names and [in, out] layouts, forward semantics, init scales."""

import math

import pytest
import torch

from learning_mechanics.models import MLP, DeepLinear, SystemModel, Transformer, UnsupportedModel, activate, build_model, loss_of

TOK = {"kind": "tokens", "vocab": 7, "length": 2}
CLS = {"kind": "classes", "count": 5}


def mlp_spec(**kw: object) -> dict:
    s = {"kind": "mlp", "embed": "onehot", "hidden": [16], "activation": "relu", "initScale": 1.0, "alpha": 1.0, "centered": False, "bias": True}
    s.update(kw)
    return s


def tr_spec(**kw: object) -> dict:
    s = {"kind": "transformer", "layers": 1, "dModel": 8, "heads": 2, "dMlp": 12, "activation": "relu", "layerNorm": False, "initScale": 1.0}
    s.update(kw)
    return s


def shapes(m: torch.nn.Module) -> dict:
    return {n: list(p.shape) for n, p in m.named_parameters()}


def test_mlp_names_and_layout() -> None:
    assert shapes(MLP(mlp_spec(), TOK, CLS)) == {"layers.0.weight": [14, 16], "layers.0.bias": [16], "out.weight": [16, 5], "out.bias": [5]}
    assert shapes(MLP(mlp_spec(embed=3, hidden=[4, 6], bias=False), TOK, CLS)) == {
        "embed.weight": [7, 3],
        "layers.0.weight": [6, 4],
        "layers.1.weight": [4, 6],
        "out.weight": [6, 5],
    }


def test_onehot_mlp_equals_explicit_one_hot_product() -> None:
    torch.manual_seed(0)
    m = MLP(mlp_spec(activation="tanh"), TOK, CLS)
    x = torch.tensor([[0, 6], [3, 3], [5, 1]])
    onehot = torch.cat([torch.nn.functional.one_hot(x[:, 0], 7), torch.nn.functional.one_hot(x[:, 1], 7)], 1).float()
    h = torch.tanh(onehot @ m.layers[0].weight + m.layers[0].bias)
    expected = h @ m.out.weight + m.out.bias
    assert torch.allclose(m(x), expected, atol=1e-6)


def test_init_scales() -> None:
    torch.manual_seed(1)
    m = MLP(mlp_spec(hidden=[400], initScale=2.0), {"kind": "features", "dim": 900}, CLS)
    # std = initScale / sqrt(fan_in) = 2/30; biases 0.
    assert abs(m.layers[0].weight.std().item() - 2 / 30) < 0.002
    assert m.layers[0].bias.abs().max().item() == 0
    t = Transformer(tr_spec(dModel=64, heads=4, dMlp=64), {"kind": "tokens", "vocab": 200, "length": 3}, {"kind": "classes", "count": 100})
    assert abs(t.embed.weight.std().item() - 1 / 8) < 0.01
    assert abs(t.unembed.weight.std().item() - 1 / 10) < 0.01


def test_transformer_names_in_creation_order() -> None:
    t = Transformer(tr_spec(layers=2, layerNorm=True), {"kind": "tokens", "vocab": 7, "length": 3}, CLS)
    names = list(shapes(t))
    block = ["attn.wq", "attn.wk", "attn.wv", "attn.wo", "mlp.w1", "mlp.b1", "mlp.w2", "mlp.b2", "ln1.g", "ln1.b", "ln2.g", "ln2.b"]
    assert names == ["embed.weight", "pos.weight", *[f"blocks.{l}.{n}" for l in range(2) for n in block], "lnf.g", "lnf.b", "unembed.weight"]
    assert shapes(t)["blocks.0.mlp.w1"] == [8, 12]


def test_transformer_last_position_equals_full_stream() -> None:
    torch.manual_seed(2)
    t = Transformer(tr_spec(layers=2, activation="gelu"), {"kind": "tokens", "vocab": 7, "length": 3}, CLS)
    x = torch.randint(0, 7, (9, 3))
    full = t.residual_stream(x)[:, -1] @ t.unembed.weight
    assert torch.allclose(t(x), full, atol=1e-5)


def test_transformer_is_causal() -> None:
    torch.manual_seed(3)
    t = Transformer(tr_spec(layers=2), {"kind": "tokens", "vocab": 7, "length": 3}, CLS)
    a = torch.tensor([[1, 2, 3]])
    b = torch.tensor([[1, 2, 6]])
    # Changing the last token changes nothing at earlier positions.
    assert torch.allclose(t.residual_stream(a)[:, :2], t.residual_stream(b)[:, :2])


def test_every_position_transformer_shapes_readout_and_causality() -> None:
    torch.manual_seed(4)
    seq = {"kind": "features", "dim": 6 * 4, "sequence": {"length": 6, "tokenDim": 4}}
    t = Transformer(tr_spec(layers=2, layerNorm=True, readout="everyPosition"), seq, {"kind": "regression", "dim": 3})
    assert shapes(t)["embed.weight"] == [4, 8]
    assert shapes(t)["unembed.weight"] == [8, 1]
    x = torch.randn(5, 24)
    out = t(x)
    assert list(out.shape) == [5, 3]
    # Output k is the readout of the stream at token 2k.
    r = t.residual_stream(x)
    assert t.lnf is not None
    assert torch.allclose(out, (t.lnf(r[:, 0::2]) @ t.unembed.weight).squeeze(-1), atol=1e-6)
    # Changing token 3 (a y token) leaves outputs 0 and 1 (tokens 0, 2) alone and moves output 2 (token 4).
    x2 = x.clone().reshape(5, 6, 4)
    x2[:, 3] += 1.0
    out2 = t(x2.reshape(5, 24))
    assert torch.equal(out2[:, :2], out[:, :2])
    assert not torch.allclose(out2[:, 2], out[:, 2])


def test_deep_linear_is_a_product() -> None:
    torch.manual_seed(4)
    d = DeepLinear({"kind": "deepLinear", "hidden": [6, 5], "initScale": 1.0}, {"kind": "features", "dim": 4}, {"kind": "regression", "dim": 3})
    assert list(shapes(d)) == ["layers.0.weight", "layers.1.weight", "layers.2.weight"]
    x = torch.randn(5, 4)
    assert torch.allclose(d(x), x @ d.layers[0].weight @ d.layers[1].weight @ d.layers[2].weight, atol=1e-6)


def test_gelu_is_exact_and_gelu_tanh_the_tanh_approximation() -> None:
    x = torch.linspace(-4, 4, 101)
    # "gelu" is nn.GELU()'s exact x·Φ(x); "gelu_tanh" nn.GELU(approximate="tanh"), as in params.ts.
    assert torch.equal(activate(x, "gelu"), torch.nn.GELU()(x))
    x64 = torch.tensor([1.0, -1.0, 2.0], dtype=torch.float64)
    assert torch.allclose(activate(x64, "gelu"), x64 * 0.5 * (1 + torch.erf(x64 / math.sqrt(2))), atol=1e-15)
    assert abs(float(activate(x64, "gelu")[0]) - 0.8413447460685429) < 1e-15
    ref = torch.nn.functional.gelu(x, approximate="tanh")
    assert torch.allclose(activate(x, "gelu_tanh"), ref, atol=1e-6)
    assert not torch.allclose(activate(x, "gelu"), ref, atol=1e-5)
    assert torch.equal(activate(x, "quadratic"), x * x)


def test_alpha_and_centring() -> None:
    torch.manual_seed(5)
    spec = mlp_spec(alpha=4.0, centered=True)
    m = MLP(spec, TOK, CLS)
    sm = SystemModel(m, spec)
    x = torch.tensor([[1, 2]])
    f0 = m(x).detach()
    assert torch.allclose(sm.output(x, f0), torch.zeros(1, 5))
    assert sm.loss_scale == 1 / 16
    spec2 = mlp_spec(alpha=2.0)
    assert torch.allclose(SystemModel(m, spec2).output(x, None), 2 * m(x))


def test_losses() -> None:
    out = torch.tensor([[0.0, 0.0], [2.0, 0.0]])
    assert math.isclose(loss_of(out, torch.tensor([0, 0]), True).item(), (math.log(2) + math.log(1 + math.exp(-2))) / 2, rel_tol=1e-6)
    assert math.isclose(loss_of(out, torch.zeros(2, 2), False).item(), 1.0, rel_tol=1e-6)


def test_custom_model_is_refused_by_name() -> None:
    with pytest.raises(UnsupportedModel, match=r'"myNet" has no PyTorch implementation.*tfjs backends'):
        build_model({"kind": "custom", "name": "myNet"}, TOK, CLS)
