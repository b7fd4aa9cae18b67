"""``flowlaws flow``: integrate one gradient flow and report how far each known law drifted.

The data set is random (G-augmented when ``--group`` is given) and θ₀ is random, both drawn from ``--seed``
through ``harness.model.scenario.Scenario``; the report gives the status, L at the start and the end, the number of
right-hand-side evaluations and, per known law h, max_t |h(θ(t)) − h(θ₀)| relative to its scale.

A torch model (a zoo spec such as ``mlp:2,3,1``, or ``--module path.py:Class [--input-shape N,...]``, loaded by
``harness.model.torch_model.load_module``) is integrated by ``harness.dynamics.model_flow.integrate_model``
(SciPy's DOP853 or RK45 with the torch gradient: ``--method dop853``, the default for models, or ``dp5``), its
data set and θ₀ drawn from ``--seed`` in the same order as a scenario's, and its published laws reported alike.

A run that stops early (any status but ``ok``) is not judged: loss and drift are "n/a" (None in JSON), the
status and the time reached are printed, and the exit code is 1. Every option is checked before the data set
is built or the flow integrated (exit 2, one line).
"""

from __future__ import annotations

import argparse
import json
import os

import numpy as np

from harness.dynamics.flow import (
    DEFAULT_MAX_STEPS,
    MAX_STEPS_LIMIT,
    GradientFlow,
    LawDrift,
    Trajectory,
    integrate,
    law_drift,
    loss_values,
    method_record,
)
from harness.dynamics.model_flow import (
    DEFAULT_MODEL_MAX_STEPS,
    SCIPY_SOLVERS,
    ModelFlow,
    integrate_model,
    law_drift_of_model,
)
from harness.errors import InvalidInput
from harness.kernels.methods import METHODS
from harness.model.data import augment, check_data_size, random_dataset
from harness.model.family import FAMILIES
from harness.model.groups import build_group
from harness.model.losses import get_loss
from harness.model.scenario import Scenario
from harness.model.specs import parse_network, spec_family
from harness.model.zoo import ZOO, parse_model
from harness.options import integer_option, positive_number_option, seed_option

N_SAVE = 50  # saved times along the flow: drift is the maximum over them
DEFAULT_METHOD = "gauss"  # tensorizable flows: Gauss–Legendre keeps the quadratic laws exactly
DEFAULT_MODEL_METHOD = "dop853"  # torch models: SciPy's DOP853 (the compiled loop cannot call torch)
EXIT_INTEGRATION_FAILED = 1
MIN_RTOL = 1e-14  # below this float64 cannot deliver the tolerance (harness.dynamics.flow.integrate refuses it too)

