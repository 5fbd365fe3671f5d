"""Option helpers shared by the commands: lists of names, and renamed options whose old name
still works with a deprecation note.

The commands share one vocabulary: ``--output`` is what a command writes (export: the bundle,
score: the scored data), ``--select`` the outputs to keep (predict: fields, score: columns). The
old names (export ``--out``, predict ``--output FIELD``, score ``--outputs``) still work and say on
stderr which name replaces them.
"""

from __future__ import annotations

import argparse
import sys


def names(text: str) -> list[str]:
    """NAME,NAME,... as a list (an argparse type)."""
    return [part.strip() for part in text.split(",") if part.strip()]


def flat_names(values) -> list[str]:
    """The names of --select (lists of lists with nargs="+") in order, each once."""
    out: list[str] = []
    for v in values or []:
        out.extend(v if isinstance(v, list) else [v])
    return list(dict.fromkeys(out))


def deprecated(action_class: type[argparse.Action], replacement: str) -> type[argparse.Action]:
    """An argparse action that does what ``action_class`` does and says on stderr, at each use, that
    the option is an old name of ``replacement``."""

    class Deprecated(action_class):
        def __call__(self, parser, namespace, values, option_string=None):
            # parser.prog is "leapserve COMMAND": the note has the form of the errors, as a warning
            print(f"{parser.prog}: warning: {option_string} is deprecated; use {replacement} (same meaning)",
                  file=sys.stderr)
            super().__call__(parser, namespace, values, option_string)

    Deprecated.__name__ = f"Deprecated{action_class.__name__}"
    return Deprecated


def add_old_name(parser, old: str, new: str, *, action: type[argparse.Action] = argparse._StoreAction,
                 **kwargs) -> None:
    """``old`` as a hidden alias of the option ``new`` (same dest), with a deprecation note."""
    dest = new.lstrip("-").replace("-", "_")
    parser.add_argument(old, action=deprecated(action, new), dest=dest, help=argparse.SUPPRESS, **kwargs)


def client_problem(args) -> str | None:
    """What is wrong with a client command's (predict, health) --timeout or TLS files, or None."""
    if not args.timeout > 0:  # NaN too
        return f"--timeout {args.timeout}: expected seconds > 0"
    return client_tls_problem(args)


def client_tls_problem(args) -> str | None:
    """Why a client TLS file (predict and health: --tls-ca, --tls-cert, --tls-key) cannot be read,
    naming the flag, or None."""
    for flag in ("--tls-ca", "--tls-cert", "--tls-key"):
        path = getattr(args, flag.lstrip("-").replace("-", "_"), None)
        if not path:
            continue
        try:
            with open(path, "rb"):
                pass
        except FileNotFoundError:
            return f"{flag} {path}: no such file"
        except IsADirectoryError:
            return f"{flag} {path}: is a directory, not a PEM file"
        except OSError as e:
            return f"{flag} {path}: cannot read it: {e.strerror or e}"
    return None
