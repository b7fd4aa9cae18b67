"""Root conftest: loads the flowlaws pytest plugin for every test and property in this repository."""

import harness  # noqa: F401  (pins threads and the Numba cache before numpy/numba load)

pytest_plugins = ["harness.pytest_plugin"]