EPILOG = f"""exit status:
  0  the flow reached --t (status ok); loss and law drift are reported
  {EXIT_INTEGRATION_FAILED}  the integration stopped early (status max_steps, blow_up, step_underflow or nonfinite):
     the status and the time reached are printed, loss and drift are n/a (null in --json), no plot is drawn
  2  bad input: one line 'flowlaws: error: ...', nothing integrated, no file written

limits: --steps <= --max-steps <= {MAX_STEPS_LIMIT:,}; --samples × group order × numbers per sample
<= 10,000,000 (harness.model.data.MAX_DATA_VALUES); a very large --t is not refused, it ends with an honest status."""


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "flow",
        help="integrate a gradient flow and report the drift of the known conservation laws",
        description=(__doc__ or "").splitlines()[0],
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--arch",
        default=None,
        metavar="SPEC",
        help="network spec, e.g. linear:3,2,2, deep-linear:2,3,2,1, poly:3,2,1,k=2, attention:n=3,d=2,dk=2,dv=2, "
        "or a zoo model, e.g. mlp:2,3,1 (see `flowlaws list`)",
    )
    parser.add_argument(
        "--module",
        default=None,
        metavar="PATH.py:CLASS",
        help="your own float64 torch.nn.Module, built as CLASS() from PATH.py (instead of --arch)",
    )
    parser.add_argument(
        "--input-shape",
        default=None,
        metavar="N,...",
        help="per-sample input shape of --module (default: the class's input_shape attribute)",
    )
    parser.add_argument("--loss", default="mse", metavar="NAME", help="loss name (default mse)")
    parser.add_argument(
        "--group",
        default=None,
        metavar="SPEC",
        help="augment the data set by this group, e.g. cyclic/trivial (leave out for free data)",
    )
    fixed = ", ".join(name for name, method in METHODS.items() if not method.adaptive)
    adaptive = ", ".join(name for name, method in METHODS.items() if method.adaptive)
    parser.add_argument(
        "--method",
        default=None,
        choices=list(METHODS),
        help=f"integrator (default gauss; {DEFAULT_MODEL_METHOD} for a torch model, which allows "
        f"{', '.join(SCIPY_SOLVERS)}): " + "; ".join(m.describe() for m in METHODS.values()),
    )
    parser.add_argument("--t", default="1", metavar="T", help="flow time, positive and finite (default 1)")
    parser.add_argument(
        "--steps", default="400", metavar="N", help=f"steps of the fixed-step methods ({fixed}; default 400)"
    )
    parser.add_argument(
        "--max-steps",
        default=None,
        metavar="N",
        help=f"attempted steps before giving up with status max_steps (default {DEFAULT_MAX_STEPS}; "
        f"{DEFAULT_MODEL_MAX_STEPS} for a torch model, whose gradient costs ~1 ms; at most {MAX_STEPS_LIMIT:,})",
    )
    parser.add_argument(
        "--rtol",
        default="1e-10",
        metavar="R",
        help=f"relative tolerance of the adaptive methods ({adaptive}), at least {MIN_RTOL:g} (default 1e-10)",
    )
    parser.add_argument(
        "--atol",
        default="1e-12",
        metavar="A",
        help=f"absolute tolerance of the adaptive methods ({adaptive}; default 1e-12)",
    )
    parser.add_argument(
        "--seed",
        default="0",
        metavar="S",
        help="seed of the data set and θ₀, an integer from 0 to 2**64 - 1 (default 0)",
    )
    parser.add_argument("--samples", default="8", metavar="N", help="samples before augmentation (default 8)")
    parser.add_argument("--backward", action="store_true", help="integrate backward in time")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--plot",
        default=None,
        metavar="FILE",
        help="draw loss and law drift over time into FILE (its extension picks the format: png, pdf, svg, ...)",
    )
    parser.set_defaults(handler=run)


def _options(args) -> dict:
    """Every numeric option, validated (InvalidInput naming the first bad one)."""
    max_steps = integer_option("--max-steps", args.max_steps, maximum=MAX_STEPS_LIMIT)
    steps = integer_option("--steps", args.steps, maximum=MAX_STEPS_LIMIT)
    if not method_record(args.method).adaptive and steps > max_steps:
        raise InvalidInput(
            f"--steps {steps} is more than --max-steps {max_steps}: a fixed-step run of {steps} steps "
            f"could never finish; allowed: --steps up to --max-steps (which may be raised to "
            f"{MAX_STEPS_LIMIT:,})"
        )
    rtol = positive_number_option("--rtol", args.rtol, what="tolerance", minimum=MIN_RTOL)
    return {
        "t": positive_number_option("--t", args.t, what="flow time"),
        "steps": steps,
        "max_steps": max_steps,
        "rtol": rtol,
        "atol": positive_number_option("--atol", args.atol, what="tolerance"),
        "seed": seed_option("--seed", args.seed),
        "samples": integer_option("--samples", args.samples),
    }


