"""Runge–Kutta methods as data: Butcher tableaux (A, B, C) with embedded error weights E (SciPy's ``rk.py`` layout).

One time loop (``harness.kernels.integrators._run``) runs every tableau: a strictly lower
triangular A is stepped explicitly (stage after stage, the last slope reused as the next step's first, FSAL);
any other A is an implicit method whose stage equations Z_i = h Σ_j a_ij F(θ + Z_j) are solved to round-off
by fixed-point iteration (collocation methods such as Gauss–Legendre are of this kind). A tableau with error
weights (``error_order`` > 0) is stepped adaptively with SciPy's controller; the others take fixed steps.
How the error weights become one error norm is data too (``norm``): SciPy's RMS norm of h Σ e_j k_j, or
DOP853's blend of its 5th- and 3rd-order estimates. A tableau may carry a dense output (extra stages and the
interpolant's coefficients, DOP853's): the loop then saves states inside a step instead of shortening steps to
land on every save time. Adding a method is adding a tableau here and a record in ``harness.kernels.methods``;
the loop is not touched.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

# How the loop turns the error weights into one error norm (an int handed to the compiled loop).
NORM_RMS = 0  # SciPy's RK45: RMS over i of (h Σ_j e_j k_ji) / scale_i
NORM_DOP853 = 1  # SciPy's DOP853: |h|·‖e5‖² / √((‖e5‖² + 0.01‖e3‖²)·n), e5 = Σ_j e_j k_j / scale, e3 likewise


class ButcherTableau:
    """A Butcher tableau (A, B, C) of ``order`` and, for adaptive methods, error weights E = B − B̂.

    E has one entry per stage plus one for the slope at the new state (which an explicit step evaluates anyway
    and reuses as the next step's first stage); it is all zeros for a fixed-step method. ``error_order`` is the
    order of the embedded estimate (the controller's exponent is −1/(error_order + 1)); 0 means fixed steps.
    ``e3`` and ``norm`` = NORM_DOP853 give DOP853's second error estimate and its norm. C is not read by
    explicit steps (the gradient flow is autonomous) but kept so the tableau is complete and checkable (row sums
    of A equal C); implicit steps use it for the initial guess Z_i = c_i h F(θ).

    Dense output (optional, DOP853's form): ``a_extra`` (k rows of s + 1 + k entries, over the stages, the slope
    at the new state and the extra stages before each) with nodes ``c_extra``, and ``dense`` (rows of s + 1 + k
    weights), the interpolant's coefficients beyond the cubic Hermite part.
    """

    __slots__ = ("name", "a", "b", "c", "order", "e", "e3", "norm", "error_order", "explicit", "dense", "kernel")

    def __init__(
        self,
        name: str,
        a: ArrayLike,
        b: ArrayLike,
        c: ArrayLike,
        order: int,
        e: ArrayLike | None = None,
        error_order: int = 0,
        *,
        e3: ArrayLike | None = None,
        norm: int = NORM_RMS,
        a_extra: ArrayLike | None = None,
        c_extra: ArrayLike | None = None,
        dense: ArrayLike | None = None,
    ):
        self.name = name
        self.order = order
        self.error_order = error_order
        self.norm = norm
        self.a = np.array(a, dtype=np.float64, order="C", ndmin=2)
        self.b = np.array(b, dtype=np.float64, order="C")
        self.c = np.array(c, dtype=np.float64, order="C")
        stages = self.b.shape[0]
        # Whether A is strictly lower triangular (each stage needs only the ones before it); read on every run.
        self.explicit = not bool(np.any(np.triu(self.a) != 0.0))
        self.e = np.zeros(stages + 1) if e is None else np.array(e, dtype=np.float64, order="C")
        self.e3 = np.zeros(stages + 1) if e3 is None else np.array(e3, dtype=np.float64, order="C")
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
        if norm not in (NORM_RMS, NORM_DOP853) or self.e3.shape != (stages + 1,):
            raise ValueError(f"tableau {name!r}: norm must be NORM_RMS or NORM_DOP853 and E3 of {stages + 1} entries")
        if (norm == NORM_DOP853) != bool(np.any(self.e3 != 0.0)) or (norm == NORM_DOP853 and error_order == 0):
            raise ValueError(f"tableau {name!r}: E3 goes with norm NORM_DOP853 and an error estimate, and only with it")
        full_a = self.a
        self.dense = np.zeros((0, stages + 1))
        if a_extra is not None or dense is not None:
            full_a, self.dense = self._dense_output(a_extra, c_extra, dense)
        # What the compiled loop reads (one Numba type for every tableau): the stage matrix extended by B and the
        # extra stages when there is a dense output, B, C, E, E3, the interpolant and (implicit, error order, norm).
        codes = np.array([0 if self.explicit else 1, error_order, norm], dtype=np.int64)
        self.kernel = (full_a, self.b, self.c, self.e, self.e3, self.dense, codes)

    def _dense_output(self, a_extra, c_extra, dense) -> tuple[np.ndarray, np.ndarray]:
        """The stage matrix extended by B and the extra stages (SciPy's layout), and the interpolant's weights."""
        stages = self.stages
        extra = np.array(a_extra, dtype=np.float64, ndmin=2)
        nodes = np.array(c_extra, dtype=np.float64)
        weights = np.array(dense, dtype=np.float64, order="C", ndmin=2)
        rows = stages + 1 + extra.shape[0]
        if not self.explicit or self.error_order == 0 or extra.shape[1] != rows or weights.shape[1] != rows:
            raise ValueError(
                f"tableau {self.name!r}: a dense output needs an adaptive explicit method, extra stages and "
                f"interpolant weights of {rows} entries each"
            )
        full = np.zeros((rows, rows))
        full[:stages, :stages] = self.a
        full[stages, :stages] = self.b
        full[stages + 1 :] = extra
        if np.any(np.triu(full) != 0.0) or not np.allclose(extra.sum(axis=1), nodes, rtol=0.0, atol=1e-14):
            raise ValueError(f"tableau {self.name!r}: the extra stages must be explicit with row sums C_extra")
        return full, weights

    def __repr__(self) -> str:
        return f"ButcherTableau({self.name!r}, {self.stages} stages, order {self.order})"

    @property
    def stages(self) -> int:
        return int(self.b.shape[0])

    @property
    def adaptive(self) -> bool:
        return self.error_order > 0

    @property
    def dense_output(self) -> bool:
        """Whether the loop interpolates the save times inside a step (instead of landing a step on each)."""
        return self.dense.shape[0] > 0


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


_DOP853_A = {  # row: {column: a_ij}; rows 13–15 are the extra stages of the dense output
    1: {0: 5.26001519587677318785587544488e-2},
    2: {0: 1.97250569845378994544595329183e-2, 1: 5.91751709536136983633785987549e-2},
    3: {0: 2.95875854768068491816892993775e-2, 2: 8.87627564304205475450678981324e-2},
    4: {
        0: 2.41365134159266685502369798665e-1,
        2: -8.84549479328286085344864962717e-1,
        3: 9.24834003261792003115737966543e-1,
    },
    5: {
        0: 3.7037037037037037037037037037e-2,
        3: 1.70828608729473871279604482173e-1,
        4: 1.25467687566822425016691814123e-1,
    },
    6: {
        0: 3.7109375e-2,
        3: 1.70252211019544039314978060272e-1,
        4: 6.02165389804559606850219397283e-2,
        5: -1.7578125e-2,
    },
    7: {
        0: 3.70920001185047927108779319836e-2,
        3: 1.70383925712239993810214054705e-1,
        4: 1.07262030446373284651809199168e-1,
        5: -1.53194377486244017527936158236e-2,
        6: 8.27378916381402288758473766002e-3,
    },
    8: {
        0: 6.24110958716075717114429577812e-1,
        3: -3.36089262944694129406857109825,
        4: -8.68219346841726006818189891453e-1,
        5: 2.75920996994467083049415600797e1,
        6: 2.01540675504778934086186788979e1,
        7: -4.34898841810699588477366255144e1,
    },
    9: {
        0: 4.77662536438264365890433908527e-1,
        3: -2.48811461997166764192642586468,
        4: -5.90290826836842996371446475743e-1,
        5: 2.12300514481811942347288949897e1,
        6: 1.52792336328824235832596922938e1,
        7: -3.32882109689848629194453265587e1,
        8: -2.03312017085086261358222928593e-2,
    },
    10: {
        0: -9.3714243008598732571704021658e-1,
        3: 5.18637242884406370830023853209,
        4: 1.09143734899672957818500254654,
        5: -8.14978701074692612513997267357,
        6: -1.85200656599969598641566180701e1,
        7: 2.27394870993505042818970056734e1,
        8: 2.49360555267965238987089396762,
        9: -3.0467644718982195003823669022,
    },
    11: {
        0: 2.27331014751653820792359768449,
        3: -1.05344954667372501984066689879e1,
        4: -2.00087205822486249909675718444,
        5: -1.79589318631187989172765950534e1,
        6: 2.79488845294199600508499808837e1,
        7: -2.85899827713502369474065508674,
        8: -8.87285693353062954433549289258,
        9: 1.23605671757943030647266201528e1,
        10: 6.43392746015763530355970484046e-1,
    },
    12: {
        0: 5.42937341165687622380535766363e-2,
        5: 4.45031289275240888144113950566,
        6: 1.89151789931450038304281599044,
        7: -5.8012039600105847814672114227,
        8: 3.1116436695781989440891606237e-1,
        9: -1.52160949662516078556178806805e-1,
        10: 2.01365400804030348374776537501e-1,
        11: 4.47106157277725905176885569043e-2,
    },
    13: {
        0: 5.61675022830479523392909219681e-2,
        6: 2.53500210216624811088794765333e-1,
        7: -2.46239037470802489917441475441e-1,
        8: -1.24191423263816360469010140626e-1,
        9: 1.5329179827876569731206322685e-1,
        10: 8.20105229563468988491666602057e-3,
        11: 7.56789766054569976138603589584e-3,
        12: -8.298e-3,
    },
    14: {
        0: 3.18346481635021405060768473261e-2,
        5: 2.83009096723667755288322961402e-2,
        6: 5.35419883074385676223797384372e-2,
        7: -5.49237485713909884646569340306e-2,
        10: -1.08347328697249322858509316994e-4,
        11: 3.82571090835658412954920192323e-4,
        12: -3.40465008687404560802977114492e-4,
        13: 1.41312443674632500278074618366e-1,
    },
    15: {
        0: -4.28896301583791923408573538692e-1,
        5: -4.69762141536116384314449447206,
        6: 7.68342119606259904184240953878,
        7: 4.06898981839711007970213554331,
        8: 3.56727187455281109270669543021e-1,
        12: -1.39902416515901462129418009734e-3,
        13: 2.9475147891527723389556272149,
        14: -9.15095847217987001081870187138,
    },
}
_DOP853_C = [
    0.0,
    0.526001519587677318785587544488e-01,
    0.789002279381515978178381316732e-01,
    0.118350341907227396726757197510,
    0.281649658092772603273242802490,
    0.333333333333333333333333333333,
    0.25,
    0.307692307692307692307692307692,
    0.651282051282051282051282051282,
    0.6,
    0.857142857142857142857142857142,
    1.0,
    1.0,
    0.1,
    0.2,
    0.777777777777777777777777777778,
]
_DOP853_E5 = {
    0: 0.1312004499419488073250102996e-1,
    5: -0.1225156446376204440720569753e1,
    6: -0.4957589496572501915214079952,
    7: 0.1664377182454986536961530415e1,
    8: -0.3503288487499736816886487290,
    9: 0.3341791187130174790297318841,
    10: 0.8192320648511571246570742613e-1,
    11: -0.2235530786388629525884427845e-1,
}
_DOP853_E3_SHIFT = {
    0: 0.244094488188976377952755905512,
    8: 0.733846688281611857341361741547,
    11: 0.220588235294117647058823529412e-1,
}  # E3 = B − these
_DOP853_D = {
    0: {
        0: -0.84289382761090128651353491142e1,
        5: 0.56671495351937776962531783590,
        6: -0.30689499459498916912797304727e1,
        7: 0.23846676565120698287728149680e1,
        8: 0.21170345824450282767155149946e1,
        9: -0.87139158377797299206789907490,
        10: 0.22404374302607882758541771650e1,
        11: 0.63157877876946881815570249290,
        12: -0.88990336451333310820698117400e-1,
        13: 0.18148505520854727256656404962e2,
        14: -0.91946323924783554000451984436e1,
        15: -0.44360363875948939664310572000e1,
    },
    1: {
        0: 0.10427508642579134603413151009e2,
        5: 0.24228349177525818288430175319e3,
        6: 0.16520045171727028198505394887e3,
        7: -0.37454675472269020279518312152e3,
        8: -0.22113666853125306036270938578e2,
        9: 0.77334326684722638389603898808e1,
        10: -0.30674084731089398182061213626e2,
        11: -0.93321305264302278729567221706e1,
        12: 0.15697238121770843886131091075e2,
        13: -0.31139403219565177677282850411e2,
        14: -0.93529243588444783865713862664e1,
        15: 0.35816841486394083752465898540e2,
    },
    2: {
        0: 0.19985053242002433820987653617e2,
        5: -0.38703730874935176555105901742e3,
        6: -0.18917813819516756882830838328e3,
        7: 0.52780815920542364900561016686e3,
        8: -0.11573902539959630126141871134e2,
        9: 0.68812326946963000169666922661e1,
        10: -0.10006050966910838403183860980e1,
        11: 0.77771377980534432092869265740,
        12: -0.27782057523535084065932004339e1,
        13: -0.60196695231264120758267380846e2,
        14: 0.84320405506677161018159903784e2,
        15: 0.11992291136182789328035130030e2,
    },
    3: {
        0: -0.25693933462703749003312586129e2,
        5: -0.15418974869023643374053993627e3,
        6: -0.23152937917604549567536039109e3,
        7: 0.35763911791061412378285349910e3,
        8: 0.93405324183624310003907691704e2,
        9: -0.37458323136451633156875139351e2,
        10: 0.10409964950896230045147246184e3,
        11: 0.29840293426660503123344363579e2,
        12: -0.43533456590011143754432175058e2,
        13: 0.96324553959188282948394950600e2,
        14: -0.39177261675615439165231486172e2,
        15: -0.14972683625798562581422125276e3,
    },
}


def _dop853() -> ButcherTableau:
    """Hairer's DOP853 as SciPy has it (scipy/integrate/_ivp/dop853_coefficients.py), with its dense output."""
    full = np.zeros((16, 16))
    for row, entries in _DOP853_A.items():
        for column, value in entries.items():
            full[row, column] = value
    e5 = np.zeros(13)
    for index, value in _DOP853_E5.items():
        e5[index] = value
    e3 = np.zeros(13)
    e3[:12] = full[12, :12]
    for index, value in _DOP853_E3_SHIFT.items():
        e3[index] -= value
    dense = np.zeros((4, 16))
    for row, entries in _DOP853_D.items():
        for column, value in entries.items():
            dense[row, column] = value
    return ButcherTableau(
        name="dop853",
        a=full[:12, :12],
        b=full[12, :12],
        c=_DOP853_C[:12],
        e=e5,
        e3=e3,
        norm=NORM_DOP853,
        order=8,
        error_order=7,
        a_extra=full[13:],
        c_extra=_DOP853_C[13:],
        dense=dense,
    )


DOP853 = _dop853()
