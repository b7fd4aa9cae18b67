"""The flowlaws pytest plugin (loaded from the root conftest): profiles, seeds, threads, Numba warm-up, reports.

Options live under ``--flowlaws-*``. Hypothesis's own ``--hypothesis-profile`` also works; without either,
the ``ci`` profile (or FLOWLAWS_PROFILE) is loaded explicitly, so a CI variable never switches profiles
silently.

Hooks are gathered here; what they do lives beside it, one concept per module:
``harness.testing.seeding`` (which seed a run uses and how each test's draws follow from it),
``harness.testing.stopping`` (the stop file of ``flowlaws run``, the time budget, the parent-death watchdog)
and ``harness.testing.campaign`` (each test's summary, and the controller's ``CampaignReport`` that writes
the run folder). Profiles are ``harness.testing.profiles``.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import time
from pathlib import Path

import pytest

import harness.environment

# Before anything below imports numpy, numba or torch (they read their thread and cache settings once).
harness.environment.configure()

from harness.reporting.runs import Seeding  # noqa: E402
from harness.testing.campaign import SUMMARY_KEY, CampaignReport, summary_of_test  # noqa: E402
from harness.testing.profiles import (  # noqa: E402  (after configure(), on purpose)
    PROFILE_EXAMPLES,
    database_problem,
    example_database_path,
    is_explorer,
    load_profile,
    register_profiles,
)
from harness.testing.seeding import (  # noqa: E402
    check_seed_reached,
    choose_seed,
    hypothesis_seed,
    per_test_seed,
    pin_local_constants,
    seed_hypothesis,
)
from harness.testing.stopping import bounded_call, start_parent_watchdog  # noqa: E402

register_profiles()

_STATE_KEY = pytest.StashKey[dict]()


def _seed_option(text: str) -> int:
    """--flowlaws-seed S: the same rule as every seed flowlaws takes (0 <= S < 2**64)."""
    from harness.errors import InvalidInput
    from harness.options import seed_option

    try:
        return seed_option("--flowlaws-seed", text)
    except InvalidInput as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def pytest_addoption(parser):
    group = parser.getgroup("flowlaws")
    group.addoption(
        "--flowlaws-profile",
        choices=sorted(PROFILE_EXAMPLES),
        default=None,
        help="Hypothesis profile for flowlaws properties (default: FLOWLAWS_PROFILE or ci, the derandomized gate)",
    )
    group.addoption(
        "--flowlaws-seed",
        type=_seed_option,
        default=None,
        metavar="S",
        help="explorer profiles (quick, thorough): make every test's draws a function of S and its node id, "
        "keeping the example database (--hypothesis-seed disables it); default: a fresh seed, "
        "recorded in the report",
    )
    group.addoption(
        "--flowlaws-no-warmup", action="store_true", help="skip compiling the Numba kernels before workers start"
    )
    group.addoption(
        "--flowlaws-report-dir",
        default=None,
        help="where run reports go (default: FLOWLAWS_REPORT_DIR or <rootdir>/reports)",
    )
    group.addoption(
        "--flowlaws-run-id",
        default=None,
        help="name of this run's report folder (default: <profile>-seed<S> with a given seed, "
        "else a UTC timestamp); an existing folder is never replaced, a suffix is added",
    )
    group.addoption("--flowlaws-no-report", action="store_true", help="write no report")
    group.addoption(
        "--flowlaws-max-examples",
        type=int,
        default=None,
        metavar="N",
        help="examples per property test, overriding the profile's max_examples",
    )
    group.addoption("--flowlaws-no-plots", action="store_true", help="write reports without figures")
    group.addoption(
        "--flowlaws-time-budget",
        type=float,
        default=None,
        metavar="SECONDS",
        help="stop starting new examples after this many seconds (a found violation is still shrunk)",
    )
    # For ``flowlaws run``: where the controller writes the run's totals and report folder as JSON.
    group.addoption("--flowlaws-summary-file", default=None, help=argparse.SUPPRESS)


def _is_xdist_worker(config) -> bool:
    return hasattr(config, "workerinput")


def _report_dir(config) -> Path:
    chosen = config.getoption("--flowlaws-report-dir") or os.environ.get("FLOWLAWS_REPORT_DIR")
    return Path(chosen) if chosen else Path(config.rootpath) / "reports"


def _run_id(config, profile: str, seed, seed_given: bool) -> str:
    chosen = config.getoption("--flowlaws-run-id")
    if chosen:
        return chosen
    if seed is not None and seed_given:
        return f"{profile}-seed{seed}"
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + f"-{secrets.token_hex(2)}"


def _pin_torch_threads() -> None:
    """One torch thread per process, without paying torch's import in runs that never use it.

    ``harness.environment.configure()`` already set OMP_NUM_THREADS=1, which torch reads when it is first
    imported; a torch imported before that is pinned explicitly here and after collection.
    """
    torch = sys.modules.get("torch")
    if torch is not None and torch.get_num_threads() != 1:
        torch.set_num_threads(1)


def pytest_collection_finish(session):
    _pin_torch_threads()


def _load_profile(config, database_path: Path) -> str:
    from hypothesis import settings

    explicit = config.getoption("--hypothesis-profile", default=None)
    if explicit and explicit not in PROFILE_EXAMPLES:
        return explicit  # someone's own profile, loaded by Hypothesis's plugin as given
    profile = load_profile(explicit or config.getoption("--flowlaws-profile"), database_path)
    examples = config.getoption("--flowlaws-max-examples")
    if examples is not None:
        if examples < 1:
            raise pytest.UsageError(f"flowlaws: --flowlaws-max-examples={examples} must be a positive integer")
        settings.register_profile(f"{profile}-x{examples}", parent=settings.get_profile(profile), max_examples=examples)
        settings.load_profile(f"{profile}-x{examples}")
    return profile


MARKERS = (
    "property: a theorem-level property checked under Hypothesis",
    "slow: long-running checks (thorough campaigns)",
)


def pytest_configure(config):
    from hypothesis import settings

    # Registered here, not only in pyproject.toml: an installed copy runs properties outside the repository.
    for marker in MARKERS:
        config.addinivalue_line("markers", marker)

    worker = getattr(config, "workerinput", None)
    # Workers (possibly on other hosts, where the controller's environment does not reach) use the
    # controller's database folder and seed.
    database_path = (
        Path(worker["flowlaws_example_db"]) if worker and "flowlaws_example_db" in worker else example_database_path()
    )
    profile = _load_profile(config, database_path)
    pin_local_constants()
    _pin_torch_threads()
    forced = hypothesis_seed(config.getoption("--hypothesis-seed", default=None))
    given = config.getoption("--flowlaws-seed")
    seed, seeding = choose_seed(
        profile,
        forced=forced,
        given=given,
        explorer=is_explorer(),
        derandomized=bool(settings().derandomize),
        worker_seed=worker.get("flowlaws_seed") if worker else None,
    )
    state = {
        "profile": profile,
        "seed": seed,
        "seeding": seeding,
        "database": database_path if settings().database is not None else None,
        "started": time.time(),
        "deadline": None,
        # ``flowlaws run`` creates this file on the first Ctrl-C: finish the examples under way, start no more.
        "stop_file": os.environ.get("FLOWLAWS_STOP_FILE") or None,
    }
    budget = config.getoption("--flowlaws-time-budget")
    if budget is not None:
        state["deadline"] = time.monotonic() + budget
    config.stash[_STATE_KEY] = state
    if not _is_xdist_worker(config):
        start_parent_watchdog()
        if state["database"] is not None:
            problem = database_problem(settings().database)
            if problem:  # once, in the controller; Hypothesis itself would stay silent
                sys.stderr.write(f"flowlaws: warning: {problem}\n")
                sys.stderr.flush()
        if not config.getoption("--flowlaws-no-report"):
            from harness.errors import InvalidInput
            from harness.reporting.folders import check_writable
            from harness.reporting.runs import RunCollector

            try:
                state["report_dir"] = check_writable(_report_dir(config))
            except InvalidInput as error:
                raise pytest.UsageError(f"flowlaws: {error}") from None
            state["run_id"] = _run_id(config, profile, seed, given is not None or forced is not None)
            config.pluginmanager.register(CampaignReport(config, RunCollector(), state), "flowlaws-campaign-report")
        if not config.getoption("--flowlaws-no-warmup"):
            # Compile (or load from the on-disk cache) every kernel once in the controller, so that xdist
            # workers only ever load cached machine code.
            from harness.kernels import warmup

            warmup.warm_up()
    os.environ.setdefault("FLOWLAWS_PYTEST", "1")


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    """xdist controller: hand each worker the run's seed and database folder (ssh workers lack our env)."""
    state = node.config.stash[_STATE_KEY]
    if state["seeding"] == Seeding.FLOWLAWS_SEED:
        node.workerinput["flowlaws_seed"] = state["seed"]
    node.workerinput["flowlaws_example_db"] = str(
        example_database_path() if state["database"] is None else state["database"]
    )


