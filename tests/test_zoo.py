"""The model zoo (``harness.model.zoo``): specs, shapes, symmetries of f, published laws against loss gradients."""

from typing import Any

import numpy as np
import pytest
import torch

from harness.errors import InvalidInput
from harness.model.data import augment, random_dataset
from harness.model.groups import build_group
from harness.model.losses import get_loss
from harness.model.zoo import MLP, ZOO, CircularConvolution, MixtureOfExperts, SoftmaxAttention
from harness.model.zoo import parse_model as _parse_model


def parse_model(spec: str) -> Any:
    """The zoo model (typed ``Any``: build_group is annotated for a ``Network``, and the tests read the models'
    own attributes such as ``block``)."""
    return _parse_model(spec)


# (canonical spec, a group that fits it): every zoo family, every activation kind and both bias settings.
CASES = [
    ("conv:5,3", "cyclic/same"),
    ("conv:6,2,k=4,act=linear", "cyclic/trivial"),
    ("conv:4,2,act=leaky-relu,bias=0", "dihedral/same"),
    ("residual:3,4", "flip/same"),
    ("residual:3,2,act=linear,bias=0", "cyclic/same"),
    ("swiglu:3,4,2", "flip/trivial"),
    ("swiglu:2,3,1,bias=0", "swap:0,1/trivial"),
    ("softmax-attention:n=3,d=2,dk=2,dv=2", "tokens-cyclic/same"),
    ("softmax-attention:n=3,d=3,dk=4,dv=2,rope=1", "flip/same"),
    ("softmax-attention:n=3,d=2,dk=4,dv=1,rope=1,base=3", "tokens-sym/same"),
    ("softmax-attention:n=3,d=2,dk=2,dv=1,heads=2", "tokens-cyclic/same"),
    ("softmax-attention:n=2,d=3,dk=2,dv=2,heads=2,rope=1", "cyclic/same"),
    ("moe:2,3,1,2", "flip/trivial"),
    ("moe:3,2,2,3,act=linear,bias=0", "cyclic/trivial"),
]
NO_LAW = ["conv:5,2,act=tanh", "residual:2,3,act=gelu"]


def _loss_gradient(model, theta, data, loss):
    weights = theta.clone().requires_grad_()
    model.loss(weights, torch.tensor(data.x), torch.tensor(data.y), get_loss(loss)).backward()
    assert weights.grad is not None
    return weights.grad


def _law_products(model, law_function, rng, group, n_sets=3):
    """(∇h · ∇L_S) for random θ, data sets S (free and G-augmented) and two losses, with the product's scale."""
    theta = torch.tensor(model.random_theta(rng))
    law_gradients = torch.autograd.functional.jacobian(law_function, theta)
    rows, scale = [], 0.0
    for i in range(n_sets):
        data = random_dataset(model, 5, rng)
        if i % 2:
            data = augment(data, group)
        for loss in ("mse", "logcosh"):
            gradient = _loss_gradient(model, theta, data, loss)
            rows.append(law_gradients @ gradient)
            scale = max(scale, float(law_gradients.abs().max() * gradient.abs().max()))
    return torch.stack(rows), scale


def test_every_zoo_family_is_covered():
    assert {spec.split(":")[0] for spec, _ in CASES} == set(ZOO) - {"mlp"}  # mlp: tests/test_torch_model.py


@pytest.mark.parametrize(("spec", "group"), CASES)
def test_spec_round_trips_and_the_group_acts(spec, group):
    model = parse_model(spec)
    assert str(model) == spec and parse_model(str(model)) == model
    built = build_group(group, model)
    assert built.input_dim == model.input_dim and built.output_dim == model.output_dim


