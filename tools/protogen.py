"""The one command that turns protos/ into Python code (`make proto`).

Generated modules live in subpackages of ``leapserve`` that mirror the .proto paths
(leapserve/v1, leapserve/oip, leapserve/bundleml), so that their own imports
(``from leapserve.v1 import ...``) resolve. They are never edited by hand: the
test suite regenerates them into a temporary folder and fails on any difference.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PROTO_DIR = REPO / "protos"
INIT_TEXT = "# Generated package for code made from protos/ by `make proto`; do not edit.\n"


def proto_files() -> list[Path]:
    return sorted(PROTO_DIR.rglob("*.proto"))


def generate(out_dir: Path) -> list[Path]:
    """Generate Python code for every .proto into out_dir; returns the files written."""
    import grpc_tools
    from grpc_tools import protoc

    include = Path(grpc_tools.__file__).resolve().parent / "_proto"
    out_dir.mkdir(parents=True, exist_ok=True)
    for proto in proto_files():
        rel = proto.relative_to(PROTO_DIR)
        args = ["protoc", f"-I{PROTO_DIR}", f"-I{include}", f"--python_out={out_dir}", f"--pyi_out={out_dir}"]
        if "\nservice " in proto.read_text():
            args.append(f"--grpc_python_out={out_dir}")
        if protoc.main(args + [str(rel)]) != 0:
            raise RuntimeError(f"protoc failed on {rel}")
    written = []
    for package in generated_packages(out_dir):
        init = package / "__init__.py"
        if not init.exists():
            init.write_text(INIT_TEXT)
        written += [p for p in package.iterdir() if p.is_file()]
    return sorted(written)


def generated_packages(root: Path) -> list[Path]:
    """The folders under root that hold code generated from protos/ (one per .proto folder); the
    rest of the leapserve package is written by hand."""
    return sorted({root / proto.relative_to(PROTO_DIR).parent for proto in proto_files()})


def main() -> int:
    written = generate(REPO)
    for path in written:
        print(path.relative_to(REPO))
    return 0


if __name__ == "__main__":
    sys.exit(main())
