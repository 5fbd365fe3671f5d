"""python -m leapserve.bundler.examples --out DIR [NAME ...]: train and export the examples."""

from __future__ import annotations

import argparse
import sys

from . import EXAMPLES


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m leapserve.bundler.examples", description=__doc__)
    parser.add_argument("--out", default="build/examples", help="output folder (default: build/examples)")
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help=f"examples to run (default: all of {', '.join(EXAMPLES)})")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in EXAMPLES]
    if unknown:
        parser.error(f"unknown example(s) {', '.join(unknown)}; choose from {', '.join(EXAMPLES)}")
    from leapserve.bundler.errors import BundlerError

    try:
        for name in args.names or EXAMPLES:
            EXAMPLES[name].write(args.out)
    except BundlerError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
