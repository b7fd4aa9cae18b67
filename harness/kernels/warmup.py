"""Compile every Numba kernel once (or load it from the on-disk cache) on tiny inputs.

Run by the pytest plugin in the xdist controller before workers start, and by ``flowlaws warmup``.
Kernels are typed by flat float64/int64 arrays only, so one compilation serves every network, loss and
data set; each module with kernels registers a ``warm_up()`` function in ``KERNEL_MODULES`` (the last,
``harness.kernels.calibration``, loads or measures the dense kernels' loops/BLAS threshold).

Two faults of a shared cache folder (``harness.environment.numba_cache_dir()``) are handled here:

- *corruption*: Numba unpickles its index (``.nbi``) and data (``.nbc``) files without a check, so one
  truncated or overwritten file raises (UnpicklingError, EOFError, ...) on every later load, for good. A
  load error raised from inside Numba's caching code is repaired: the corrupt entries (or, when none can
  be pinned down, the whole folder) are deleted, one notice line is printed, and the kernels recompile;
- *concurrent cold starts*: warm-up holds an exclusive ``flock`` on ``<cache>/.lock``, so of several
  processes started at once one compiles and the others, once it is done, load what it wrote (Numba
  writes each cache file atomically, so a reader never sees half a file).
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib
import os
import pickle
import shutil
import sys
import time
from pathlib import Path

KERNEL_MODULES = ("harness.kernels.polynomial_warmup", "harness.kernels.integrators", "harness.kernels.calibration")
LOCK_NAME = ".lock"
_NUMBA_CACHE_CODE = (os.path.join("numba", "core", "caching.py"), os.path.join("numba", "core", "serialize.py"))


def warm_up() -> float:
    """Compile or load all kernels (under the cache lock, repairing a corrupt cache); returns the seconds."""
    from harness import environment

    environment.configure()
    start = time.perf_counter()
    cache = environment.numba_cache_dir()
    with cache_lock(cache):
        run_with_cache_repair(_load_kernels, cache)
    return time.perf_counter() - start


def _load_kernels() -> None:
    for name in KERNEL_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name != name:
                raise
            continue
        module.warm_up()


@contextlib.contextmanager
def cache_lock(cache: Path):
    """Hold an exclusive lock on ``<cache>/.lock`` (blocking); a cache folder we cannot write is not locked."""
    try:
        cache.mkdir(parents=True, exist_ok=True)
        handle = open(cache / LOCK_NAME, "a+")  # noqa: SIM115 - closed below, after the lock is released
    except OSError:
        yield  # read-only: Numba will not write there either, so there is no compilation to share
        return
    with handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def is_cache_corruption(error: BaseException) -> bool:
    """Whether ``error`` (or an error it was raised from) came out of Numba's loading of its cache files."""
    seen = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        frame = current.__traceback__
        while frame is not None:
            if frame.tb_frame.f_code.co_filename.endswith(_NUMBA_CACHE_CODE) and not isinstance(current, MemoryError):
                return True
            frame = frame.tb_next
        current = current.__cause__ or current.__context__
    return False


def corrupt_entries(cache: Path) -> set[str]:
    """Cache entries (``<module>.<function>-<line>.pyXY``) whose index or data files do not unpickle."""
    broken = set()
    for path in cache.rglob("*.nbi"):
        try:
            with open(path, "rb") as handle:
                pickle.load(handle)  # Numba's version tag, then the pickled (stamp, overloads)
                pickle.loads(handle.read())
        except Exception:  # noqa: BLE001 - any failure to read is what we are looking for
            broken.add(str(path.with_suffix("")))
    for path in cache.rglob("*.nbc"):
        try:
            pickle.loads(path.read_bytes())
        except Exception:  # noqa: BLE001
            broken.add(str(path.parent / path.name.rsplit(".", 2)[0]))
    return broken


def repair_cache(cache: Path) -> None:
    """Delete the corrupt entries of ``cache`` (all its contents if none is found) and say so in one line."""
    broken = corrupt_entries(cache) if cache.is_dir() else set()
    if broken:
        for stem in broken:
            for path in Path(stem).parent.glob(Path(stem).name + ".*"):
                if path.suffix in (".nbi", ".nbc"):
                    path.unlink(missing_ok=True)
    elif cache.is_dir():
        for path in cache.iterdir():
            if path.name == LOCK_NAME:
                continue
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
    sys.stderr.write(f"flowlaws: the Numba cache at {cache} was corrupt; rebuilt it\n")
    sys.stderr.flush()


def run_with_cache_repair(function, cache: Path | None = None):
    """``function()``; if it fails loading a corrupt Numba cache, repair the cache and call it once more.

    For commands that call kernels without ``warm_up`` (e.g. ``flowlaws flow``): wrap their work in it.
    """
    try:
        return function()
    except Exception as error:
        if not is_cache_corruption(error):
            raise
        if cache is None:
            from harness import environment

            cache = environment.numba_cache_dir()
        repair_cache(cache)
        return function()
