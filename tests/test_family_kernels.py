"""The dense family kernels (``harness.kernels.families``) against the exact sparse-monomial reference.

For random poly and attention networks, both branches (hand loops, blas=0; ``np.dot`` into views, blas=1):
``forward`` equals ``network.phi(θ)`` and ``backward`` equals the sparse vector–Jacobian product
``add_phi_vjp`` entry for entry, at relative round-off 1e-12. "Relative" is against the magnitude of each
entry's sum (the same sum with |θ|, |coef| and |G|), the scale its floating-point error is bounded by: a
plain relative error would fail honestly computed entries that cancel to almost zero, an absolute one would
pass wrong small entries. The kernels are also held to writing only inside the work length the family asks for
and to allocating nothing.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import njit
from numba.core.runtime.nrt import rtsys

from harness.kernels.families import attention as attention_kernel
from harness.kernels.families import polynomial as polynomial_kernel
from harness.kernels.polynomial import add_phi_vjp
from harness.model.families.attention import AttentionNetwork
from harness.model.families.polynomial import PolynomialNetwork
from harness.model.family import Network

# Numba's runtime statistics switch (a C extension without stubs, hence the import by name).
_nrt_python = importlib.import_module("numba.core.runtime._nrt_python")
KERNELS = {polynomial_kernel.STRUCTURE: polynomial_kernel, attention_kernel.STRUCTURE: attention_kernel}
TOLERANCE = 1e-12
GUARD = 8  # sentinel floats after the work length: a kernel writing past it overwrites them
SENTINEL = -7.25e300


def kernel_arrays(network: Network):
    """(module, shape, table, weights, work length) from ``network.dense_gradient``, dummies where it has none."""
    dense = network.dense_gradient
    assert dense is not None, f"{network} has no dense gradient"
    table = np.zeros((1, 1), dtype=np.int64) if dense.table is None else np.ascontiguousarray(dense.table)
    weights = np.zeros(1) if dense.weights is None else np.ascontiguousarray(dense.weights, dtype=np.float64)
    return KERNELS[dense.structure], np.asarray(dense.shape, dtype=np.int64), table, weights, dense.work


def sparse_reference(network: Network, theta: np.ndarray, cotangent: np.ndarray):
    """(Φ, J(θ)ᵀ vec(G)) from the monomials, and the same with |θ|, |G| (the scales of their round-off)."""
    out, coef, variables = network.polynomial.as_kernel_arrays()
    flat = np.ascontiguousarray(cotangent.reshape(-1))
    vjp, vjp_scale = np.zeros(theta.shape[0]), np.zeros(theta.shape[0])
    add_phi_vjp(theta, out, coef, variables, flat, vjp)
    add_phi_vjp(np.abs(theta), out, np.abs(coef), variables, np.abs(flat), vjp_scale)
    return network.phi(theta), network.phi(np.abs(theta)), vjp, vjp_scale


def dense_values(network: Network, theta: np.ndarray, cotangent: np.ndarray, blas: int):
    """(Φ, J(θ)ᵀ vec(G)) from the family's kernel; fails if it wrote past its work length."""
    module, shape, table, weights, length = kernel_arrays(network)
    guarded = np.full(length + GUARD, SENTINEL)
    work = guarded[:length]
    phi = np.full((network.n_outputs, network.n_features), np.nan)
    gradient = np.full(network.n_params, np.nan)  # backward must overwrite every entry
    module.forward(theta, shape, table, weights, blas, phi, work)
    module.backward(theta, shape, table, weights, blas, cotangent, gradient, work)
    assert np.all(guarded[length:] == SENTINEL), f"{network} blas={blas}: the kernel wrote past work[{length}]"
    return phi, gradient


