"""flowlaws' engine: networks, groups, data, losses, integrators, counting, laws, verdicts, reports.

Importing ``harness`` has no side effects. The process-wide set-up (one thread per process, the Numba
cache folder) is the explicit step ``harness.environment.configure()``, which the ``flowlaws`` command and
the pytest plugin call before numpy, numba or torch are imported; call it first in a script or notebook.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("flowlaws")  # the one version source: pyproject.toml, through the installed metadata
except PackageNotFoundError:  # a source tree on sys.path that was never installed
    __version__ = "0+unknown"
