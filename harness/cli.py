"""The ``flowlaws`` command line: a thin dispatcher over ``harness.commands.<name>``.

Exit codes: 0 success, 1 a violated property (campaigns), 2 bad usage or bad input (one clear message).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from harness.commands import COMMANDS
from harness.errors import InvalidInput


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse's own usage errors: exit 2 with one line
        self.print_usage(sys.stderr)
        self.exit(2, f"flowlaws: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="flowlaws",
        description="Property-based testing of conservation laws of gradient-flow training under data symmetry.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"harness.commands.{name}")
        except ModuleNotFoundError as error:
            if error.name != f"harness.commands.{name}":
                raise
            continue
        module.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        return int(args.handler(args) or 0)
    except InvalidInput as error:
        print(f"flowlaws: error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # Output piped into e.g. `head`, which closed early: stop quietly (Python docs, "Note on SIGPIPE").
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
