"""``flowlaws flow``: integrate one gradient flow and report how far each known law drifted.

The data set is random (G-augmented when ``--group`` is given) and θ₀ is random, both drawn from ``--seed``
through ``harness.scenario.Scenario``; the report gives the status, L at the start and the end, the number of
right-hand-side evaluations and, per known law h, max_t |h(θ(t)) − h(θ₀)| relative to its scale.
"""

from __future__ import annotations

import json
import math

from harness.errors import InvalidInput
from harness.flow import METHODS, GradientFlow, integrate, law_drift, loss_values
from harness.scenario import Scenario

N_SAVE = 50  # saved times along the flow: drift is the maximum over them


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "flow",
        help="integrate a gradient flow and report the drift of the known conservation laws",
        description=__doc__.splitlines()[0],
    )
    parser.add_argument("--arch", required=True, metavar="SPEC",
                        help="network spec, e.g. linear:3,2,2, deep-linear:2,3,2,1, poly:3,2,1,k=2, "
                             "attention:n=3,d=2,dk=2,dv=2")
    parser.add_argument("--loss", default="mse", metavar="NAME", help="loss name (default mse)")
    parser.add_argument("--group", default=None, metavar="SPEC",
                        help="augment the data set by this group, e.g. cyclic/trivial")
    parser.add_argument("--method", default="gauss", choices=METHODS, help="integrator (default gauss)")
    parser.add_argument("--t", type=float, default=1.0, metavar="T", help="flow time (default 1)")
    parser.add_argument("--steps", type=int, default=400, help="steps of rk4 and gauss (default 400)")
    parser.add_argument("--rtol", type=float, default=1e-10, help="relative tolerance of dp5 (default 1e-10)")
    parser.add_argument("--atol", type=float, default=1e-12, help="absolute tolerance of dp5 (default 1e-12)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the data set and θ₀ (default 0)")
    parser.add_argument("--samples", type=int, default=8, metavar="N", help="samples before augmentation (default 8)")
    parser.add_argument("--backward", action="store_true", help="integrate backward in time")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--plot", default=None, metavar="FILE", help="draw loss and law drift over time into FILE")
    parser.set_defaults(handler=run)


def run(args) -> int:
    if not math.isfinite(args.t) or args.t <= 0:
        raise InvalidInput(f"--t {args.t!r} must be a positive finite flow time")
    if args.samples < 1:
        raise InvalidInput(f"--samples {args.samples!r} must be a positive integer")
    scenario = Scenario(args.arch, args.loss, args.group, data="augmented" if args.group else "free",
                        n_samples=args.samples, seed=args.seed)
    built = scenario.build()
    flow = GradientFlow(built.network, built.loss, built.data)
    trajectory = integrate(flow, built.theta0, args.t, args.method, rtol=args.rtol, atol=args.atol,
                           steps=args.steps, n_save=N_SAVE, direction=-1 if args.backward else 1)
    losses = loss_values(flow, trajectory)
    drift = law_drift(built.network, trajectory)
    report = {
        "scenario": scenario.to_dict(),
        "n_params": built.network.n_params,
        "n_samples": built.data.n_samples,
        **trajectory.summary(),
        "loss_start": float(losses[0]),
        "loss_end": float(losses[-1]),
        "largest_law_drift": drift.largest,
        "law_drift": drift.as_dict(),
        "seconds": round(trajectory.seconds, 6),
    }
    if args.plot:
        _plot(args.plot, trajectory.times, losses, drift, f"{scenario.network} · {scenario.loss} · "
                                                            f"{scenario.group or 'free data'} · {args.method}")
        report["plot"] = args.plot
    if args.json:
        print(json.dumps(report, indent=1, ensure_ascii=False))
    else:
        print(f"flow of {scenario}: {built.network.n_params} parameters, {built.data.n_samples} samples")
        print(f"  method {args.method}, status {trajectory.status}, t reached {trajectory.final_time:g} of "
              f"{trajectory.direction * trajectory.t_final:g}, {trajectory.n_rhs} gradient evaluations, "
              f"{trajectory.n_steps} steps ({trajectory.n_rejected} rejected)")
        print(f"  loss {losses[0]:.6g} -> {losses[-1]:.6g}")
        print(f"  largest relative drift of a known law: {drift.largest:.3e}")
        for name, value in drift.as_dict().items():
            print(f"    {name:<32} {value:.3e}")
        if args.plot:
            print(f"  plot written to {args.plot}")
    return 0


def _plot(path: str, times, losses, drift, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    figure, (loss_axis, drift_axis) = plt.subplots(2, 1, figsize=(7, 6), sharex=True)
    loss_axis.plot(times, losses, color="black")
    loss_axis.set_ylabel("loss L(θ(t))")
    loss_axis.set_title(title, fontsize=9)
    floor = 1e-18  # a drift of exactly 0 cannot sit on a log axis
    for name, column in zip(drift.names, drift.history.T):
        drift_axis.semilogy(times, np.maximum(column, floor), label=name, linewidth=1)
    drift_axis.set_ylabel("|h(t) − h(0)| / scale")
    drift_axis.set_xlabel("flow time t")
    if len(drift.names) <= 10:
        drift_axis.legend(fontsize=7)
    figure.tight_layout()
    try:
        figure.savefig(path)
    except OSError as error:
        raise InvalidInput(f"cannot write plot file {path!r}: {error.strerror}") from None
    finally:
        plt.close(figure)
