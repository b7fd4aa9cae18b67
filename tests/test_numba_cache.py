"""Faults of the on-disk Numba cache (harness/warmup.py): a corrupt file is rebuilt, cold starts share one lock.

Each test works on a copy of this process's (warm) cache folder, so nothing here compiles much: only the
corrupted kernels, which are small ones.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness import environment
from harness.kernels import warmup


def _warm_copy(tmp_path: Path) -> Path:
    source = environment.numba_cache_dir()
    if not any(source.rglob("*.nbi")):
        warmup.warm_up()  # a cold checkout: compile once into this process's cache
    copy = tmp_path / "numba-cache"
    shutil.copytree(source, copy, ignore=shutil.ignore_patterns(warmup.LOCK_NAME))
    return copy


def _flowlaws_warmup(cache: Path, cwd: Path, **kwargs):
    kwargs.setdefault("env", {**os.environ, "NUMBA_CACHE_DIR": str(cache)})
    return subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "warmup"],
        cwd=cwd,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        **kwargs,
    )


def _entry(cache: Path, function: str) -> str:
    """The current cache entry (``<dir>/<module>.<function>-<line>.pyXY``) of a kernel: its newest index.

    Older entries of the same function (an edit moved its line) stay in the folder, unused.
    """
    index = max(cache.rglob(f"{function}-*.nbi"), key=lambda path: path.stat().st_mtime)
    return str(index.with_suffix(""))


@pytest.mark.parametrize("damage", ["truncated index", "garbage data"])
def test_a_corrupt_cache_file_is_detected_rebuilt_and_said_once(tmp_path, damage):
    cache = _warm_copy(tmp_path)
    if damage == "truncated index":
        target = Path(_entry(cache, "losses.loss_rows") + ".nbi")
        target.write_bytes(target.read_bytes()[:10])
    else:
        target = Path(_entry(cache, "polynomial.phi_kernel") + ".1.nbc")
        target.write_bytes(b"\x80\x04not a pickle at all" * 7)
    broken = warmup.corrupt_entries(cache)
    assert len(broken) == 1 and Path(next(iter(broken))).name in target.name
    process = _flowlaws_warmup(cache, tmp_path)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stdout + stderr
    assert stderr.count(f"flowlaws: the Numba cache at {cache} was corrupt; rebuilt it") == 1, stderr
    assert "Traceback" not in stderr and "Numba kernels ready" in stdout
    assert warmup.corrupt_entries(cache) == set() and target.exists()  # recompiled and saved again
    again = _flowlaws_warmup(cache, tmp_path)
    stdout, stderr = again.communicate(timeout=120)
    assert again.returncode == 0 and "corrupt" not in stderr  # the repair lasts


def test_errors_from_numba_cache_loading_are_told_apart_from_others():
    import pickle

    from numba.core import caching

    try:
        caching.IndexDataCacheFile._load_index.__wrapped__  # noqa: B018 - the attribute does not exist
    except AttributeError as error:
        assert not warmup.is_cache_corruption(error)  # raised here, not inside Numba's loader
    try:
        pickle.loads(b"\x80\x04garbage")
    except pickle.UnpicklingError as error:
        assert not warmup.is_cache_corruption(error)
        wrapped = RuntimeError("while loading")
        wrapped.__cause__ = error
        assert not warmup.is_cache_corruption(wrapped)


def _blocked_on_flock(pid: int) -> bool:
    # /proc/locks shows a process waiting for a lock as "N: -> FLOCK  ADVISORY  WRITE <pid> ...".
    return any(
        line.split()[1] == "->" and line.split()[2] == "FLOCK" and line.split()[5] == str(pid)
        for line in Path("/proc/locks").read_text().splitlines()
        if len(line.split()) > 5
    )


def test_warm_ups_take_turns_on_the_cache_lock(tmp_path):
    cache = _warm_copy(tmp_path)
    with open(cache / warmup.LOCK_NAME, "a+") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)  # as if another process were compiling
        waiting = _flowlaws_warmup(cache, tmp_path)
        deadline = time.monotonic() + 60
        while not _blocked_on_flock(waiting.pid) and waiting.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert waiting.poll() is None and _blocked_on_flock(waiting.pid), "warm-up did not wait for the lock"
        fcntl.flock(held.fileno(), fcntl.LOCK_UN)
    stdout, stderr = waiting.communicate(timeout=120)
    assert waiting.returncode == 0, stdout + stderr


def test_two_cold_starts_at_once_compile_once(tmp_path):
    cache = _warm_copy(tmp_path)
    entry = Path(_entry(cache, "losses.loss_rows"))
    for path in entry.parent.glob(entry.name + ".*"):  # one kernel left to compile: both processes want it
        path.unlink()
    # NUMBA_DEBUG_CACHE makes Numba print "[cache] data saved to <file>" for each kernel it compiles and saves.
    processes = [
        _flowlaws_warmup(cache, tmp_path, env={**os.environ, "NUMBA_CACHE_DIR": str(cache), "NUMBA_DEBUG_CACHE": "1"})
        for _ in range(2)
    ]
    results = [process.communicate(timeout=120) for process in processes]
    assert [process.returncode for process in processes] == [0, 0], results
    saves = [
        line for stdout, _ in results for line in stdout.splitlines() if "data saved to" in line and entry.name in line
    ]
    assert len(saves) == 1, saves  # one compiled and saved; the other, after the lock, loaded it
    assert (cache / warmup.LOCK_NAME).exists()


def test_a_cache_written_for_other_kernel_sources_is_emptied_once(tmp_path):
    """Numba stamps only a cached function's own file; a changed callee in another kernel file empties the index."""
    cache = tmp_path / "cache"
    (cache / "sub").mkdir(parents=True)
    index, data = cache / "sub" / "k.nbi", cache / "sub" / "k.1.nbc"
    for path in (index, data):
        path.write_bytes(b"old")
    (cache / environment.KERNELS_STAMP).write_text("0000000000000000\n")
    environment.drop_stale_kernels(cache)
    assert not index.exists() and not data.exists()
    assert (cache / environment.KERNELS_STAMP).read_text().strip() == environment.kernels_digest()
    index.write_bytes(b"new")  # the same sources: the cache is kept
    environment.drop_stale_kernels(cache)
    assert index.read_bytes() == b"new"
