"""leapserve inspect PATH [--json]: what a bundle holds, without Spark or Java."""

from __future__ import annotations

import sys
import traceback

HELP = "show a bundle's info, stages, required inputs (with types) and outputs; no Spark or Java needed"


def add_arguments(parser) -> None:
    parser.add_argument("path", metavar="PATH", help="bundle: .zip file, directory, or jar:file:/file: URI")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def run(args) -> int:
    from leapserve.server.inspect import format_report, inspect_bundle, report_json
    from leapserve.runtime.errors import BundleError

    try:
        report = inspect_bundle(args.path)
    except BundleError as e:
        if getattr(args, "debug", False):
            traceback.print_exc()
        print(f"leapserve inspect: error: {_one_line(str(e))}", file=sys.stderr)
        return 1
    print(report_json(report) if args.json else format_report(report))
    return 0


def _one_line(text: str) -> str:
    return " ".join(text.split())


def main(argv=None) -> int:
    """`python -m leapserve.cli.inspect PATH`: the subcommand on its own."""
    import argparse

    parser = argparse.ArgumentParser(prog="leapserve inspect", description=HELP)
    parser.add_argument("--debug", action="store_true", help="show full tracebacks")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
