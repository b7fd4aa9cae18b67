"""Property 3: the free-data count equals the number of independent published laws.

Statement: for free data and a loss whose gradients span every output direction (MSE; Marcotte, Gribonval,
Peyré 2023, Cor. 4.4), the number of independent conservation laws D − dim Lie(F)(θ) equals the number of
independent published laws of the family: UᵀU − VᵀV (linear), W_{i+1}ᵀW_{i+1} − W_iW_iᵀ (deep linear, all
widths ≥ 2), K‖u_j‖² − ‖v_j‖² (polynomial, theory.md O9), W_QᵀW_Q − W_KᵀW_K and ‖W_Q‖² − ‖W_V‖² (attention on
n ≥ 2 tokens, O16). The two sides are computed independently: the count by the Lie-algebra engine, the
published side by the exact rank of the published laws' gradients (sympy) at a random rational point.

Scope (the published completeness results carry these hypotheses; outside them extra laws are known to exist):
Φ must have at least two entries (a single field has D − 1 laws, theory.md O4b), and each family states the rest
as ``Network.published_laws_complete``: deep linear nets need all widths ≥ 2, attention needs n ≥ 2 tokens, a
family that states nothing is out of scope. The strategy below draws inside the scope by construction for the
built-in families and by filtering the networks strategy for any other (``in_scope`` states it for other callers).

The class, and which data sets stand for it. "Free data, MSE" is the class of all finite data sets; the count
is taken over all of it at once, from the exact family {Jᵀvec(ΦM − C)} with M and C ranging over all moment
matrices (``harness.laws.fields``), not from sampled data sets, so no sub-class can be explored by mistake. The
scenario's data set plays no part (only its network and seed).
"""

from __future__ import annotations

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from harness.laws.counting import count_laws
from harness.laws.explicit import independent
from harness.laws.fields import parameter_symbols
from harness.model.family import FAMILIES, Network
from harness.model.scenario import Scenario
from harness.verdicts.property import NO_PLANT, Plant, Property, enforce
from harness.verdicts.verdict import Verdict
from strategies import networks


def in_scope(network: Network) -> bool:
    """Whether the published laws are claimed complete for ``network`` (see the module docstring).

    Φ needs at least two entries for every family; the rest of the scope is the family's own
    (``Network.published_laws_complete``: a family that states no completeness result is never in scope).
    """
    return network.n_outputs * network.n_features >= 2 and network.published_laws_complete


def published_independent_laws(network: Network) -> int:
    """The number of independent published laws: exact rank of their gradients at a random rational point."""
    symbols = parameter_symbols(network)
    import numpy as np

    expressions = network.known_law_expressions(np.array(symbols, dtype=object))
    return len(independent(expressions, symbols, seed=0))


def check(scenario: Scenario, *, plant: Plant = NO_PLANT) -> Verdict:
    """Compare the engine's free MSE count with the published count (or with the plant's ``count``)."""
    claimed = plant.count
    network = scenario.build().network
    count = count_laws(network, "free", "mse", seed=scenario.seed, find_explicit=False)
    published = published_independent_laws(network) if claimed is None else claimed
    evidence = dict(
        D=count.D,
        count=count.laws,
        published=published,
        certified=count.certified,
        certificate=count.certificate,
        lie_rank_by_level=list(count.lie_rank_by_level),
        stop_reason=count.stop_reason,
        claimed=claimed is not None,
    )
    if not count.conclusive:
        return Verdict.inconclusive(f"free count inconclusive ({count.stop_reason})", **evidence)
    if count.laws == published:
        return Verdict.holds(f"{count.laws} laws = {published} independent published laws (D = {count.D})", **evidence)
    return Verdict.violated(f"free data has {count.laws} laws but the published laws give {published}", **evidence)


PROPERTY = Property(
    id="free-count-published",
    title="Free-data count equals the published laws",
    statement="For free data (MSE), D − dim Lie(F) equals the number of independent published laws of the family.",
    reference="Marcotte, Gribonval, Peyré (NeurIPS 2023) Cor. 4.4; theory.md O1, O4, O9, O16",
    check=check,
    plants=frozenset({"count"}),
)


@st.composite
def in_scope_scenarios(draw, family: str) -> Scenario:
    """Free-data MSE scenarios of ``family`` inside the published results' hypotheses, small sizes first."""
    size = st.integers(1, 3)
    if family == "linear":
        n_in, hidden, n_out = draw(size, label="IN"), draw(size, label="HIDDEN"), draw(size, label="OUT")
        spec = f"linear:{max(n_in, 3 - n_out) if n_in * n_out < 2 else n_in},{hidden},{n_out}"
    elif family == "deep-linear":
        widths = draw(st.lists(st.integers(2, 3), min_size=3, max_size=4), label="widths")
        spec = "deep-linear:" + ",".join(map(str, widths))
    elif family == "poly":
        spec = (
            f"poly:{draw(size, label='IN')},{draw(size, label='HIDDEN')},{draw(st.integers(1, 2), label='OUT')},"
            f"k={draw(st.integers(2, 3), label='k')}"
        )
    elif family == "attention":
        mask = draw(st.sampled_from(["", ",mask=causal", ",mask=causal,decay=0.5"]), label="mask")
        spec = (
            f"attention:n={draw(st.integers(2, 3), label='n')},d={draw(st.integers(1, 2), label='d')},"
            f"dk={draw(st.integers(1, 2), label='dk')},dv={draw(st.integers(1, 2), label='dv')}{mask}"
        )
    else:  # a family without a hand-picked in-scope draw: its own size rules, kept where it claims completeness
        network = draw(networks(families=(family,)).filter(in_scope), label="network")
        spec = str(network)
    scenario = Scenario(spec, "mse", seed=draw(st.integers(0, 2**16), label="seed"))
    if not in_scope(scenario.build().network):  # poly:1,h,1 has a scalar Φ: widen the input instead
        scenario = Scenario(spec.replace("poly:1,", "poly:2,", 1), "mse", seed=scenario.seed)
    event(f"family: {family}")
    return scenario


@pytest.mark.property
@pytest.mark.parametrize("family", FAMILIES)
@given(data=st.data())
def test_free_count_equals_published_laws(family, data):
    enforce(PROPERTY, data.draw(in_scope_scenarios(family), label="scenario"))
