"""Helpers of the test suite, imported as tests.support.<module>: the parity harness, hand-written
bundles, server processes and clients, and readers of the deployment files."""
