"""Maintainers' tools, not installed with leapserve: protobuf generation (`make proto`), the
generated docs/ops.md, and MLeap's JVM runtime as the tests' and benches' reference. Run them from
the repository root (`python -m tools.<name>`)."""
