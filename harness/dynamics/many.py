"""Many flows of one problem in one compiled call: ``integrate_many`` and its ``FlowBatch`` (DESIGN.md §2.3).

Property campaigns and benchmarks integrate the same gradient flow from many initial states; one compiled call
over the rows of a B × D array (``harness.kernels.integrators.integrate_many_kernel``) checks the options once
and saves the per-flow dispatch and ``Trajectory`` building of ``integrate``, while every flow takes exactly the
steps ``integrate`` would take from its row. A failed flow is never hidden: its numbers are NaN in the batch
arrays and its ``trajectory(i)`` carries the status, as ``integrate`` would return it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from harness.dynamics.flow import (
    DEFAULT_ATOL,
    DEFAULT_BLOW_UP,
    DEFAULT_MAX_STEPS,
    DEFAULT_RTOL,
    DEFAULT_STEPS,
    GradientFlow,
    RunRequest,
    Trajectory,
    run_request,
    trajectory_of,
)
from harness.errors import InvalidInput
from harness.kernels import integrators
from harness.kernels.status import IntegrationStatus


@dataclass(frozen=True, eq=False)
class FlowBatch:
    """B flows of one problem from the rows of a B × D array of initial states (``integrate_many``).

    Per flow: ``statuses``, ``n_rhs``, ``n_steps``, ``n_rejected``; ``final_states`` (B × D) and ``states``
    (B × save times × D) are NaN for a flow that failed (a failed
    flow's numbers are not available). ``trajectory(i)`` is flow i as ``integrate`` would have returned it.
    """

    run: RunRequest = field(repr=False)
    statuses: tuple[IntegrationStatus, ...]
    n_rhs: np.ndarray
    n_steps: np.ndarray
    n_rejected: np.ndarray
    final_states: np.ndarray
    states: np.ndarray
    seconds: float = field(default=0.0, compare=False)
    _raw: tuple = field(default=(), repr=False)

    @property
    def times(self) -> np.ndarray:
        return self.run.direction * self.run.save_times

    @property
    def ok(self) -> np.ndarray:
        """Which flows reached the final time (bool, B)."""
        return np.array([status == IntegrationStatus.OK for status in self.statuses], dtype=bool)

    def __len__(self) -> int:
        return len(self.statuses)

    def trajectory(self, i: int) -> Trajectory:
        """Flow i as a ``Trajectory`` (with the states reached and where a failed run stopped)."""
        states, finals, statuses, counts, reached = self._raw
        saved, n_rhs, n_steps, n_rejected = counts[i]
        return trajectory_of(
            self.run,
            states[i].copy(),
            saved,
            statuses[i],
            n_rhs,
            n_steps,
            n_rejected,
            reached[i],
            finals[i].copy(),
            0.0,
        )


def integrate_many(
    flow: GradientFlow,
    thetas,
    t_final: float,
    method: str = "dop853",
    *,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
    steps: int = DEFAULT_STEPS,
    n_save: int = 1,
    direction: int = 1,
    max_steps: int = DEFAULT_MAX_STEPS,
    blow_up: float = DEFAULT_BLOW_UP,
) -> FlowBatch:
    """``integrate`` from each row of ``thetas`` (B × D) in one compiled call: the options are checked once and
    every flow takes exactly the steps ``integrate`` would take from its row."""
    if not isinstance(flow, GradientFlow):
        raise InvalidInput(f"flow must be a GradientFlow, got {type(flow).__name__}")
    starts = _check_thetas(flow, thetas)
    run = run_request(
        flow, method, t_final, rtol, atol, steps, n_save, direction, max_steps, blow_up, starts, len(starts)
    )
    start = time.perf_counter()
    raw = integrators.integrate_many_kernel(
        starts, flow.problem, float(direction), run.save_times, run.record.tableau.kernel, run.settings, max_steps
    )
    seconds = time.perf_counter() - start
    states, finals, codes, counts, _ = raw
    statuses = tuple(IntegrationStatus.of(code) for code in codes.tolist())
    failed = codes != IntegrationStatus.OK.code
    shown_states, shown_finals = states.copy(), finals.copy()
    shown_finals[failed] = np.nan
    shown_states[failed] = np.nan
    return FlowBatch(
        run,
        statuses,
        counts[:, 1].copy(),
        counts[:, 2].copy(),
        counts[:, 3].copy(),
        shown_finals,
        shown_states,
        seconds,
        raw,
    )


def _check_thetas(flow: GradientFlow, thetas) -> np.ndarray:
    """The initial states as a fresh B × D float64 array, or InvalidInput naming what is wrong."""
    try:
        starts = np.array(thetas, dtype=np.float64, order="C", copy=True)
    except (TypeError, ValueError):
        raise InvalidInput(f"thetas must be a B × {flow.n_params} array of numbers") from None
    if starts.ndim != 2 or starts.shape[1] != flow.n_params or starts.shape[0] < 1:
        raise InvalidInput(f"thetas has shape {starts.shape}; {flow.network} needs (B, {flow.n_params}) with B >= 1")
    if not np.isfinite(starts).all():
        row, column = np.argwhere(~np.isfinite(starts))[0]
        raise InvalidInput(f"thetas contains NaN or inf (first at row {row}, index {column})")
    return starts
