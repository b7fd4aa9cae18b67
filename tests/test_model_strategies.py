"""The zoo strategies (``strategies.models``): every drawn model builds, round-trips, fits the budget; groups fit."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from harness.model.groups import build_group
from harness.model.zoo import parse_model
from strategies import model_groups, model_kind_names, models
from strategies.groups import group_kind

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(models())
def test_every_drawn_model_builds_round_trips_and_fits_the_default_budget(model):
    assert parse_model(str(model)) == model
    assert 1 <= model.n_params <= 300
    model.check_size()


@FAST
@given(st.data(), st.sampled_from([10, 25, 60]))
def test_a_tighter_budget_is_kept(data, max_params):
    model = data.draw(models(max_params=max_params))
    assert model.n_params <= max_params


@pytest.mark.parametrize("kind", model_kind_names())
def test_each_kind_draws_its_own_family(kind):
    @settings(max_examples=15, deadline=None)
    @given(models(kinds=kind))
    def check(model):
        assert str(model).startswith(kind + ":")

    check()


@FAST
@given(st.data())
def test_every_drawn_group_builds_on_the_drawn_model(data):
    model = data.draw(models(max_params=120))
    spec = data.draw(model_groups(model))
    group = build_group(spec, model)
    assert (group.input_dim, group.output_dim) == (model.input_dim, model.output_dim)


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_attention_gets_token_groups_and_convolutions_get_cyclic_shifts(data):
    attention = data.draw(models(kinds="softmax-attention", max_params=60))
    spec = data.draw(model_groups(attention, kinds=("tokens-cyclic", "tokens-sym")))
    assert group_kind(spec).startswith("tokens-")
    build_group(spec, attention)
    conv = data.draw(models(kinds="conv", max_params=60))
    spec = data.draw(model_groups(conv, kinds=("cyclic", "dihedral"), outputs=("same",)))
    assert build_group(spec, conv).order >= conv.input_dim


def test_a_masked_tensorizable_attention_gets_no_token_groups():
    """Token permutations are symmetries of Ψ only without a causal mask; the mask shows through the model."""
    with pytest.raises(InvalidArgument, match="none of these groups acts"):
        model_groups("attention:n=3,d=2,dk=1,dv=1,mask=causal", kinds=("tokens-cyclic", "tokens-sym")).example()

    @settings(max_examples=10, deadline=None)
    @given(model_groups("attention:n=3,d=2,dk=1,dv=1", kinds=("tokens-cyclic", "tokens-sym")))
    def check(spec):
        assert group_kind(spec).startswith("tokens-")

    check()


def test_activations_restrict_the_draw():
    @settings(max_examples=30, deadline=None)
    @given(models(kinds=("mlp", "residual", "conv"), activations=("tanh",)))
    def check(model):
        assert model.act == "tanh" and not str(model).startswith("conv")  # conv draws relu or linear only

    check()


@pytest.mark.parametrize(
    ("kind", "smallest"),
    [
        ("mlp", "mlp:1,1,1,bias=0"),
        ("swiglu", "swiglu:1,1,1,bias=0"),
        ("conv", "conv:2,1,k=1,bias=0"),
        ("residual", "residual:1,1,bias=0"),
        ("softmax-attention", "softmax-attention:n=2,d=1,dk=1,dv=1"),
        ("moe", "moe:1,1,1,2,bias=0"),
    ],
)
def test_each_kind_shrinks_to_its_smallest_model(kind, smallest):
    from hypothesis import find

    assert str(find(models(kinds=kind), lambda model: True)) == smallest


@pytest.mark.parametrize(
    ("strategy", "fragment"),
    [
        (lambda: models(kinds="cnn"), "'cnn' is not one of"),
        (lambda: models(max_params=0), "max_params must be an integer >= 1"),
        (lambda: models(kinds="moe", max_params=5), "no model fits"),
        (lambda: models(kinds="swiglu", activations="sigmoid"), "'sigmoid' is not one of"),
        (lambda: model_groups("cnn:2"), "unknown model spec"),
        (lambda: model_groups("mlp:2,3,1", kinds="tokens-sym"), "none of these groups acts"),
    ],
)
def test_bad_strategy_arguments_are_refused_when_built(strategy, fragment):
    with pytest.raises(InvalidArgument) as error:
        strategy().example()
    assert fragment in str(error.value)
