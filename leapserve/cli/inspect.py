"""`leapserve inspect`: what a bundle holds, and whether `leapserve serve` can serve it; a
pre-deploy check that needs no Spark, no Java and no server.

    leapserve inspect PATH [--json]             # one bundle
    leapserve inspect --model-dir DIR [--json]  # what `serve --model-dir DIR` would serve

For one bundle: its info, stages, required inputs (with types) and outputs, each StringIndexer's
labels and handle_invalid, and whether it is servable: every op implemented, and the bundle loads
and warms up as the server loads it (server/loading.py). A folder saved by Spark's model.save is
named as such, with the `leapserve export` command that makes a bundle of it.

For a model directory: the models, versions and default versions the server's own registry
(server/registry.py, with server/discovery.py's scan) finds and loads there, each version
servable or not and why, and whether requests without a version would be served (the pins of
--default-version or LEAPSERVE_DEFAULT_VERSION and default_version files, read as serve reads
them); the registry's warnings about the layout are shown too (on stderr, `leapserve inspect:
warning: ...`; in the JSON under "warnings").

Exit codes: 0 servable (every version and default version, with --model-dir), 1 not (the report
says why; the last line on stderr is the error), 2 usage.
"""

from __future__ import annotations

import json
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .environment import BUNDLE_LIMITS_HELP
from .errors import FAILURE, OK, USAGE, missing_path, one_line, print_error

if TYPE_CHECKING:  # the runtime (numpy) is imported only when the command runs
    from leapserve.runtime.inspect import BundleReport

HELP = "show a bundle's stages, inputs and outputs, and whether it can be served; no Spark or Java needed"
DEBUG_HELP = "on failure, show the Python traceback"
EPILOG = """\
exit codes:
  0  servable (with --model-dir: every version of every model)
  1  not servable: unreadable or malformed, an op the runtime lacks, fails to load; a Spark model
     folder rather than a bundle; with --model-dir, no bundle found, a version that cannot serve,
     or a model whose default version (a pinned one that does not exist) cannot serve
  2  usage: wrong arguments or LEAPSERVE_* variable, PATH does not exist, --model-dir not a directory

environment:
  LEAPSERVE_DEFAULT_VERSION
                    --default-version, as serve reads it (NAME=VERSION,NAME=VERSION)
""" + BUNDLE_LIMITS_HELP

SHOWN_LABELS = 20  # labels per column in the text report (--json lists them all)


def add_arguments(parser) -> None:
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("path", metavar="PATH", nargs="?",
                      help="bundle: .zip file, directory, or jar:file:/file: URI")
    what.add_argument("--model-dir", metavar="DIR",
                      help="show what `leapserve serve --model-dir DIR` would serve (names, versions, default "
                           "version, servable or why not), without serving")
    from .serve import parse_default_version

    parser.add_argument("--default-version", action="append", type=parse_default_version, metavar="NAME=VERSION",
                        help="with --model-dir: the pins serve would be given (`serve --default-version`); win "
                             "over a default_version file. Repeatable. (default: none) [LEAPSERVE_DEFAULT_VERSION]")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def run(args) -> int:
    from leapserve.runtime.container import check_limits_env

    debug = getattr(args, "debug", False)
    problem = check_limits_env()  # LEAPSERVE_MAX_BUNDLE_* and friends: a usage error, as serve says
    if problem:
        print_error("inspect", problem)
        return USAGE
    if args.model_dir is not None:
        return _run_model_dir(args, debug)
    return _run_bundle(args, debug)


# --- one bundle ------------------------------------------------------------------------------

@dataclass
class IndexerColumn:
    input: str
    output: str
    labels: list[str]


@dataclass
class IndexerInfo:
    stage: str
    handle_invalid: str
    columns: list[IndexerColumn] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"stage": self.stage, "handle_invalid": self.handle_invalid,
                "columns": [{"input": c.input, "output": c.output, "labels": c.labels} for c in self.columns]}


def string_indexers(path) -> list[IndexerInfo]:
    """Each string_indexer stage's labels (per column) and handle_invalid, in pipeline order, read
    by the runtime's own op loader."""
    from leapserve.runtime import registry
    from leapserve.runtime.bundle import leaf_nodes, read_root
    from leapserve.runtime.container import open_source

    out = []
    with open_source(path) as src:
        _, root = read_root(src)
        for node in leaf_nodes(root):
            if node.op != "string_indexer":
                continue
            model = registry.lookup(node.op).loader(node)
            ins = {s.port: s.name for s in node.inputs}
            outs = {s.port: s.name for s in node.outputs}
            info = IndexerInfo(node.name, model.handle_invalid)
            for labels, in_port, out_port in zip(model.labels, model.in_ports, model.out_ports):
                info.columns.append(IndexerColumn(ins.get(in_port, in_port), outs.get(out_port, out_port),
                                                  list(labels)))
            out.append(info)
    return out


