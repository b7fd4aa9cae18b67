"""One module per ``flowlaws`` subcommand; each defines ``add_parser(subparsers)`` and ``run(args) -> int``."""

COMMANDS = ("flow", "count", "run", "replay", "selfcheck", "list", "warmup")
