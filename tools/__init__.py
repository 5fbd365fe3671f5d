"""Maintainers' tools, not installed with leapserve: protobuf generation (`make proto`), the
generated docs/ops.md (opsdoc), MLeap's JVM runtime as the tests' and benches' reference
(mleap_jvm), the golden set's recording from the parity tests (golden), and Java 17's character
tables for the runtime's text handling (character_data). Run them from the repository root
(`python -m tools.<name>`)."""
