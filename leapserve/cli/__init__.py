"""The `leapserve` command. Each subcommand lives in leapserve/cli/<name>.py and provides
``add_arguments(parser)``, ``run(args) -> int`` and a one-line ``HELP``: arguments, calls into the
library (export and score: the training side, leapserve.bundler; inspect: the runtime; serve,
predict, health: the server) and what is printed. Shared by several commands: environment.py
(LEAPSERVE_* flag defaults), progress.py (progress on stderr), errors.py (one-line errors).

Building the parser imports no command's library (no pyspark, numpy or grpc): --help stays quick
and works on a serving-only install.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# Order shown in --help. Training-side commands import pyspark only when they run.
COMMANDS = ("export", "score", "inspect", "serve", "predict", "health")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="leapserve",
        description="Serve Spark ML pipelines exported as MLeap bundles, with no JVM at serving time.",
    )
    parser.add_argument("--debug", action="store_true", help="show full tracebacks (and Java stack traces)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMANDS:
        module = importlib.import_module(f"leapserve.cli.{name}")
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="show full tracebacks (and Java stack traces)")
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args._run(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130

