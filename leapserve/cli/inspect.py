"""leapserve inspect PATH [--json]: what a bundle holds, without Spark or Java."""

from __future__ import annotations

import json
import sys
import traceback
from typing import TYPE_CHECKING

from .errors import one_line

if TYPE_CHECKING:  # the runtime (numpy) is imported only when the command runs
    from leapserve.runtime.inspect import BundleReport

HELP = "show a bundle's info, stages, required inputs (with types) and outputs; no Spark or Java needed"


def add_arguments(parser) -> None:
    parser.add_argument("path", metavar="PATH", help="bundle: .zip file, directory, or jar:file:/file: URI")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def run(args) -> int:
    from leapserve.runtime.errors import BundleError
    from leapserve.runtime.inspect import inspect_bundle

    try:
        report = inspect_bundle(args.path)
    except BundleError as e:
        if getattr(args, "debug", False):
            traceback.print_exc()
        print(f"leapserve inspect: error: {one_line(e)}", file=sys.stderr)
        return 1
    print(report_json(report) if args.json else format_report(report))
    return 0


# --- output ----------------------------------------------------------------------------------

UNKNOWN = "unknown"


def _type(t: str | None) -> str:
    return t if t is not None else UNKNOWN


def _columns(sockets: dict[str, str]) -> str:
    return ", ".join(sockets.values()) if sockets else "-"


def format_report(report: BundleReport) -> str:
    info = report.info
    lines = [
        f"bundle   {report.path}",
        f"name     {info.name}",
        f"format   {info.format}",
        f"MLeap    {info.version or UNKNOWN}" + (f" (written {info.timestamp})" if info.timestamp else ""),
        "",
        f"stages ({len(report.stages)}):",
    ]
    width_name = max((len(st.name) for st in report.stages), default=0)
    width_op = max((len(st.op) for st in report.stages), default=0)
    for i, st in enumerate(report.stages, 1):
        mark = "" if st.supported else "  [unsupported op]"
        lines.append(f"  {i:>2}. {st.name:<{width_name}}  {st.op:<{width_op}}  "
                     f"{_columns(st.inputs)} -> {_columns(st.outputs)}{mark}")
    lines += ["", f"inputs ({len(report.inputs)}):"]
    width = max((len(c) for c in list(report.inputs) + list(report.outputs)), default=0)
    lines += [f"  {col:<{width}}  {_type(t)}" for col, t in report.inputs.items()]
    lines += ["", f"outputs ({len(report.outputs)}):"]
    lines += [f"  {col:<{width}}  {_type(t)}" for col, t in report.outputs.items()]
    if not report.complete:
        lines += ["", f"NOT SERVABLE: the leapserve runtime does not implement op(s) "
                      f"{', '.join(report.unsupported_ops)} (marked [unsupported op]); "
                      f"types shown as '{UNKNOWN}' are known only to those stages."]
    return "\n".join(lines)


def report_json(report: BundleReport) -> str:
    return json.dumps(report.to_json(), indent=2)