def pytest_report_header(config):
    state = config.stash[_STATE_KEY]
    seed = {
        Seeding.FLOWLAWS_SEED: f"seed {state['seed']} (--flowlaws-seed={state['seed']} reproduces the draws)",
        Seeding.HYPOTHESIS_SEED: f"--hypothesis-seed={state['seed']} (the example database is bypassed)",
        Seeding.DERANDOMIZED: "derandomized (the gate: same examples every run, no example database)",
    }
    database = f"example database {state['database']}" if state["database"] is not None else "no example database"
    return [f"flowlaws: profile {state['profile']}, {seed.get(state['seeding'], 'no seed')}, {database}"]


@pytest.fixture(scope="session")
def flowlaws_profile() -> str | None:
    """Name of the Hypothesis profile in force."""
    from hypothesis import settings

    return settings._current_profile  # Hypothesis exposes no public getter


# ---- per test: verdict records → summary in user_properties ------------------------------------------


def pytest_runtest_setup(item):
    from harness.verdicts.property import RECORDER

    RECORDER.take()  # nothing left over from a previous test may be attributed to this one
    RECORDER.current_test = item.nodeid


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    state = item.config.stash[_STATE_KEY]
    handle = getattr(getattr(item, "obj", None), "hypothesis", None)
    if handle is not None and state["seeding"] == Seeding.FLOWLAWS_SEED:
        expected = seed_hypothesis(per_test_seed(state["seed"], item.nodeid))
        try:
            return (yield from bounded_call(handle, state))
        finally:
            check_seed_reached(item, expected)
    return (yield from bounded_call(handle, state))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if call.when != "call":
        return report
    summary = summary_of_test(item, call, report)
    if summary is not None:
        report.user_properties.append((SUMMARY_KEY, summary))
    return report
