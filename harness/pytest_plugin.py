"""The flowlaws pytest plugin (loaded from the root conftest): profiles, threads, Numba warm-up.

Options live under ``--flowlaws-*``. Hypothesis's own ``--hypothesis-profile`` also works; without either,
the ``ci`` profile (or FLOWLAWS_PROFILE) is loaded explicitly.
"""

from __future__ import annotations

import os

import pytest

from harness.profiles import PROFILE_EXAMPLES, load_profile, register_profiles

register_profiles()


def pytest_addoption(parser):
    group = parser.getgroup("flowlaws")
    group.addoption(
        "--flowlaws-profile",
        choices=sorted(PROFILE_EXAMPLES),
        default=None,
        help="Hypothesis profile for flowlaws properties (default: FLOWLAWS_PROFILE or ci)",
    )
    group.addoption(
        "--flowlaws-no-warmup", action="store_true", help="skip compiling the Numba kernels before workers start"
    )


def _is_xdist_worker(config) -> bool:
    return hasattr(config, "workerinput")


def pytest_configure(config):
    explicit = config.getoption("--hypothesis-profile", default=None)
    if not explicit:
        load_profile(config.getoption("--flowlaws-profile"))
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    if not _is_xdist_worker(config) and not config.getoption("--flowlaws-no-warmup"):
        # Compile (or load from the on-disk cache) every kernel once in the controller, so that xdist
        # workers only ever load cached machine code.
        from harness import warmup

        warmup.warm_up()
    os.environ.setdefault("FLOWLAWS_PYTEST", "1")


@pytest.fixture(scope="session")
def flowlaws_profile() -> str:
    """Name of the Hypothesis profile in force."""
    from hypothesis import settings

    return settings._current_profile  # noqa: SLF001 - Hypothesis exposes no public getter
