"""Where flowlaws keeps its files, and the one explicit step that configures the process.

Nothing here runs at import. ``configure()`` is called by the CLI (before any command imports numpy,
numba or torch) and by the pytest plugin; a notebook user may call it too. It pins numerical libraries to
one thread (one per pytest-xdist worker) and points Numba's on-disk cache at the project folder, unless the
environment already says otherwise. Both must happen before numba (and torch) are first imported, which is
why it is a separate, dependency-free module.

Every path comes from the working directory or the environment, never from ``__file__``: in a
non-editable install ``__file__`` lies in site-packages.

- project folder: ``FLOWLAWS_HOME``, else the current working directory;
- Numba cache: ``NUMBA_CACHE_DIR``, else ``<project>/.numba_cache``;
- example database: ``FLOWLAWS_EXAMPLE_DB``, else ``<project>/.hypothesis/examples``;
- reports: ``FLOWLAWS_REPORT_DIR``, else ``<project>/reports``.
"""

from __future__ import annotations

import hashlib
import os
from importlib import resources
from pathlib import Path

THREAD_VARIABLES = ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def project_dir() -> Path:
    """The folder flowlaws works in: ``FLOWLAWS_HOME`` or the current working directory."""
    return Path(os.environ.get("FLOWLAWS_HOME") or os.getcwd()).absolute()


def numba_cache_dir() -> Path:
    return Path(os.environ.get("NUMBA_CACHE_DIR") or project_dir() / ".numba_cache")


def example_database_dir() -> Path:
    return Path(os.environ.get("FLOWLAWS_EXAMPLE_DB") or project_dir() / ".hypothesis" / "examples")


def report_dir() -> Path:
    return Path(os.environ.get("FLOWLAWS_REPORT_DIR") or project_dir() / "reports")


def configure(project: str | os.PathLike | None = None) -> None:
    """Pin threads to one and fix the Numba cache folder (idempotent; explicit settings win).

    ``project`` is the folder whose ``.numba_cache`` to use when NUMBA_CACHE_DIR is unset (default:
    ``project_dir()``); the repository's root conftest passes its own folder, so that pytest started from a
    subfolder still shares one cache. Must run before numba is imported: Numba reads NUMBA_CACHE_DIR and
    NUMBA_NUM_THREADS once, at import.
    """
    for variable in THREAD_VARIABLES:
        os.environ.setdefault(variable, "1")
    if not os.environ.get("NUMBA_CACHE_DIR"):
        cache = numba_cache_dir() if project is None else Path(project) / ".numba_cache"
        os.environ["NUMBA_CACHE_DIR"] = str(cache.absolute())
    drop_stale_kernels(numba_cache_dir())


KERNELS_STAMP = "kernels.digest"


def kernels_digest() -> str:
    """A digest of the compiled layer's sources (``harness/kernels/**/*.py``, as installed)."""
    digest = hashlib.sha256()
    pending = [("", resources.files("harness") / "kernels")]
    while pending:
        prefix, folder = pending.pop()
        for entry in sorted(folder.iterdir(), key=lambda item: item.name):
            if entry.is_dir() and entry.name != "__pycache__":
                pending.append((f"{prefix}{entry.name}/", entry))
            elif entry.name.endswith(".py"):
                digest.update(f"{prefix}{entry.name}".encode() + b"\0" + entry.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def kernels_cached(cache: Path | None = None) -> bool:
    """Whether compiled kernels for these sources are on disk (else the first use compiles them, ~a minute)."""
    cache = numba_cache_dir() if cache is None else cache
    try:
        current = (cache / KERNELS_STAMP).read_text().strip() == kernels_digest()
    except OSError:
        return False
    return current and any(cache.rglob("*.nbi"))


def drop_stale_kernels(cache: Path) -> None:
    """Empty Numba's cache index if the kernels' sources changed since it was written.

    Numba checks only the stamp of the file that defines a cached function, so a kernel that inlines or calls
    one from another file (the right-hand side calls ``harness/kernels/families/*``) would otherwise keep the
    old callee's code after an edit or an upgrade. ``<cache>/kernels.digest`` records the sources' digest;
    on a mismatch the ``*.nbi``/``*.nbc`` files are removed (they are rebuilt on first use). A cache folder we
    cannot write is left alone.
    """
    current = kernels_digest()
    stamp = cache / KERNELS_STAMP
    try:
        if stamp.read_text().strip() == current:
            return
    except OSError:
        pass
    try:
        for pattern in ("*.nbi", "*.nbc"):
            for entry in cache.rglob(pattern):
                entry.unlink(missing_ok=True)
        cache.mkdir(parents=True, exist_ok=True)
        stamp.write_text(current + "\n")
    except OSError:
        return
