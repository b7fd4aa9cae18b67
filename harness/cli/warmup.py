"""``flowlaws warmup``: compile every Numba kernel once (or load it from the on-disk cache).

A corrupt cache file is rebuilt with a one-line notice; concurrent warm-ups take turns on ``<cache>/.lock``
(see ``harness.kernels.warmup``).
"""

from __future__ import annotations


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "warmup", help="compile or load all Numba kernels and print the seconds", description=__doc__
    )
    parser.set_defaults(handler=run)


def run(args) -> int:
    from harness import environment
    from harness.kernels.warmup import warm_up

    seconds = warm_up()
    print(f"Numba kernels ready in {seconds:.2f} s (cache {environment.numba_cache_dir()})")
    return 0
