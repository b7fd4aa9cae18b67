"""The compiled jet products (harness.algebra.jet_kernels) and the matrix-product jets of the linear family
against the numpy subset-convolution arithmetic they replace, bit for bit, on random jets of every family."""

import numpy as np
import pytest

from harness.algebra.jets import EXACT, JetArithmetic, MatrixProductJets, PolynomialJets, jets_of
from harness.algebra.modular import PRIME
from harness.model.specs import parse_network


class _NumpyModular(JetArithmetic):
    """Z/p jets through the numpy path (``exact`` False only to bypass the compiled kernels)."""

    @property
    def exact(self) -> bool:
        return False

    @property
    def dtype(self):
        return np.int64

    def normalise(self, array):
        return np.mod(array, PRIME)


REFERENCE = _NumpyModular(PRIME)
SPECS = ["linear:3,2,2", "linear:4,3,5", "deep-linear:2,3,2,2", "poly:2,2,1,k=3", "attention:n=2,d=2,dk=1,dv=1"]
SHAPES = [(1, 1, 5), (1, 3, 3), (2, 4, 4), (4, 1, 3), (8, 3, 3), (16, 2, 2)]  # (2^j, point batch, cotangent batch)


@pytest.mark.parametrize("spec", SPECS)
def test_compiled_jets_equal_the_numpy_subset_convolution(spec):
    network = parse_network(spec)
    compiled, reference = jets_of(network), PolynomialJets(network.polynomial)
    rng = np.random.default_rng(len(spec))
    for size, batch, cotangent_batch in SHAPES:
        point = rng.integers(0, PRIME, (size, batch, network.n_params))
        cotangent = rng.integers(0, PRIME, (size, cotangent_batch) + reference.shape)
        assert np.array_equal(compiled.phi(EXACT, point), reference.phi(REFERENCE, point)), (spec, size, batch)
        got, want = compiled.vjp(EXACT, point, cotangent), reference.vjp(REFERENCE, point, cotangent)
        assert np.array_equal(got, want), (spec, size, batch, cotangent_batch)


def test_linear_family_uses_matrix_products_and_others_the_monomials():
    assert isinstance(jets_of(parse_network("linear:3,2,2")), MatrixProductJets)
    assert not isinstance(jets_of(parse_network("deep-linear:2,3,2,2")), MatrixProductJets)


def test_compiled_vjp_without_deferred_reduction_is_still_exact():
    # A parameter in 2^11 or more terms must reduce each product: poly with many terms per variable.
    network = parse_network("linear:3,2,2")
    jets = PolynomialJets(network.polynomial)
    jets._most_per_parameter = 1 << 11  # force the reducing branch
    rng = np.random.default_rng(9)
    point = rng.integers(0, PRIME, (2, 3, network.n_params))
    cotangent = rng.integers(0, PRIME, (2, 3) + jets.shape)
    assert np.array_equal(jets.vjp(EXACT, point, cotangent), jets.vjp(REFERENCE, point, cotangent))
