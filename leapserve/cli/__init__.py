"""The `leapserve` command. Each subcommand lives in leapserve/cli/<name>.py and provides
``add_arguments(parser)``, ``run(args) -> int``, a one-line ``HELP``, what ``--debug`` adds
(``DEBUG_HELP``) and an ``EPILOG`` for its --help (the environment variables it reads, its exit
codes): arguments, calls into the library (export and score: the training side,
leapserve.bundler; inspect: the runtime; serve, predict, health: the server) and what is printed.
Shared by several commands: environment.py (LEAPSERVE_* flag defaults), progress.py (progress on
stderr), errors.py (one-line errors, exit codes, deprecated aliases).

Building the parser imports no command's library (no pyspark, numpy or grpc): --help stays quick
and works on a serving-only install. Only the command being run reads its LEAPSERVE_* variables
(a malformed LEAPSERVE_PORT must not stop `leapserve inspect`).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from .environment import EnvironmentValueError
from .errors import FAILURE, USAGE, error_line, unexpected_failure

# Order shown in --help. Training-side commands import pyspark only when they run.
COMMANDS = ("export", "score", "inspect", "serve", "predict", "health")
CLIENT_COMMANDS = ("predict", "health")  # they talk to a server through gRPC


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("leapserve")
    except PackageNotFoundError:  # a checkout used without installing it
        return "unknown (not installed)"


def _chosen_command(argv: list[str]) -> str | None:
    """The command named on the command line (the first word that is one), or None."""
    for word in argv:
        if word in COMMANDS:
            return word
        if not word.startswith("-"):
            return None
    return None


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser. With ``argv``, only the command it names gets its arguments (and reads its
    LEAPSERVE_* variables); without, every command does."""
    parser = argparse.ArgumentParser(
        prog="leapserve",
        description="Serve Spark ML pipelines exported as MLeap bundles, with no JVM at serving time.",
        epilog="Errors are one line on stderr: 'leapserve COMMAND: error: ...'. Each command's --help "
               "lists its exit codes and the environment variables it reads.",
    )
    parser.add_argument("--version", action="version", version=f"leapserve {_version()}")
    parser.add_argument("--debug", action="store_true",
                        help="on failure, show the Python traceback (export and score: the Java stack trace too)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    chosen = _chosen_command(argv) if argv is not None else None
    for name in COMMANDS:
        module = importlib.import_module(f"leapserve.cli.{name}")
        p = sub.add_parser(name, help=module.HELP, description=module.HELP, epilog=module.EPILOG,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help=module.DEBUG_HELP)
        if argv is None or chosen in (None, name):
            try:
                module.add_arguments(p)
            except EnvironmentValueError as e:
                parser.exit(USAGE, error_line(name, str(e)) + "\n")
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(argv).parse_args(argv)
    debug = getattr(args, "debug", False)
    if args.command in CLIENT_COMMANDS and not debug:
        # gRPC's C core logs its own lines (a failed handshake, a port it cannot parse) on stderr
        # before the command's one-line error; read when grpc is imported, which has not happened yet.
        os.environ.setdefault("GRPC_VERBOSITY", "NONE")
    try:
        return args._run(args)
    except KeyboardInterrupt:
        print(error_line(args.command, "interrupted"), file=sys.stderr)
        return 130
    except BrokenPipeError:  # `leapserve predict ... | head`: the reader is gone, nothing to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return FAILURE
    except EnvironmentValueError as e:  # a variable read while running (the commands read most at start)
        print(error_line(args.command, str(e)), file=sys.stderr)
        return USAGE
    except Exception as e:  # never a bare traceback: one line, the details behind --debug
        return unexpected_failure(args.command, e, debug)