def assert_round_off(name: str, got: np.ndarray, want: np.ndarray, scale: np.ndarray) -> None:
    error = np.abs(got - want)
    bad = ~(error <= TOLERANCE * scale)  # also catches NaN
    assert not bad.any(), (
        f"{name}: {int(bad.sum())} of {bad.size} entries off; first at flat index {int(np.argmax(bad.reshape(-1)))}: "
        f"got {got.reshape(-1)[bad.reshape(-1)][0]!r}, want {want.reshape(-1)[bad.reshape(-1)][0]!r}, "
        f"scale {scale.reshape(-1)[bad.reshape(-1)][0]!r}"
    )


def check_network(network: Network, seed: int) -> None:
    rng = np.random.default_rng(seed)
    theta = rng.standard_normal(network.n_params)
    theta[rng.random(theta.shape[0]) < 0.1] = 0.0  # exact zeros: the prefix/suffix products must not divide
    cotangent = rng.standard_normal((network.n_outputs, network.n_features))
    phi, phi_scale, vjp, vjp_scale = sparse_reference(network, theta, cotangent)
    for blas in (0, 1):
        got_phi, got_vjp = dense_values(network, theta, cotangent, blas)
        assert_round_off(f"{network} blas={blas} Φ", got_phi, phi, phi_scale)
        assert_round_off(f"{network} blas={blas} J(θ)ᵀvec(G)", got_vjp, vjp, vjp_scale)


polynomial_networks = st.builds(
    PolynomialNetwork,
    n_in=st.integers(1, 6),
    hidden=st.integers(1, 5),
    n_out=st.integers(1, 3),
    k=st.integers(2, 4),
)
attention_networks = st.one_of(
    st.builds(AttentionNetwork, n=st.integers(1, 3), d=st.integers(1, 5), dk=st.integers(1, 3), dv=st.integers(1, 3)),
    st.builds(
        AttentionNetwork,
        n=st.integers(1, 3),
        d=st.integers(1, 5),
        dk=st.integers(1, 3),
        dv=st.integers(1, 3),
        mask=st.just("causal"),
        decay=st.sampled_from([1.0, 0.5, 0.9]),
    ),
)


@settings(max_examples=40, deadline=None)
@given(network=polynomial_networks, seed=st.integers(0, 2**32 - 1))
def test_polynomial_kernel_equals_the_sparse_reference(network, seed):
    check_network(network, seed)


@settings(max_examples=40, deadline=None)
@given(network=attention_networks, seed=st.integers(0, 2**32 - 1))
def test_attention_kernel_equals_the_sparse_reference(network, seed):
    check_network(network, seed)


@pytest.mark.parametrize(
    "spec", ["poly:10,10,1,k=2", "poly:6,6,3,k=4", "attention:n=4,d=4,dk=3,dv=3", "attention:n=2,d=8,dk=6,dv=5"]
)
def test_benchmark_sizes_equal_the_sparse_reference(spec):
    from harness.model.specs import parse_network

    check_network(parse_network(spec), seed=len(spec))


def test_the_comparison_refuses_an_error_above_round_off():
    """The check can fail: Φ off by 1e-10 of its scale in one entry, or a wrong θ layout, is reported."""
    network = PolynomialNetwork(3, 2, 2, 3)
    rng = np.random.default_rng(1)
    theta = rng.standard_normal(network.n_params)
    cotangent = rng.standard_normal((network.n_outputs, network.n_features))
    phi, phi_scale, vjp, vjp_scale = sparse_reference(network, theta, cotangent)
    nudged = phi.copy()
    nudged[1, 2] += 1e-10 * phi_scale[1, 2]
    with pytest.raises(AssertionError, match="1 of"):
        assert_round_off("nudged Φ", nudged, phi, phi_scale)
    swapped = np.concatenate([theta[network.n_out * network.hidden :], theta[: network.n_out * network.hidden]])
    got_phi, _ = dense_values(network, swapped, cotangent, 0)
    with pytest.raises(AssertionError):
        assert_round_off("V before U", got_phi, phi, phi_scale)


@njit
def _same_arguments(theta, shape, table, weights, blas, first, second):
    """No work at all: its allocation count is the cost of passing the arrays in from Python."""
    return blas


