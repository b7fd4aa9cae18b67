"""The dense per-family gradient kernels (issue 10) against the exact sparse-monomial path and the NumPy reference;
the gradient-only loss pass against ``loss_rows``; the loops/BLAS switch and its calibration; one compilation."""

from __future__ import annotations

import json

import numpy as np
import pytest

from harness.dynamics.flow import GradientFlow
from harness.errors import InvalidInput
from harness.kernels import calibration
from harness.kernels import problem as kernel_problem
from harness.kernels.families import deep_linear, linear
from harness.kernels.losses import KERNEL_IDS, loss_gradients, loss_rows
from harness.model.family import FAMILIES
from harness.model.losses import LOSSES
from harness.model.scenario import Scenario
from harness.model.specs import parse_network

# Random networks of every registered family: several shapes each, one with a scalar output (logistic, exp).
SPECS = {
    "linear": ["linear:3,2,2", "linear:4,1,3", "linear:3,2,1"],
    "deep-linear": ["deep-linear:2,3,2,2", "deep-linear:3,2,1,4,2", "deep-linear:2,3,2,1"],
    "poly": ["poly:2,2,2,k=2", "poly:3,1,2,k=3", "poly:2,2,1,k=2"],
    "attention": [
        "attention:n=3,d=2,dk=2,dv=2",
        "attention:n=2,d=2,dk=1,dv=2,mask=causal",
        "attention:n=2,d=2,dk=2,dv=1",
    ],
}
DATA = [(None, "free"), ("cyclic/trivial", "augmented")]
TOLERANCE = 1e-12  # max |dense − exact| ≤ TOLERANCE · max |exact|: round-off of sums of a few dozen terms


def with_blas(problem: tuple, blas: int) -> tuple:
    sizes = problem[kernel_problem.PROBLEM_SIZES].copy()
    sizes[kernel_problem.SIZE_BLAS] = blas
    return (*problem[:7], sizes, *problem[8:])


def scenario(spec: str, loss: str, group, data: str, seed: int):
    """The built scenario, or None where it is refused (e.g. cross-entropy on one output, logistic on two)."""
    try:
        return Scenario(spec, loss, group, data=data, n_samples=5, seed=seed).build()
    except InvalidInput:
        return None


def built_scenario(spec: str, loss: str, seed: int = 0):
    built = scenario(spec, loss, None, "free", seed)
    assert built is not None
    return built


def test_every_registered_family_has_specs_here():
    parse_network("linear:1,1,1")  # the registry is filled on first use
    assert set(FAMILIES) <= set(SPECS), f"add specs for {set(FAMILIES) - set(SPECS)}"


def test_every_kernel_loss_is_covered():
    assert sorted(loss.kernel_id for loss in LOSSES.values()) == sorted(KERNEL_IDS)


@pytest.mark.parametrize("family", sorted(SPECS))
@pytest.mark.parametrize("loss", sorted(LOSSES))
@pytest.mark.parametrize(("group", "data"), DATA)
def test_dense_gradient_equals_sparse_and_reference(family, loss, group, data):
    checked = 0
    for index, spec in enumerate(SPECS[family]):
        built = scenario(spec, loss, group, data, seed=7 + index)
        if built is None:
            continue
        dense = built.network.dense_gradient
        if dense is None or dense.structure not in kernel_problem.DENSE_STRUCTURES:
            pytest.skip(f"{family} has no dense kernel in this branch")
        checked += 1
        flow = GradientFlow(built.network, built.loss, built.data)
        exact = GradientFlow(built.network, built.loss, built.data, sparse_only=True)
        assert flow.problem[kernel_problem.PROBLEM_SIZES][kernel_problem.SIZE_STRUCTURE] == dense.structure
        sparse = exact.gradient(built.theta0)
        reference = flow.reference_gradient(built.theta0)
        scale = np.max(np.abs(reference))
        assert scale > 0
        np.testing.assert_allclose(sparse, reference, rtol=0, atol=TOLERANCE * scale)
        for blas in (0, 1):
            gradient = kernel_problem.gradient_kernel(built.theta0, with_blas(flow.problem, blas))
            np.testing.assert_allclose(gradient, sparse, rtol=0, atol=TOLERANCE * scale, err_msg=f"blas={blas}")
    assert checked, f"no scenario of {family} accepts {loss} on {data} data"


