"""Subcommands of the `leapserve` CLI (see server/cli.py)."""