def serving_problem(path) -> str | None:
    """Why the server would fail to load the bundle (load and warm-up, as it does), or None."""
    from leapserve.server.loading import load_and_warm

    try:
        load_and_warm(path)
    except Exception as e:  # what the registry records for a failed load
        return f"{type(e).__name__}: {e}"
    return None


def spark_model_class(path: str) -> str | None:
    """The class a folder saved by Spark's model.save holds, or None if it is no such folder."""
    from leapserve.bundler.saved_model import saved_class

    folder = Path(path).expanduser()
    if not folder.is_dir() or (folder / "bundle.json").exists() or not (folder / "metadata").is_dir():
        return None
    try:
        return saved_class(folder)
    except Exception:  # no readable Spark metadata: not a saved Spark model
        return None


def _run_bundle(args, debug: bool) -> int:
    if args.default_version is not None:
        print_error("inspect", "--default-version goes with --model-dir")
        return USAGE
    from leapserve.runtime.errors import BundleError
    from leapserve.runtime.inspect import inspect_bundle

    problem = missing_path(args.path)
    if problem:
        print_error("inspect", problem)
        return USAGE
    cls = spark_model_class(args.path)
    if cls is not None:
        print_error("inspect", f"{args.path} is a Spark ML model saved by model.save ({cls}), not an MLeap "
                               f"bundle; make a bundle of it with `leapserve export --spark-model {args.path} "
                               f"--sample DATA --output model.zip`, then inspect that")
        return FAILURE
    try:
        report = inspect_bundle(args.path)
        indexers = string_indexers(args.path)
    except BundleError as e:
        if debug:
            traceback.print_exc()
        print_error("inspect", str(e))
        return FAILURE
    if report.complete:
        problem = serving_problem(args.path)
    else:
        problem = f"the leapserve runtime does not implement op(s) {', '.join(report.unsupported_ops)}"
    if args.json:
        data = report.to_json()
        data["string_indexers"] = [ix.to_json() for ix in indexers]
        data["servable"] = problem is None
        data["not_servable_reason"] = problem or ""
        print(json.dumps(data, indent=2))
    else:
        print(format_report(report, indexers, problem))
    if problem is not None:
        print_error("inspect", f"{args.path} is not servable: {problem}")
        return FAILURE
    return OK


# --- output ----------------------------------------------------------------------------------

UNKNOWN = "unknown"


def _type(t: str | None) -> str:
    return t if t is not None else UNKNOWN


def _columns(sockets: dict[str, str]) -> str:
    return ", ".join(sockets.values()) if sockets else "-"


def _labels(labels: list[str]) -> str:
    shown = ", ".join(json.dumps(label, ensure_ascii=False) for label in labels[:SHOWN_LABELS])
    more = len(labels) - SHOWN_LABELS
    return shown + (f", ... and {more} more (--json lists them all)" if more > 0 else "")


def format_indexers(indexers: list[IndexerInfo]) -> list[str]:
    lines = ["", f"string indexers ({len(indexers)}):"]
    for ix in indexers:
        lines.append(f"  {ix.stage}  handle_invalid={ix.handle_invalid}")
        for col in ix.columns:
            lines.append(f"    {col.input} -> {col.output}: {len(col.labels)} label(s): {_labels(col.labels)}")
    return lines


def format_report(report: BundleReport, indexers: list[IndexerInfo] | None = None,
                  problem: str | None = None) -> str:
    """The report as text; ``problem``: why the bundle is not servable (None: it is)."""
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
        lines += [f"      note: {note}" for note in st.notes]
    lines += ["", f"inputs ({len(report.inputs)}):"]
    width = max((len(c) for c in list(report.inputs) + list(report.outputs)), default=0)
    lines += [f"  {col:<{width}}  {_type(t)}" for col, t in report.inputs.items()]
    lines += ["", f"outputs ({len(report.outputs)}):"]
    lines += [f"  {col:<{width}}  {_type(t)}" for col, t in report.outputs.items()]
    if indexers:
        lines += format_indexers(indexers)
    lines.append("")
    if not report.complete:
        lines.append(f"NOT SERVABLE: the leapserve runtime does not implement op(s) "
                     f"{', '.join(report.unsupported_ops)} (marked [unsupported op]); "
                     f"types shown as '{UNKNOWN}' are known only to those stages.")
    elif problem is not None:
        lines.append(f"NOT SERVABLE: {problem}")
    else:
        lines.append("servable: every op is implemented; the bundle loads and warms up as `leapserve serve` loads it")
    return "\n".join(lines)


# --- a model directory ---------------------------------------------------------------------

