"""Which explicit laws of a data class are *extra*: conserved for that class but not for free data.

A law found for G-augmented data is extra exactly when some free-data gradient field moves it, i.e. when
∇h·X ≢ 0 for a generator X of the free class. The test is exact (sympy, ``harness.laws.verify_law``), so a
law is never called extra because of round-off.
"""

from __future__ import annotations

from harness.fields import build_field_family, parameter_symbols
from harness.laws import verify_law
from harness.networks import Network


def extra_laws(network: Network, laws: list[str], loss: str = "mse") -> list[str]:
    """The laws (sympy strings in ``parameter_symbols(network)``) that free data under ``loss`` breaks."""
    import sympy

    if not laws:
        return []
    symbols = parameter_symbols(network)
    free = build_field_family(network, loss, "free", None)
    _, generators = free.sympy_generators(symbols)
    names = {s.name: s for s in symbols}
    return [law for law in laws if not verify_law(sympy.sympify(law, locals=names), symbols, generators)]