def _check_plot_path(path: str) -> None:
    """Refuse a plot file matplotlib cannot write, before integrating (nothing is created here)."""
    from matplotlib.figure import Figure

    formats = Figure().canvas.get_supported_filetypes()
    extension = os.path.splitext(path)[1].lstrip(".").lower()
    if extension not in formats:
        shown = f"extension {extension!r}" if extension else "no extension"
        raise InvalidInput(
            f"--plot {path!r} has {shown}; allowed: a file name ending in one of "
            f"{', '.join('.' + name for name in sorted(formats))}"
        )
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise InvalidInput(f"cannot write plot file {path!r}: folder {folder!r} does not exist")
    if not os.access(folder, os.W_OK) or os.path.isdir(path):
        raise InvalidInput(f"cannot write plot file {path!r}: not a writable file location")


def _torch_model(args):
    """The torch model named by ``--arch`` (a zoo spec) or ``--module``; None for a tensorizable ``--arch``."""
    if (args.arch is None) == (args.module is None):
        raise InvalidInput("give exactly one of --arch SPEC or --module PATH.py:CLASS")
    if args.module is None:
        if args.input_shape is not None:
            raise InvalidInput("--input-shape goes with --module PATH.py:CLASS, not with --arch")
        family = spec_family(args.arch)
        if family in ZOO:
            return parse_model(args.arch)
        if family is not None and family not in FAMILIES:
            parse_model(args.arch)  # unknown: parse_model's error lists the zoo and the families
        return None
    try:
        from harness.model.torch_model import load_module  # pyright: ignore[reportAttributeAccessIssue]
    except ImportError:
        raise InvalidInput("--module needs harness.model.torch_model.load_module, not in this version") from None
    return load_module(args.module, args.input_shape)


def run(args) -> int:
    model = _torch_model(args)
    if args.method is None:
        args.method = DEFAULT_METHOD if model is None else DEFAULT_MODEL_METHOD
    if args.max_steps is None:
        args.max_steps = str(DEFAULT_MAX_STEPS if model is None else DEFAULT_MODEL_MAX_STEPS)
    if model is not None and args.method not in SCIPY_SOLVERS:
        raise InvalidInput(
            f"--method {args.method} cannot integrate the torch model {model} (the compiled integrators cannot call "
            f"torch); allowed: {', '.join(SCIPY_SOLVERS)}"
        )
    options = _options(args)
    if args.group is not None and not args.group.strip():
        raise InvalidInput(
            "--group '' is empty; allowed: a group spec such as cyclic/trivial (see `flowlaws list`), "
            "or no --group at all for free data"
        )
    if args.plot is not None:
        _check_plot_path(args.plot)
    if model is not None:
        return _run_model(args, options, model)
    network = parse_network(args.arch)
    group = build_group(args.group, network) if args.group is not None else None
    check_data_size(network, options["samples"], group.order if group is not None else 1, name="--samples")
    scenario = Scenario(
        args.arch,
        args.loss,
        args.group,
        data="augmented" if args.group else "free",
        n_samples=options["samples"],
        seed=options["seed"],
    )
    built = scenario.build()
    flow = GradientFlow(built.network, built.loss, built.data)
    trajectory = integrate(
        flow,
        built.theta0,
        options["t"],
        args.method,
        rtol=options["rtol"],
        atol=options["atol"],
        steps=options["steps"],
        n_save=min(N_SAVE, options["max_steps"]),
        max_steps=options["max_steps"],
        direction=-1 if args.backward else 1,
    )
    losses = loss_values(flow, trajectory)  # NaN throughout for a failed run
    drift = law_drift(built.network, trajectory)  # not available for a failed run
    title = f"{scenario.network} · {scenario.loss} · {scenario.group or 'free data'} · {args.method}"
    return _report(
        args, scenario.to_dict(), str(scenario), built.network.n_params, built.data, trajectory, losses, drift, title
    )


