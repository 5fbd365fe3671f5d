"""The server uses grpc's public API only: a private module or name (``grpc._cython``,
``grpc_health.v1._async``, ``_SyncServicerContext``) may change in any grpcio release."""

from __future__ import annotations

import ast
from pathlib import Path

SERVER = Path(__file__).resolve().parents[2] / "server"


def _private_grpc_uses(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
            base = node.value
            while isinstance(base, ast.Attribute):
                base = base.value
            if isinstance(base, ast.Name) and base.id.startswith("grpc"):
                names = [f"{base.id}...{node.attr}"]
        for name in names:
            parts = name.split(".")
            if parts[0].startswith("grpc") and any(p.startswith("_") for p in parts[1:] if p):
                found.append(f"line {node.lineno}: {name}")
    return found


def test_the_server_uses_no_private_grpc_module_or_name():
    uses = {}
    for path in sorted(SERVER.rglob("*.py")):
        found = _private_grpc_uses(ast.parse(path.read_text(), str(path)))
        if found:
            uses[str(path.relative_to(SERVER.parent))] = found
    assert not uses, f"private grpc API in the server: {uses}"
