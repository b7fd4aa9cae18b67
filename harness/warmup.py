"""Compile every Numba kernel once (or load it from the on-disk cache) on tiny inputs.

Run by the pytest plugin in the xdist controller before workers start, and by ``flowlaws warmup``.
Kernels are typed by flat float64/int64 arrays only, so one compilation serves every network, loss and
data set; each module with kernels registers a ``warm_up()`` function in ``KERNEL_MODULES``.
"""

from __future__ import annotations

import importlib
import time

KERNEL_MODULES = ("harness.polynomial_warmup", "harness.integrators")


def warm_up() -> float:
    """Compile or load all kernels; returns the seconds it took."""
    start = time.perf_counter()
    for name in KERNEL_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name != name:
                raise
            continue
        module.warm_up()
    return time.perf_counter() - start
