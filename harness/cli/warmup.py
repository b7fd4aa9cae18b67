"""``flowlaws warmup [--json]``: compile every Numba kernel once (or load it from the on-disk cache).

A corrupt cache file is rebuilt with a one-line notice; concurrent warm-ups take turns on ``<cache>/.lock``
(see ``harness.kernels.warmup``). It also loads or measures this machine's loops/BLAS threshold of the dense
kernels (``harness.kernels.calibration``); ``--json`` prints the seconds, the cache and that calibration.
"""

from __future__ import annotations

import json


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "warmup", help="compile or load all Numba kernels and print the seconds", description=__doc__
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object (with the BLAS calibration)")
    parser.set_defaults(handler=run)


def run(args) -> int:
    from harness import environment
    from harness.kernels import calibration
    from harness.kernels.warmup import warm_up

    seconds = warm_up()
    mode = calibration.mode()
    record = calibration.calibration() if mode == "auto" else None
    if getattr(args, "json", False):
        blas = {"mode": mode, "measure": calibration.MEASURE, "file": str(calibration.path())}
        if record is not None:
            blas |= {key: record[key] for key in ("threshold", "machine", "microseconds")}
        report = {"seconds": round(seconds, 3), "cache": str(environment.numba_cache_dir()), "blas": blas}
        print(json.dumps(report, indent=1, ensure_ascii=False))
        return 0
    print(f"Numba kernels ready in {seconds:.2f} s (cache {environment.numba_cache_dir()})")
    if record is not None:
        threshold = "none (loops everywhere)" if record["threshold"] is None else f"{record['threshold']:g}"
        print(f"dense kernels: BLAS from size {calibration.MEASURE} >= {threshold} ({calibration.path()})")
    else:
        print(f"dense kernels: {calibration.ENVIRONMENT_VARIABLE}={mode} ({'BLAS' if mode == '1' else 'loops'})")
    return 0
