"""Root conftest: configures the process and loads the flowlaws pytest plugin for every test and property.

``configure`` must run before numba is imported (threads, Numba cache). This file is the repository's root,
so its folder is the project whose ``.numba_cache`` pytest uses, from whichever subfolder it is started.
"""

from pathlib import Path

from harness import environment

environment.configure(project=Path(__file__).parent)

pytest_plugins = ["harness.testing.plugin"]
