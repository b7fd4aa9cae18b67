"""flowlaws' engine: networks, groups, data, losses, integrators, counting, laws, verdicts, reports.

Importing ``harness`` pins numerical libraries to one thread (one per pytest-xdist worker) and points
Numba's on-disk cache at a project-local folder, unless the environment already says otherwise; both
must happen before numpy, torch or numba are first imported.
"""

import os
from pathlib import Path

for _variable in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")
os.environ.setdefault("NUMBA_CACHE_DIR", str(Path(__file__).resolve().parent.parent / ".numba_cache"))

__version__ = "0.1.0"
