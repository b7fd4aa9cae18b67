"""The registry of integration methods: one record per method, read by ``integrate``, the leaf walk and the CLI.

A method is a name, a Butcher tableau (``harness.kernels.tableaux``) and one line saying what it is for; its
order, whether it is implicit, whether its steps are adaptive and its error estimator all follow from the
tableau, so they cannot disagree with what the time loop does. Adding an explicit method is adding its tableau
and ``register_method(Method(name, tableau, summary))``; an implicit one likewise (its stage equations are
solved by the loop's fixed-point iteration, so it must not be stiff at the step sizes used).
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.kernels.tableaux import (
    CLASSICAL_RK4,
    DOP853,
    DORMAND_PRINCE,
    GAUSS_LEGENDRE_2,
    NORM_DOP853,
    ButcherTableau,
)


@dataclass(frozen=True, eq=False)
class Method:
    """A registered integration method: its name, its tableau and a one-line summary (for help texts)."""

    name: str
    tableau: ButcherTableau
    summary: str

    @property
    def order(self) -> int:
        return self.tableau.order

    @property
    def implicit(self) -> bool:
        return not self.tableau.explicit

    @property
    def adaptive(self) -> bool:
        """Steps chosen by the embedded error estimate (rtol/atol); otherwise ``steps`` fixed steps."""
        return self.tableau.adaptive

    @property
    def error_estimator(self) -> str:
        if self.adaptive:
            kind = "blended order-5 and order-3" if self.tableau.norm == NORM_DOP853 else "embedded"
            return f"{kind} order-{self.tableau.error_order} estimate with SciPy's step-size controller"
        if self.implicit:
            return "none (a step whose stage equations do not converge is halved)"
        return "none (fixed steps)"

    def describe(self) -> str:
        kind = "implicit" if self.implicit else "explicit"
        steps = "adaptive" if self.adaptive else "fixed-step"
        return f"{self.name}: {self.summary} ({kind}, order {self.order}, {steps})"


METHODS: dict[str, Method] = {}


def register_method(method: Method) -> Method:
    """Add ``method`` to the registry (its name must be new); returns it."""
    if method.name in METHODS:
        raise ValueError(f"an integration method named {method.name!r} is already registered")
    METHODS[method.name] = method
    return method


def unregister_method(name: str) -> None:
    """Remove a registered method (for tests that register their own)."""
    METHODS.pop(name, None)


for _method in (
    Method("dp5", DORMAND_PRINCE, "Dormand–Prince 5(4), SciPy's RK45"),
    Method("dop853", DOP853, "Hairer's DOP853 8(5,3) with dense output, SciPy's DOP853"),
    Method("rk4", CLASSICAL_RK4, "classical Runge–Kutta"),
    Method("gauss", GAUSS_LEGENDRE_2, "2-stage Gauss–Legendre collocation, keeps quadratic laws to round-off"),
):
    register_method(_method)
