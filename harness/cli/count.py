"""``flowlaws count``: how many independent conservation laws, with the evidence (``harness.laws.counting``).

``--arch`` names a tensorizable network or a zoo model (``mlp:2,3,1``: counted by the autodiff engine under
``--method auto``); ``--module path.py:Class [--input-shape N,...]`` counts a researcher's own
``torch.nn.Module`` (``harness.model.torch_model.load_module``), always by the autodiff engine.
"""

from __future__ import annotations

import json

from harness import environment
from harness.cli.progress import HARD_STOP_GRACE, HardStop, StatusLine, hard_stop
from harness.errors import InvalidInput
from harness.laws.counting import MAX_DEPTH_LIMIT, METHODS, count_laws
from harness.model.data import DATA_CLASSES, check_data_class
from harness.model.losses import LOSSES
from harness.options import integer_option, positive_number_option, seed_option


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "count",
        help="count the conservation laws of a network for a data class and a loss",
        description="Count independent conservation laws: D − dim Lie(F) at a generic point, with the Lie rank "
        "at each bracket level, the free-data count beside it, and whether the count is certified.",
    )
    parser.add_argument(
        "--arch",
        default=None,
        help="network or zoo model spec, e.g. linear:3,1,1, attention:n=2,d=2,dk=1,dv=1 or mlp:2,3,1 (see `flowlaws list`)",
    )
    parser.add_argument(
        "--module",
        default=None,
        metavar="PATH.py:CLASS",
        help="count your own float64 torch.nn.Module: the file, a colon, the class (built with no arguments)",
    )
    parser.add_argument(
        "--input-shape",
        default=None,
        metavar="N,...",
        help="per-sample input shape of --module (default: the class's input_shape attribute)",
    )
    parser.add_argument("--group", default=None, help="group spec, e.g. cyclic/trivial, flip/sign, rot:4/same")
    parser.add_argument(
        "--data",
        default=None,
        help=f"data class: {' | '.join(DATA_CLASSES)} (default: augmented with --group, else free)",
    )
    parser.add_argument("--loss", required=True, help=f"loss: {', '.join(LOSSES)}")
    parser.add_argument(
        "--method",
        default="auto",
        help=f"engine: {' | '.join(METHODS)} (default auto: exact for signed permutations, float SVD for "
        "rotations, autodiff for zoo models and --module)",
    )
    parser.add_argument("--laws", action="store_true", help="search and print explicit laws (exact groups only)")
    parser.add_argument("--latex", action="store_true", help="print the laws as LaTeX")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--seed",
        default="0",
        metavar="S",
        help="seed of the random points and samples, an integer from 0 to 2**64 - 1 (default 0)",
    )
    parser.add_argument(
        "--max-depth",
        default="8",
        metavar="N",
        help=f"deepest bracket level before giving up, 1 to {MAX_DEPTH_LIMIT} (default 8)",
    )
    parser.add_argument(
        "--timeout",
        default=None,
        metavar="S",
        help="seconds allowed; past them the count ends inconclusive (stop: timeout) with the ranks reached",
    )
    parser.set_defaults(handler=run)


def run(args) -> int:
    seed = seed_option("--seed", args.seed)
    max_depth = integer_option("--max-depth", args.max_depth, maximum=MAX_DEPTH_LIMIT)
    if args.group is not None and not args.group.strip():
        raise InvalidInput(
            "--group '' is empty; allowed: a group spec such as cyclic/trivial (see `flowlaws list`), "
            "or no --group at all for free data"
        )
    data = args.data or ("augmented" if args.group else "free")
    check_data_class(data, "--data")
    if args.method not in METHODS:
        raise InvalidInput(f"--method {args.method!r} is not one of {', '.join(METHODS)}")
    timeout = positive_number_option("--timeout", args.timeout, what="number of seconds") if args.timeout else None
    model, method = _model(args)
    status = StatusLine(enabled=not args.json)
    if not environment.kernels_cached():
        status.note("compiling the Numba kernels (first run only: about a minute)")
    try:
        with hard_stop(None if timeout is None else timeout + HARD_STOP_GRACE):
            result = count_laws(
                model,
                data,
                args.loss,
                args.group,
                seed=seed,
                max_depth=max_depth,
                find_explicit=True if args.laws else None,
                method=method,
                timeout=timeout,
                progress=status.progress,
            )
    except HardStop:
        status.close()
        raise InvalidInput(
            f"count stopped: one step ran past --timeout {timeout:g} s by more than {HARD_STOP_GRACE:g} s (no "
            "ranks to report); inconclusive: use a smaller network or more time"
        ) from None
    status.close()
    if args.json:
        record = result.to_dict()
        record["explicit_laws_missing"] = _missing(result)
        print(json.dumps(record, allow_nan=False))
        return 0
    print(render(result, laws=args.laws or args.latex, latex=args.latex))
    return 0


