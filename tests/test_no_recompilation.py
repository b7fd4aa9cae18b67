"""No compilation per example: the integrator kernels' compiled signatures stay the same across 100 examples of
different families, losses (moment and row paths), data sizes, groups and methods."""

from __future__ import annotations

import itertools

import numpy as np

from harness.dynamics.flow import GradientFlow, integrate
from harness.dynamics.many import integrate_many
from harness.kernels import integrators
from harness.kernels import problem as kernel_problem
from harness.model.scenario import Scenario

# one time loop for every method; one flow goes through it as a batch of one (integrate_kernel and
# integrate_many_kernel are plain Python around the one compiled driver)
KERNELS = (kernel_problem.gradient_kernel, integrators._integrate_many_into)

SPECS = [
    "linear:3,2,2",
    "linear:1,1,1",
    "deep-linear:2,3,2,2",
    "deep-linear:2,1,2,1,2",
    "poly:2,2,2,k=2",
    "poly:3,1,2,k=3",
    "attention:n=3,d=2,dk=2,dv=2",
    "attention:n=2,d=2,dk=1,dv=2,mask=causal,decay=0.5",
]
LOSSES = ["mse", "quartic", "logcosh", "cauchy", "pseudo-huber", "cross-entropy", "huber"]
GROUPS = [None, "flip/trivial", "cyclic/sign"]
METHODS = ["dp5", "rk4", "gauss", "dop853"]


def examples(count: int):
    """``count`` valid scenarios cycling through networks × losses × groups, with varying N and methods."""
    combinations = itertools.cycle(itertools.product(SPECS, LOSSES, GROUPS))
    produced = 0
    while produced < count:
        spec, loss, group = next(combinations)
        if loss == "cross-entropy" and (spec.endswith(",1") or group == "cyclic/sign"):
            continue  # needs ≥ 2 classes, and a sign action would make the probabilities negative
        yield (
            Scenario(
                spec, loss, group, data="augmented" if group else "free", n_samples=1 + produced % 7, seed=produced
            ),
            METHODS[produced % len(METHODS)],
        )
        produced += 1


def run(scenario: Scenario, method: str) -> None:
    built = scenario.build()
    flow = GradientFlow(built.network, built.loss, built.data)
    flow.gradient(built.theta0)
    trajectory = integrate(flow, built.theta0, 0.05, method, steps=10, n_save=2)
    assert np.all(np.isfinite(trajectory.states))
    batch = integrate_many(flow, np.stack([built.theta0, 0.5 * built.theta0]), 0.05, method, steps=10, n_save=2)
    assert batch.statuses[0] == trajectory.status and np.array_equal(batch.trajectory(0).states, trajectory.states)


def test_signatures_stay_constant_across_100_examples():
    stream = examples(101)
    run(*next(stream))
    before = {kernel.py_func.__name__: list(kernel.signatures) for kernel in KERNELS}
    for scenario, method in stream:
        run(scenario, method)
    after = {kernel.py_func.__name__: list(kernel.signatures) for kernel in KERNELS}
    assert after == before
    # and there is exactly one compiled version of each kernel in all
    assert all(len(signatures) == 1 for signatures in after.values()), after
