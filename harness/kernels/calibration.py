"""The loops-or-BLAS switch of the dense kernels, calibrated once per machine and persisted.

A BLAS call has a fixed cost (≈ 0.3 µs) that hand loops beat on tiny products, and the crossing point depends on
the CPU (OpenBLAS's small-matrix kernels differ between AVX-512 and AMD cores). So it is measured: the two-layer
gradient of linear:n,n,n (MSE, size measure n³, see ``problem.size_measure``) in both branches, round-robin,
CPU time, medians; the threshold is the smallest measured size from which BLAS wins at every larger size. It is
written once to ``<numba cache>/blas_threshold.json`` (first writer wins), so the same machine always makes the
same choice and results are reproducible; a file from another CPU is recalibrated. ``FLOWLAWS_BLAS=0|1|auto``
overrides (default auto).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np

from harness.errors import InvalidInput

ENVIRONMENT_VARIABLE = "FLOWLAWS_BLAS"
MODES = ("0", "1", "auto")
FILE_NAME = "blas_threshold.json"
SIDES = (2, 3, 4, 6, 8, 10, 12, 16, 24)  # linear:n,n,n, measures n³ from 8 to 13,824
ROUNDS = 5
MEASURE = "m*K*D/(m+K)"

_loaded: dict | None = None


def mode() -> str:
    """``FLOWLAWS_BLAS`` (0, 1 or auto), or InvalidInput naming the bad value."""
    value = os.environ.get(ENVIRONMENT_VARIABLE, "auto").strip().lower() or "auto"
    if value not in MODES:
        raise InvalidInput(f"{ENVIRONMENT_VARIABLE}={value!r} must be one of {', '.join(MODES)}")
    return value


def choose_blas(measure: float) -> int:
    """1 if a problem of this size measure takes the BLAS branch, else 0."""
    chosen = mode()
    if chosen != "auto":
        return int(chosen)
    threshold = calibration()["threshold"]
    return int(threshold is not None and measure >= threshold)


def machine() -> str:
    """What the calibration is valid for: the CPU model and flags' digest, and the core count."""
    model, flags = "", ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = (part.strip() for part in line.partition(":"))
            if key == "model name" and not model:
                model = value
            elif key == "flags" and not flags:
                flags = value
    except OSError:
        pass
    model = model or platform.processor()
    return f"{model} | {len(flags.split())} flags | {os.cpu_count()} cpus"


def path() -> Path:
    from harness import environment

    return environment.numba_cache_dir() / FILE_NAME


def calibration() -> dict:
    """The persisted calibration of this machine (measured and written now if there is none)."""
    global _loaded
    if _loaded is not None and _loaded.get("machine") == machine():
        return _loaded
    file = path()
    try:
        record = json.loads(file.read_text())
        if record.get("machine") == machine() and "threshold" in record:
            _loaded = record
            return record
    except (OSError, ValueError):
        pass
    record = measure()
    _loaded = persist(record, file)
    return _loaded


def persist(record: dict, file: Path) -> dict:
    """Write ``record`` unless a valid one for this machine appeared meanwhile (then that one wins)."""
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        temporary = file.with_name(f"{file.name}.{os.getpid()}.tmp")
        temporary.write_text(json.dumps(record, indent=1))
        try:
            existing = json.loads(file.read_text())
            if existing.get("machine") == record["machine"] and "threshold" in existing:
                temporary.unlink()
                return existing
        except (OSError, ValueError):
            pass
        os.replace(temporary, file)
    except OSError:
        pass  # a read-only cache: this process keeps its own measurement
    return record


def _problem(side: int, blas: int, rng: np.random.Generator):
    from harness.kernels.problem import make_problem, tiny_problem

    out, coef, variables = tiny_problem()[:3]
    features, targets = np.zeros((0, side)), np.zeros((0, side))
    sample = rng.standard_normal((2 * side, side))
    moment_m, moment_c = sample.T @ sample / (2 * side), rng.standard_normal((side, side))

    class Dense:
        structure, shape, table, weights, work = 1, (side, side, side), None, None, 0

    problem = make_problem(
        out, coef, variables, features, targets, moment_m, moment_c, side, side, 0, True, Dense(), blas
    )
    return problem, rng.standard_normal(2 * side * side) * 0.5


def measure() -> dict:
    """Time both branches at every size of ``SIDES`` (warm first) and derive the threshold."""
    from harness.kernels.problem import rhs_loop_kernel

    rng = np.random.default_rng(0)
    cases = {(side, blas): _problem(side, blas, rng) for side in SIDES for blas in (0, 1)}
    for problem, theta in cases.values():
        rhs_loop_kernel(theta, problem, 1.0, 2)  # compiled or loaded before any timing
    seconds: dict = {key: [] for key in cases}
    started = time.process_time()
    for _ in range(ROUNDS):
        for key, (problem, theta) in cases.items():
            evaluations = max(20, 20_000 // key[0] ** 3)  # ≈ 0.1–1 ms each
            start = time.process_time()
            rhs_loop_kernel(theta, problem, 1.0, evaluations)
            seconds[key].append((time.process_time() - start) / evaluations)
    median = {key: statistics.median(values) for key, values in seconds.items()}
    wins = [median[(side, 1)] < median[(side, 0)] for side in SIDES]
    threshold = None
    for index, side in enumerate(SIDES):
        if all(wins[index:]):
            threshold = float(side**3)
            break
    return {
        "machine": machine(),
        "measure": MEASURE,
        "threshold": threshold,
        "microseconds": {f"linear:{s},{s},{s} blas={b}": round(t * 1e6, 4) for (s, b), t in median.items()},
        "calibration_cpu_seconds": round(time.process_time() - started, 4),
    }


def warm_up() -> None:
    """Load or measure this machine's calibration (``harness.kernels.warmup``)."""
    if mode() == "auto":
        calibration()