@pytest.mark.parametrize(
    ("spec", "expected"),
    [  # D from each architecture's own formula
        ("conv:5,3", 2 * 3 * 3 + 3 + 1),
        ("conv:6,2,k=4,act=linear,bias=0", 2 * 2 * 4),
        ("residual:3,4", 3 * 4 + 4 + 4 * 3 + 3),
        ("swiglu:3,4,2", 2 * (3 * 4 + 4) + 4 * 2 + 2),
        ("softmax-attention:n=3,d=2,dk=4,dv=3", 2 * 4 * 2 + 2 * 3 * 2),
        ("softmax-attention:n=3,d=2,dk=4,dv=3,heads=2", 2 * (2 * 4 * 2 + 2 * 3 * 2)),
        ("moe:2,3,1,2", 2 * 2 + 2 + 2 * (2 * 3 + 3 + 3 + 1)),
    ],
)
def test_parameter_counts(spec, expected):
    assert parse_model(spec).n_params == expected


@pytest.mark.parametrize(("spec", "group"), CASES)
def test_published_laws_are_orthogonal_to_every_loss_gradient(spec, group):
    """∇h · ∇L_S = 0 for random data sets S (free and augmented) and losses: every flow conserves the laws."""
    model = parse_model(spec)
    assert len(model.law_names) > 0
    products, scale = _law_products(model, model.law_function, np.random.default_rng(7), build_group(group, model))
    assert products.shape[1] == len(model.law_names)
    assert products.abs().max() <= 1e-12 * scale, products


@pytest.mark.parametrize("spec", NO_LAW)
def test_smooth_non_homogeneous_activations_have_no_published_law(spec):
    assert parse_model(spec).law_names == []


def test_a_smooth_mixture_keeps_only_its_gates_translation_laws():
    assert parse_model("moe:2,2,1,2,act=silu,bias=0").law_names == ["Σ_e W_g[e,0]", "Σ_e W_g[e,1]"]


def _gram_upper(left, right):
    gram = left @ left.T - right @ right.T
    rows, cols = torch.triu_indices(gram.shape[0], gram.shape[1])
    return gram[rows, cols]


@pytest.mark.parametrize(
    ("spec", "wrong_law"),
    [  # each a law of a nearby architecture that this one breaks; the check above must refute it
        (
            "conv:5,2,act=tanh",
            lambda b: (b["hidden_filters"] ** 2).sum(1) + b["hidden_bias"] ** 2 - (b["output_filters"] ** 2).sum(1),
        ),
        (
            "swiglu:3,2,2",
            lambda b: (b["gate.weight"] ** 2).sum(1) + b["gate.bias"] ** 2 - (b["down.weight"] ** 2).sum(0),
        ),
        ("softmax-attention:n=3,d=2,dk=2,dv=2,rope=1", lambda b: _gram_upper(b["query"], b["key"])[1:2]),
        ("moe:2,2,1,2", lambda b: b["gate.weight"][0]),
        (
            "softmax-attention:n=3,d=2,dk=1,dv=1,heads=2",
            lambda b: _gram_upper(b["query"], b["key"])[1:2],
        ),  # across heads
        ("residual:2,3,act=tanh", lambda b: (b["layers.0.weight"] ** 2).sum(1) - (b["layers.1.weight"] ** 2).sum(0)),
    ],
)
def test_a_wrong_law_is_refuted(spec, wrong_law):
    model = parse_model(spec)
    products, scale = _law_products(
        model, lambda theta: wrong_law(model.unflatten(theta)), np.random.default_rng(3), build_group("flip", model)
    )
    assert products.abs().max() > 1e-3 * scale


