"""Runge–Kutta methods as data: Butcher tableaux (A, B, C) with embedded error weights E (SciPy's ``rk.py`` layout).

One time loop (``harness.kernels.integrators.integrate_kernel``) runs every tableau: a strictly lower
triangular A is stepped explicitly (stage after stage, the last slope reused as the next step's first, FSAL);
any other A is an implicit method whose stage equations Z_i = h Σ_j a_ij F(θ + Z_j) are solved to round-off
by fixed-point iteration (collocation methods such as Gauss–Legendre are of this kind). A tableau with error
weights (``error_order`` > 0) is stepped adaptively with SciPy's controller; the others take fixed steps.
Adding a method is adding a tableau here and a record in ``harness.kernels.methods``; the loop is not touched.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike


class ButcherTableau:
    """A Butcher tableau (A, B, C) of ``order`` and, for adaptive methods, error weights E = B − B̂.

    E has one entry per stage plus one for the slope at the new state (which an explicit step evaluates anyway
    and reuses as the next step's first stage); it is all zeros for a fixed-step method. ``error_order`` is the
    order of the embedded estimate (the controller's exponent is −1/(error_order + 1)); 0 means fixed steps.
    C is not read by explicit steps (the gradient flow is autonomous) but kept so the tableau is complete and
    checkable (row sums of A equal C); implicit steps use it for the initial guess Z_i = c_i h F(θ).
    """

    __slots__ = ("name", "a", "b", "c", "order", "e", "error_order", "explicit")

    def __init__(
        self,
        name: str,
        a: ArrayLike,
        b: ArrayLike,
        c: ArrayLike,
        order: int,
        e: ArrayLike | None = None,
        error_order: int = 0,
    ):
        self.name = name
        self.order = order
        self.error_order = error_order
        self.a = np.array(a, dtype=np.float64, order="C", ndmin=2)
        self.b = np.array(b, dtype=np.float64, order="C")
        self.c = np.array(c, dtype=np.float64, order="C")
        stages = self.b.shape[0]
        # Whether A is strictly lower triangular (each stage needs only the ones before it); read on every run.
        self.explicit = not bool(np.any(np.triu(self.a) != 0.0))
        self.e = np.zeros(stages + 1) if e is None else np.array(e, dtype=np.float64, order="C")
        if self.a.shape != (stages, stages) or self.c.shape != (stages,) or self.e.shape != (stages + 1,):
            raise ValueError(
                f"tableau {name!r}: A must be {stages}×{stages}, C and B of {stages} entries and E of "
                f"{stages + 1}; got A {self.a.shape}, C {self.c.shape}, E {self.e.shape}"
            )
        if not np.allclose(self.a.sum(axis=1), self.c, rtol=0.0, atol=1e-14):
            raise ValueError(f"tableau {name!r}: the row sums of A are not C")
        if (error_order > 0) != bool(np.any(self.e != 0.0)):
            raise ValueError(f"tableau {name!r}: error weights go with error_order > 0, and only with it")
        if error_order > 0 and not self.explicit:
            raise ValueError(
                f"tableau {name!r}: an implicit method with an error estimate is not supported "
                "(its steps are halved when the stage equations do not converge)"
            )

    def __repr__(self) -> str:
        return f"ButcherTableau({self.name!r}, {self.stages} stages, order {self.order})"

    @property
    def stages(self) -> int:
        return int(self.b.shape[0])

    @property
    def adaptive(self) -> bool:
        return self.error_order > 0


# Dormand & Prince (1980), the coefficients of SciPy's RK45 (scipy/integrate/_ivp/rk.py).
DORMAND_PRINCE = ButcherTableau(
    name="dp5",
    a=[
        [0, 0, 0, 0, 0, 0],
        [1 / 5, 0, 0, 0, 0, 0],
        [3 / 40, 9 / 40, 0, 0, 0, 0],
        [44 / 45, -56 / 15, 32 / 9, 0, 0, 0],
        [19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729, 0, 0],
        [9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656, 0],
    ],
    b=[35 / 384, 0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84],
    c=[0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1],
    e=[-71 / 57600, 0, 71 / 16695, -71 / 1920, 17253 / 339200, -22 / 525, 1 / 40],
    order=5,
    error_order=4,
)

CLASSICAL_RK4 = ButcherTableau(
    name="rk4",
    a=[[0, 0, 0, 0], [0.5, 0, 0, 0], [0, 0.5, 0, 0], [0, 0, 1, 0]],
    b=[1 / 6, 1 / 3, 1 / 3, 1 / 6],
    c=[0, 0.5, 0.5, 1],
    order=4,
)

_SQRT3 = math.sqrt(3.0)
# 2-stage Gauss–Legendre collocation (order 4): nodes 1/2 ∓ √3/6. It conserves every quadratic invariant exactly
# (Cooper's condition b_i a_ij + b_j a_ji = b_i b_j), provided its stage equations are solved to round-off.
GAUSS_LEGENDRE_2 = ButcherTableau(
    name="gauss",
    a=[[0.25, 0.25 - _SQRT3 / 6], [0.25 + _SQRT3 / 6, 0.25]],
    b=[0.5, 0.5],
    c=[0.5 - _SQRT3 / 6, 0.5 + _SQRT3 / 6],
    order=4,
)