def _missing(result) -> int | None:
    """Laws counted but not written out (None when the count is inconclusive)."""
    return None if result.laws is None else max(result.laws - len(result.explicit_laws), 0)


def _model(args):
    """The counted model and method: ``--arch`` as given, or ``--module`` loaded (autodiff only)."""
    if (args.arch is None) == (args.module is None):
        raise InvalidInput("give exactly one of --arch SPEC or --module PATH.py:CLASS")
    if args.module is None:
        if args.input_shape is not None:
            raise InvalidInput("--input-shape goes with --module PATH.py:CLASS, not with --arch")
        return args.arch, args.method
    if args.method not in ("auto", "autodiff"):
        raise InvalidInput(f"--module is counted by the autodiff engine; --method {args.method} needs --arch")
    shape = _input_shape(args.input_shape)
    try:
        from harness.model.torch_model import load_module  # pyright: ignore[reportAttributeAccessIssue]
    except ImportError:
        raise InvalidInput("--module needs harness.model.torch_model.load_module, not in this version") from None
    return load_module(args.module, shape), "autodiff"


def _input_shape(text: str | None) -> tuple[int, ...] | None:
    """``--input-shape 4`` or ``2,3`` as a tuple of positive integers."""
    if text is None:
        return None
    items = text.replace(" ", "").split(",")
    if not all(item.isdigit() and item.isascii() and int(item) >= 1 for item in items):
        raise InvalidInput(f"--input-shape {text!r} must be positive integers separated by commas, e.g. 3 or 2,3")
    return tuple(int(item) for item in items)


def render(result, *, laws: bool = False, latex: bool = False) -> str:
    """The short human table, and the laws when asked."""

    def show(value):
        return "inconclusive" if value is None else str(value)

    rows = [
        ("network", result.arch),
        ("group", result.group or "-"),
        ("data / loss", f"{result.data} / {result.loss}"),
        ("D (parameters)", str(result.D)),
        ("laws", show(result.laws)),
        ("free-data laws", show(result.free_laws)),
        ("extra laws", show(result.extra_laws)),
        ("Lie rank by level", " → ".join(map(str, result.lie_rank_by_level)) or "-"),
        (
            "certified",
            f"{'yes' if result.certified else 'no'}" + (f" ({result.certificate.value})" if result.certificate else ""),
        ),
        ("method", f"{result.method.value} (stop: {result.stop_reason.value})"),
        ("verified laws", str(result.verified_laws)),
        ("time", f"{result.seconds:.2f} s"),
    ]
    if result.gap is not None:
        shown = ", ".join(f"{v:.3g}" for v in result.singular_values)
        rows.append(("singular values", shown or "-"))
        ratio = "none (rank 0 or full)" if result.gap.ratio is None else f"{result.gap.ratio:.3g}"
        rows.append(
            (
                "spectral gap",
                f"σ_{result.gap.index}/σ_{result.gap.index + 1} = {ratio} (threshold {result.gap.threshold:g})",
            )
        )
    width = max(len(name) for name, _ in rows)
    lines = [f"{name:<{width}}  {value}" for name, value in rows]
    for note in result.notes:
        lines.append(f"note: {note}")
    if laws:
        texts = result.explicit_laws_latex if latex else result.explicit_laws
        lines.append(
            f"explicit laws ({len(texts)} verified; a functionally independent set, not a basis of every law):"
        )
        lines += [f"  {text}" for text in texts]
        missing = _missing(result)
        if missing:
            lines.append(
                f"missing: {missing} of the {result.laws} counted laws are not written out: they lie outside the "
                "search (polynomials up to degree 2, ratios of degree-1 polynomials, and the published laws)"
            )
    return "\n".join(lines)