class _Collect:
    """The registry's WARNING log lines while it scans and loads (the layout mistakes it reports)."""

    def __init__(self):
        import logging

        self.lines: list[str] = []
        self.handler = logging.Handler(logging.WARNING)
        self.handler.emit = self._emit
        self.logger = logging.getLogger("leapserve.registry")

    def _emit(self, record) -> None:
        import logging

        if record.levelno == logging.WARNING:  # errors are the load failures, shown per version
            self.lines.append(record.getMessage())

    def __enter__(self):
        self._propagate = self.logger.propagate
        self.logger.addHandler(self.handler)
        self.logger.propagate = False
        return self

    def __exit__(self, *exc):
        self.logger.removeHandler(self.handler)
        self.logger.propagate = self._propagate


def _default_problem(versions: list[dict], pinned: str, pinned_by: str) -> str:
    """Why requests without a version would be refused ("" when they would not)."""
    if any(v["is_default"] and v["servable"] for v in versions):
        return ""
    if pinned and pinned not in {v["version"] for v in versions}:
        return f"pinned default version {pinned} ({pinned_by}) does not exist"
    if pinned:
        return f"pinned default version {pinned} ({pinned_by}) cannot serve"
    return "no version can serve"


def scan_model_dir(model_dir: str, default_versions: dict[str, str] | None = None) -> dict:
    """What `serve --model-dir DIR` (with ``default_versions``: its --default-version pins) would
    serve, found and loaded by the server's registry: {"model_dir", "models": [{"name",
    "default_version", "pinned_default_version", "default_problem", "versions": [{"version", "path",
    "servable", "error", "is_default"}]}], "warnings", "scan_error", "servable"}. default_problem:
    why a request without a version would be refused ("" when it would not)."""
    from leapserve.server.registry import Registry

    pins = dict(default_versions or {})
    registry = Registry(reload_interval=0, model_dir=model_dir, show_paths=True,  # the operator sees all
                        default_versions=pins)
    with _Collect() as log:
        registry.load_initial()
    models = []
    for name in registry.model_names():
        versions = [{"version": v["version"], "path": v["path"], "servable": v["state"] == "READY" and not v["error"],
                     "error": v["error"], "is_default": v["is_default"]} for v in registry.versions(name)]
        default = next((v["version"] for v in versions if v["is_default"]), "")
        pinned = registry.pinned_default(name)
        pinned_by = "--default-version" if name in pins else "its default_version file"
        models.append({"name": name, "default_version": default, "pinned_default_version": pinned,
                       "default_problem": _default_problem(versions, pinned, pinned_by), "versions": versions})
    servable = (bool(models) and not registry.scan_error
                and all(v["servable"] for m in models for v in m["versions"])
                and not any(m["default_problem"] for m in models))
    return {"model_dir": str(registry.model_dir), "models": models, "warnings": log.lines,
            "scan_error": registry.scan_error, "servable": servable}


def format_model_dir(found: dict) -> str:
    models = found["models"]
    lines = [f"model directory  {found['model_dir']}", f"models ({len(models)}):"]
    width = max((len(v["version"]) for m in models for v in m["versions"]), default=0)
    for m in models:
        default = (f"default version {m['default_version']}" if not m["default_problem"]
                   else f"no default version: {m['default_problem']}")
        lines.append(f"  {m['name']}  ({default})")
        for v in m["versions"]:
            state = "servable" if v["servable"] else f"NOT SERVABLE: {one_line(v['error'])}"
            mark = "  [default]" if v["is_default"] else ""
            lines.append(f"    version {v['version']:<{width}}  {v['path']}{mark}")
            lines.append(f"      {state}")
    return "\n".join(lines)


def _run_model_dir(args, debug: bool) -> int:
    from .serve import default_version_pins

    folder = Path(args.model_dir).expanduser()
    if not folder.is_dir():
        print_error("inspect", f"--model-dir {args.model_dir}: not a directory")
        return USAGE
    found = scan_model_dir(str(folder), default_version_pins(args))
    print(json.dumps(found, indent=2) if args.json else format_model_dir(found))
    if not args.json:  # in the form of the other commands' warnings, before the error line if any
        for w in found["warnings"]:
            print(f"leapserve inspect: warning: {one_line(w)}", file=sys.stderr)
    if found["scan_error"]:
        print_error("inspect", f"--model-dir {args.model_dir}: {found['scan_error']}")
        return FAILURE
    if not found["models"]:
        print_error("inspect", f"--model-dir {args.model_dir}: no bundle found (DIR/NAME.zip, DIR/NAME/ holding "
                               f"bundle.json, or DIR/NAME/VERSION/ for versions): serve would serve nothing")
        return FAILURE
    bad = [f"{m['name']} version {v['version']}" for m in found["models"] for v in m["versions"] if not v["servable"]]
    bad += [f"{m['name']} ({m['default_problem']}: requests without a version would be refused)"
            for m in found["models"] if m["default_problem"] and any(v["servable"] for v in m["versions"])]
    if bad:
        print_error("inspect", f"--model-dir {args.model_dir}: not servable: {', '.join(bad)}")
        return FAILURE
    return OK