def test_the_check_can_fail():
    """A dense kernel handed a wrong header (widths 2,2,3,2 for a 2,3,2,2 network: same D, m, K) is caught."""
    built = built_scenario("deep-linear:2,3,2,2", "logcosh", seed=1)
    flow = GradientFlow(built.network, built.loss, built.data)
    sparse = GradientFlow(built.network, built.loss, built.data, sparse_only=True).gradient(built.theta0)
    wrong = (*flow.problem[:8], np.array([3, 2, 2, 3, 2], dtype=np.int64), *flow.problem[9:])
    gradient = kernel_problem.gradient_kernel(built.theta0, wrong)
    assert np.max(np.abs(gradient - sparse)) > TOLERANCE * np.max(np.abs(sparse))


def test_sparse_path_takes_the_loops():
    built = built_scenario("linear:3,2,2", "logcosh", seed=0)
    sizes = GradientFlow(built.network, built.loss, built.data, sparse_only=True).problem[kernel_problem.PROBLEM_SIZES]
    assert sizes[kernel_problem.SIZE_STRUCTURE] == kernel_problem.STRUCTURE_SPARSE
    assert sizes[kernel_problem.SIZE_BLAS] == 0


def test_problem_layout():
    built = built_scenario("deep-linear:3,2,4,1,2", "huber", seed=0)
    problem = GradientFlow(built.network, built.loss, built.data).problem
    assert len(problem) == 11
    shape, table, weights = problem[8:]
    assert shape.tolist() == [4, 3, 2, 4, 1, 2]
    assert shape.dtype == table.dtype == np.int64 and table.ndim == 2 and table.size >= 1
    assert weights.dtype == np.float64 and weights.ndim == 1 and weights.size >= 1
    assert problem[kernel_problem.PROBLEM_SIZES][kernel_problem.SIZE_WORK] == deep_linear.work_length((3, 2, 4, 1, 2))
    assert all(array.flags.c_contiguous and array.flags.writeable for array in problem)


# --- the gradient-only loss pass ---------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_loss_gradients_equal_loss_rows(name):
    loss_id = LOSSES[name].kernel_id
    rng = np.random.default_rng(loss_id)
    predictions = rng.standard_normal((40, 3)) * 4  # beyond Huber's knee, large logistic margins
    predictions[0, 0] = 800.0  # the logistic / exp overflow guards
    if name in ("logistic", "exp"):
        targets = np.where(rng.standard_normal((40, 3)) > 0, 1.0, -1.0)
    elif name == "cross-entropy":
        targets = rng.dirichlet(np.ones(3), size=40)
    else:
        targets = rng.standard_normal((40, 3))
    _, expected = loss_rows(loss_id, predictions, targets)
    block = predictions.copy()
    loss_gradients(loss_id, block, targets)
    np.testing.assert_array_equal(block, expected)  # the same formulas, so the same bits


def test_unknown_loss_id_gives_nan():
    block = np.ones((2, 2))
    loss_gradients(99, block, np.ones((2, 2)))
    assert np.isnan(block).all()


# --- the loops/BLAS switch ---------------------------------------------------------------------------


def small_problem(spec="linear:10,10,10"):
    built = built_scenario(spec, "mse", seed=0)
    return GradientFlow(built.network, built.loss, built.data).problem


@pytest.mark.parametrize("forced", [0, 1])
def test_environment_forces_the_branch(monkeypatch, forced):
    monkeypatch.setenv(calibration.ENVIRONMENT_VARIABLE, str(forced))
    assert small_problem()[kernel_problem.PROBLEM_SIZES][kernel_problem.SIZE_BLAS] == forced


def test_bad_environment_value(monkeypatch):
    monkeypatch.setenv(calibration.ENVIRONMENT_VARIABLE, "fast")
    with pytest.raises(InvalidInput, match="FLOWLAWS_BLAS='fast' must be one of 0, 1, auto"):
        small_problem()