@pytest.mark.parametrize(("rope", "surviving"), [(False, lambda dk: dk * (dk + 1) // 2), (True, lambda dk: dk // 2)])
def test_rotary_encoding_keeps_one_query_key_law_per_plane(rope, surviving):
    """Of the dk(dk+1)/2 entries of QQᵀ − KKᵀ, the combinations conserved by every flow: all of them without
    rope; with rope only dk/2 (the plane traces), the symmetric part of the rotations' commutant (derived in
    harness.model.zoo.attention). Counted here as the null space of (∇entries · ∇L_S) over many data sets."""
    dk = 4
    model = parse_model(f"softmax-attention:n=3,d=3,dk={dk},dv=1" + (",rope=1,base=3" if rope else ""))
    entries = lambda theta: _gram_upper(model.unflatten(theta)["query"], model.unflatten(theta)["key"])  # noqa: E731
    products, scale = _law_products(model, entries, np.random.default_rng(11), build_group("flip", model), n_sets=8)
    singular = torch.linalg.svdvals(products / scale)
    null_dimension = int((singular <= 1e-12).sum()) + products.shape[1] - singular.shape[0]
    kept = singular[singular > 1e-12]
    assert kept.numel() == 0 or kept.min() > 1e-6, singular  # a clear gap: the count is not a tolerance artefact
    assert null_dimension == surviving(dk)


def test_convolution_is_equivariant_to_cyclic_shifts():
    model = parse_model("conv:6,2,k=3")
    rng = np.random.default_rng(0)
    theta, x = torch.tensor(model.random_theta(rng)), torch.tensor(rng.standard_normal((4, 6)))
    group = build_group("cyclic/same", model)
    for rho_in, rho_out in zip(group.inputs, group.outputs):
        shifted = model.forward(theta, x @ torch.tensor(rho_in, dtype=torch.float64).T)
        moved = model.forward(theta, x) @ torch.tensor(rho_out, dtype=torch.float64).T
        assert (shifted - moved).abs().max() <= 1e-14
    reversal = build_group("dihedral/same", model).inputs[-1]  # a reflection: generic filters are not symmetric
    reflected = model.forward(theta, x @ torch.tensor(reversal, dtype=torch.float64).T)
    assert (reflected - model.forward(theta, x) @ torch.tensor(reversal, dtype=torch.float64).T).abs().max() > 1e-3


@pytest.mark.parametrize(("rope", "equivariant"), [(False, True), (True, False)])
def test_attention_permutes_with_its_tokens_unless_positions_are_encoded(rope, equivariant):
    model = parse_model("softmax-attention:n=3,d=2,dk=2,dv=2" + (",rope=1" if rope else ""))
    rng = np.random.default_rng(1)
    theta, x = torch.tensor(model.random_theta(rng, scale=2.0)), torch.tensor(rng.standard_normal((4, 6)))
    group = build_group("tokens-sym/same", model)
    gap = max(
        float(
            (
                model.forward(theta, x @ torch.tensor(a, dtype=torch.float64).T)
                - model.forward(theta, x) @ torch.tensor(b, dtype=torch.float64).T
            )
            .abs()
            .max()
        )
        for a, b in zip(group.inputs, group.outputs)
    )
    assert (gap <= 1e-14) if equivariant else (gap > 1e-4), gap


def test_multi_head_attention_is_the_sum_of_its_heads():
    """heads=2 is Σ_h of two single-head layers on the head's rows of Q, K, V, O (eq. (19))."""
    both, one = (
        parse_model("softmax-attention:n=3,d=2,dk=2,dv=1,heads=2,rope=1"),
        parse_model("softmax-attention:n=3,d=2,dk=2,dv=1,rope=1"),
    )
    rng = np.random.default_rng(6)
    theta, x = torch.tensor(both.random_theta(rng)), torch.tensor(rng.standard_normal((4, 6)))
    blocks = both.unflatten(theta)
    total = 0
    for h in range(2):
        rows = {"query": slice(2 * h, 2 * h + 2), "key": slice(2 * h, 2 * h + 2), "value": slice(h, h + 1)}
        head = torch.cat(
            [blocks[name][rows.get(name, slice(h, h + 1))].reshape(-1) for name in ("query", "key", "value", "output")]
        )
        total = total + one.forward(head, x)
    assert (both.forward(theta, x) - total).abs().max() <= 1e-14


def test_residual_block_is_the_skip_plus_its_block():
    model = parse_model("residual:3,4,act=leaky-relu")
    rng = np.random.default_rng(2)
    theta, x = torch.tensor(model.random_theta(rng)), torch.tensor(rng.standard_normal((5, 3)))
    assert [b.name for b in model.blocks] == [b.name for b in model.block.blocks]
    assert (model.forward(theta, x) - x - model.block.forward(theta, x)).abs().max() <= 1e-15
    assert model.law_names == model.block.law_names and not model.smooth


@pytest.mark.parametrize(
    ("spec", "count"),
    [
        ("conv:5,3", 5 * 3),
        ("residual:3,4", 4),
        ("moe:2,3,1,2", 2 * 3),
        ("conv:4,2,act=linear", None),
        ("swiglu:2,2,1", None),
    ],
)
def test_kink_values_are_the_pre_activations_of_the_non_smooth_units(spec, count):
    """One value per sample and ReLU-type unit (None for a smooth model); a value 0 is a kink."""
    model = parse_model(spec)
    rng = np.random.default_rng(4)
    theta, x = torch.tensor(model.random_theta(rng)), torch.tensor(rng.standard_normal((3, model.input_dim)))
    kinks = model.kink_values(theta, x)
    assert model.smooth == (count is None)
    assert (kinks is None) if count is None else (kinks is not None and kinks.shape == (3 * count,))


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ("conv:4", "needs 2 sizes N,C"),
        ("conv:4,2,k=5", "k=5 is longer than the signal (N=4)"),
        ("conv:4,0", "sizes must be integers >= 1"),
        ("conv:4,2,act=sigmoid", "act='sigmoid' is not one of"),
        ("residual:3,2,1", "needs 2 sizes IN,H"),
        ("swiglu:3,2,1,act=relu", "unknown item act="),
        ("softmax-attention:n=3,d=2,dk=2", "dv= is required"),
        ("softmax-attention:3,2,2,2", "takes KEY=VALUE items only"),
        ("softmax-attention:n=3,d=2,dk=3,dv=2,rope=1", "dk=3 must be even"),
        ("softmax-attention:n=3,d=2,dk=2,dv=2,base=5", "needs rope=1"),
        ("softmax-attention:n=3,d=2,dk=2,dv=2,rope=1,base=1", "base=1 must be an integer >= 2"),
        ("moe:2,3,1", "needs 4 sizes IN,H,OUT,E"),
        ("moe:2,3,1,0", "sizes must be integers >= 1"),
    ],
)
def test_bad_zoo_specs_get_one_clear_error(spec, fragment):
    with pytest.raises(InvalidInput) as error:
        parse_model(spec)
    assert fragment in str(error.value) and spec in str(error.value)


def test_flowlaws_list_shows_every_zoo_model_with_its_computed_example():
    from harness.cli.list import zoo_catalogue

    rows = {row["family"]: row for row in zoo_catalogue()}
    assert set(rows) == set(ZOO)
    for family, row in rows.items():
        example = parse_model(row["example"])
        assert row["usage"].startswith(family + ":") and row["example"].startswith(family + ":")
        assert (row["example_params"], row["example_laws"]) == (example.n_params, len(example.law_names))
        assert row["smooth"] and row["published_laws"]


@pytest.mark.parametrize(
    ("build", "fragment"),
    [
        (lambda: CircularConvolution(3, 2, 4), "filter length k=4 exceeds N=3"),
        (lambda: CircularConvolution(3, 2, 2, act="sigmoid"), "act='sigmoid' is not one of"),
        (lambda: MLP((2, 1)), "need IN, at least one hidden width and OUT"),
        (lambda: MixtureOfExperts(2, 3, 1, 0), "E = 0"),
        (lambda: SoftmaxAttention(2, 2, 3, 1, rope=True), "dk = 3 must be even"),
        (lambda: SoftmaxAttention(2, 2, 2, 1, heads=0), "heads = 0"),
    ],
)
def test_direct_construction_is_validated_too(build, fragment):
    with pytest.raises(InvalidInput) as error:
        build()
    assert fragment in str(error.value)