@pytest.mark.parametrize("spec", ["poly:4,3,2,k=3", "attention:n=2,d=3,dk=2,dv=2"])
@pytest.mark.parametrize("blas", [0, 1])
def test_kernels_allocate_nothing(spec, blas):
    from harness.model.specs import parse_network

    network = parse_network(spec)
    module, shape, table, weights, length = kernel_arrays(network)
    theta = np.random.default_rng(2).standard_normal(network.n_params)
    phi = np.zeros((network.n_outputs, network.n_features))
    gradient, work = np.zeros(network.n_params), np.zeros(length)
    calls = {
        "forward": (module.forward, (theta, shape, table, weights, blas, phi, work)),
        "backward": (module.backward, (theta, shape, table, weights, blas, phi, gradient, work)),
        "baseline": (_same_arguments, (theta, shape, table, weights, blas, phi, work)),
    }
    enabled = _nrt_python.memsys_stats_enabled()
    _nrt_python.memsys_enable_stats()
    try:
        counts = {}
        for name, (function, arguments) in calls.items():
            function(*arguments)  # compiled (or loaded) outside the count
            before = rtsys.get_allocation_stats().alloc
            function(*arguments)
            counts[name] = rtsys.get_allocation_stats().alloc - before
    finally:
        if not enabled:
            _nrt_python.memsys_disable_stats()
    arrays = {name: sum(isinstance(a, np.ndarray) for a in arguments) for name, (_, arguments) in calls.items()}
    per_array = counts["baseline"] / arrays["baseline"]  # Numba counts one allocation per array passed in
    assert per_array > 0, f"the NRT statistics counted nothing: {counts}"
    for name in ("forward", "backward"):
        assert counts[name] == per_array * arrays[name], f"{network} blas={blas} {name} allocates: {counts}"


def test_one_compilation_for_every_network_and_branch():
    """The kernels are typed by the problem's arrays only: sizes, k, masks and the branch never add a signature."""
    from harness.model.specs import parse_network

    specs = [
        "poly:2,1,1,k=2",
        "poly:5,3,2,k=4",
        "attention:n=1,d=2,dk=1,dv=1",
        "attention:n=3,d=3,dk=2,dv=2,mask=causal",
    ]
    for seed, spec in enumerate(specs):
        check_network(parse_network(spec), seed)
    for module in KERNELS.values():
        for kernel in (module.forward, module.backward):
            assert len(kernel.signatures) == 1, f"{module.__name__}.{kernel.__name__}: {kernel.signatures}"


def test_polynomial_walk_is_correct_in_any_row_order():
    """Shuffled multisets only cost recomputed prefixes: Φ's columns follow the rows, ∇ is unchanged."""
    network = PolynomialNetwork(4, 3, 2, 3)
    module, shape, table, weights, length = kernel_arrays(network)
    rng = np.random.default_rng(3)
    order = rng.permutation(table.shape[0])
    theta = rng.standard_normal(network.n_params)
    cotangent = rng.standard_normal((network.n_outputs, network.n_features))
    phi, phi_scale, vjp, vjp_scale = sparse_reference(network, theta, cotangent)
    shuffled_table, shuffled_weights = np.ascontiguousarray(table[order]), np.ascontiguousarray(weights[order])
    shuffled_cotangent = np.ascontiguousarray(cotangent[:, order])
    for blas in (0, 1):
        work, got_phi, got_vjp = np.zeros(length), np.zeros_like(phi), np.zeros(network.n_params)
        module.forward(theta, shape, shuffled_table, shuffled_weights, blas, got_phi, work)
        module.backward(theta, shape, shuffled_table, shuffled_weights, blas, shuffled_cotangent, got_vjp, work)
        assert_round_off(f"shuffled Φ blas={blas}", got_phi, phi[:, order], phi_scale[:, order])
        assert_round_off(f"shuffled ∇ blas={blas}", got_vjp, vjp, vjp_scale)