def test_bad_blas_and_structure():
    problem = kernel_problem.tiny_problem()
    with pytest.raises(InvalidInput, match="blas=2"):
        kernel_problem.make_problem(*problem, 1, 1, 0, True, None, 2)

    class Unknown:
        structure, shape, table, weights, work = 99, (1,), None, None, 0

    with pytest.raises(InvalidInput, match="dense structure 99 has no kernel"):
        kernel_problem.make_problem(*problem, 1, 1, 0, True, Unknown())


def test_calibration_is_persisted_and_reused(monkeypatch, tmp_path):
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))  # only the JSON's folder: Numba read its own at import
    monkeypatch.setenv(calibration.ENVIRONMENT_VARIABLE, "auto")
    monkeypatch.setattr(calibration, "_loaded", None)
    record = calibration.calibration()
    stored = json.loads((tmp_path / calibration.FILE_NAME).read_text())
    assert stored == record and stored["machine"] == calibration.machine()
    assert len(stored["microseconds"]) == 2 * len(calibration.SIDES)
    threshold = record["threshold"]
    if threshold is not None:
        assert calibration.choose_blas(threshold) == 1 and calibration.choose_blas(threshold - 1) == 0
    # the same choice on a second load (no new measurement), and a record from another CPU is replaced
    monkeypatch.setattr(calibration, "_loaded", None)
    monkeypatch.setattr(calibration, "measure", lambda: pytest.fail("measured again"))
    assert calibration.calibration() == record
    (tmp_path / calibration.FILE_NAME).write_text(json.dumps({**record, "machine": "another", "threshold": 1.0}))
    monkeypatch.setattr(calibration, "_loaded", None)
    monkeypatch.setattr(calibration, "measure", lambda: {**record, "threshold": 5.0})
    assert calibration.calibration()["threshold"] == 5.0


def test_threshold_rule(monkeypatch):
    """The threshold is the smallest size from which BLAS wins at every larger measured size."""
    loses = (2, 3, 4)  # BLAS slower at these sides, faster everywhere else: the threshold is 6³
    clock = {"seconds": 0.0}

    def timed_loop(theta, problem, sign, evaluations):
        sizes = problem[kernel_problem.PROBLEM_SIZES]
        blas_wins = sizes[kernel_problem.SIZE_OUTPUTS] not in loses
        per_call = 1.0 if not sizes[kernel_problem.SIZE_BLAS] else (0.5 if blas_wins else 2.0)
        clock["seconds"] += per_call * evaluations

    monkeypatch.setattr(kernel_problem, "rhs_loop_kernel", timed_loop)
    monkeypatch.setattr(calibration.time, "process_time", lambda: clock["seconds"])
    assert calibration.measure()["threshold"] == 6.0**3


# --- one compilation -----------------------------------------------------------------------------------


def test_one_compilation_for_every_family_loss_and_branch():
    """The entry kernels keep one signature across families, losses and branches; the family and loss kernels,
    called with the problem's own arrays (as ``gradient_into`` does), keep one too: the types never vary."""
    entries = (kernel_problem.gradient_kernel, kernel_problem.rhs_loop_kernel)
    families = {linear.STRUCTURE: linear, deep_linear.STRUCTURE: deep_linear}
    for spec in ("linear:3,2,2", "linear:4,1,3", "deep-linear:2,3,2,2", "deep-linear:3,2,1,4,2", "poly:2,2,2,k=2"):
        for loss in ("mse", "logcosh", "cross-entropy", "huber"):
            built = built_scenario(spec, loss, seed=2)
            flow = GradientFlow(built.network, built.loss, built.data)
            sizes = flow.problem[kernel_problem.PROBLEM_SIZES]
            m, k = sizes[kernel_problem.SIZE_OUTPUTS], sizes[kernel_problem.SIZE_FEATURES]
            for blas in (0, 1):
                problem = with_blas(flow.problem, blas)
                kernel_problem.gradient_kernel(built.theta0, problem)
                kernel_problem.rhs_loop_kernel(built.theta0, problem, 1.0, 2)
                family = families.get(int(sizes[kernel_problem.SIZE_STRUCTURE]))
                if family is not None:
                    phi, work = np.empty((m, k)), np.empty(max(sizes[kernel_problem.SIZE_WORK], 1))
                    header = (
                        problem[8],
                        problem[9],
                        problem[10],
                        problem[kernel_problem.PROBLEM_SIZES][kernel_problem.SIZE_BLAS],
                    )
                    family.forward(built.theta0, *header, phi, work)
                    family.backward(built.theta0, *header, phi, np.empty_like(built.theta0), work)
                if not flow.uses_moments:
                    predictions = flow.features @ built.network.phi(built.theta0).T
                    loss_gradients(sizes[kernel_problem.SIZE_LOSS], predictions, problem[4])
    kernels = (*entries, linear.forward, linear.backward, deep_linear.forward, deep_linear.backward, loss_gradients)
    signatures = {f"{kernel.py_func.__module__}.{kernel.py_func.__name__}": kernel.signatures for kernel in kernels}
    assert all(len(found) == 1 for found in signatures.values()), signatures