def _run_model(args, options: dict, model) -> int:
    """A torch model's flow: data and θ₀ drawn from --seed as a scenario draws them, SciPy's integrator."""
    loss = get_loss(args.loss)
    group = build_group(args.group, model) if args.group is not None else None
    check_data_size(model, options["samples"], group.order if group is not None else 1, name="--samples")
    rng = np.random.default_rng(options["seed"])
    data = random_dataset(model, options["samples"], rng, loss=loss)  # type: ignore[arg-type]  (reads the shapes)
    if group is not None:
        data = augment(data, group)
    flow = ModelFlow(model, loss, data)
    theta0 = model.random_theta(rng)
    trajectory = integrate_model(
        flow,
        theta0,
        options["t"],
        method=args.method,
        rtol=options["rtol"],
        atol=options["atol"],
        n_save=min(N_SAVE, options["max_steps"]),
        max_steps=options["max_steps"],
        direction=-1 if args.backward else 1,
    )
    losses = (
        np.array([flow.loss_value(state) for state in trajectory.states])
        if trajectory.ok
        else np.full(len(trajectory.states), np.nan)
    )
    drift = law_drift_of_model(model, trajectory)
    record = {
        "network": str(model),
        "loss": loss.name,
        "group": None if group is None else str(group.spec),
        "data": "augmented" if group is not None else "free",
        "n_samples": options["samples"],
        "seed": options["seed"],
    }
    text = " | ".join(
        [
            str(model),
            record["group"] or "-",
            record["data"],
            loss.name,
            f"N={options['samples']}",
            f"seed={options['seed']}",
        ]
    )
    title = f"{model} · {loss.name} · {record['group'] or 'free data'} · {args.method}"
    return _report(args, record, text, model.n_params, data, trajectory, losses, drift, title)


def _report(
    args, record: dict, text: str, n_params: int, data, trajectory: Trajectory, losses, drift: LawDrift, title: str
) -> int:
    """Print (or --json) the run: status, loss and law drift; exit 1 for a failed run (then nothing is judged)."""
    ok = trajectory.ok
    report = {
        "scenario": record,
        "n_params": n_params,
        "n_samples": data.n_samples,
        **trajectory.summary(),
        "failure": trajectory.failure,
        "loss_start": float(losses[0]) if ok else None,
        "loss_end": float(losses[-1]) if ok else None,
        "largest_law_drift": drift.largest,
        "law_drift": drift.as_dict(),
        "seconds": round(trajectory.seconds, 6),
    }
    if args.plot and ok:
        _plot(args.plot, trajectory.times, losses, drift, title)
        report["plot"] = args.plot
    if args.json:
        print(json.dumps(report, indent=1, ensure_ascii=False))
    else:
        print(f"flow of {text}: {n_params} parameters, {data.n_samples} samples")
        print(
            f"  method {args.method}, status {trajectory.status}, t reached {trajectory.final_time:g} of "
            f"{trajectory.direction * trajectory.t_final:g}, {trajectory.n_rhs} gradient evaluations, "
            f"{trajectory.n_steps} steps ({trajectory.n_rejected} rejected)"
        )
        if not ok:
            print(f"  integration failed: {trajectory.failure}")
            print(
                "  loss n/a, law drift n/a: a run that stopped early is not judged"
                + (" (no plot written)" if args.plot else "")
            )
            return EXIT_INTEGRATION_FAILED
        print(f"  loss {losses[0]:.6g} -> {losses[-1]:.6g}")
        if drift.names:
            print(f"  largest relative drift of a known law: {drift.largest:.3e}")
        else:
            print("  no published conservation law for this model: nothing to drift")
        for name, value in drift.as_dict().items():
            print(f"    {name:<32} {value:.3e}")
        if args.plot:
            print(f"  plot written to {args.plot}")
    return 0 if ok else EXIT_INTEGRATION_FAILED


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
    except ValueError as error:  # a format matplotlib lists but cannot write here (e.g. a missing Pillow codec)
        raise InvalidInput(f"cannot write plot file {path!r}: {error}") from None
    finally:
        plt.close(figure)