def test_warmup_json_reports_the_calibration(capsys, monkeypatch):
    from harness.cli import main

    monkeypatch.setenv(calibration.ENVIRONMENT_VARIABLE, "auto")
    assert main(["warmup", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["blas"]["measure"] == calibration.MEASURE
    assert report["blas"]["threshold"] == calibration.calibration()["threshold"]


# --- the tiny moment field of the two-layer family ----------------------------------------------------------


@pytest.mark.parametrize("spec", ["linear:1,1,1", "linear:3,2,2", "linear:4,2,2", "linear:2,3,1", "linear:4,4,4"])
@pytest.mark.parametrize("data", DATA)
def test_tiny_moment_field_equals_the_general_field_bit_for_bit(spec, data):
    """m, K, r ≤ 4 with MSE: the time loop's field is ``linear.tiny_moment_field``; its sums run in the general
    path's order and its padding adds exact zeros, so both give the same bits (and the same finiteness, also
    where the field overflows)."""
    group, kind = data
    built = scenario(spec, "mse", group, kind, seed=3)
    assert built is not None
    flow = GradientFlow(built.network, built.loss, built.data)
    problem = flow.problem
    assert problem[kernel_problem.PROBLEM_SIZES][kernel_problem.SIZE_TINY] == 1
    buffers = kernel_problem.work_buffers(problem, flow.n_params)
    rng = np.random.default_rng(7)
    for draw in range(300):
        theta = rng.standard_normal(flow.n_params) * [1e-3, 1.0, 1e3, 1e110][draw % 4]
        theta[rng.random(flow.n_params) < 0.15] = 0.0
        tiny, general = np.full(flow.n_params, np.nan), np.full(flow.n_params, np.nan)
        tiny_finite = linear.tiny_moment_field(theta, problem[8], -1.0, buffers[0][5], tiny)
        general_finite = kernel_problem.flow_field(theta, problem, -1.0, buffers, general)
        assert tiny_finite == general_finite, f"{spec} draw {draw}: finite {tiny_finite} vs {general_finite}"
        if general_finite:
            np.testing.assert_array_equal(tiny, general, err_msg=f"{spec} {data} draw {draw}, θ = {theta!r}")


@pytest.mark.parametrize(
    ("spec", "loss", "blas"),
    [
        ("linear:5,2,2", "mse", None),
        ("linear:4,2,5", "mse", None),
        ("linear:4,2,2", "logcosh", None),
        ("linear:4,2,2", "mse", 1),
    ],
)
def test_tiny_moment_field_only_where_it_applies(monkeypatch, spec, loss, blas):
    """A size above 4, a row loss or the BLAS branch keep the general field."""
    if blas is not None:
        monkeypatch.setenv(calibration.ENVIRONMENT_VARIABLE, str(blas))
    built = built_scenario(spec, loss)
    problem = GradientFlow(built.network, built.loss, built.data).problem
    assert problem[kernel_problem.PROBLEM_SIZES][kernel_problem.SIZE_TINY] == 0
