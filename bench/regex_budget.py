"""What the time budget on a bundle's regular expressions costs (RegexTokenizer), in one run.

    .venv/bin/python bench/regex_budget.py [--rounds 5] [--seconds 1]

A bundle's pattern that could backtrack runs on the ``regex`` package with a CPU time budget (one
per call, the op makes a CpuBudget per record or batch: here one per string, the worst case);
one that cannot (single characters, only the last repeating: Spark's default ``\s+``) still runs on
Python's ``re`` (leapserve/runtime/jvm/regex.py). Before, every pattern ran on ``re``, unbounded. For
a few tokenizer patterns and texts of a sentence and of a paragraph, this measures microseconds per
string of the op's tokenizer and of ``re``'s own split/findall of the same translated pattern (the
engine before), in alternating rounds (the machine is shared), and prints the best of each and
their ratio.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from leapserve.runtime.jvm.regex import (CpuBudget, cannot_backtrack, compile_java_regex,  # noqa: E402
                                        java_tokenizers, translate_java_regex)

SENTENCE = "The quick brown fox jumps over the lazy dog, again and again; 42 times!"
TEXTS = {"sentence (72 chars)": SENTENCE, "paragraph (1440 chars)": (SENTENCE + " ") * 20}
# (pattern, gaps): Spark's default \s+ and others that cannot backtrack (run on re, no budget), and
# two that could (run on regex with the budget)
PATTERNS = [(r"\s+", True), (r"\W+", True), (r"\w+", False), (r"\d+(?:\.\d+)?", False), (r"\s*[,;]\s*", True)]


def per_call(fn, text, seconds: float) -> float:
    calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(100):
            fn(text)
        calls += 100
    return (time.perf_counter() - start) / calls * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=1.0, help="seconds per measurement")
    args = ap.parse_args()
    print(f"{'pattern':16} {'engine now':12} {'text':24} {'re (before) us':>15} {'now us':>8} {'ratio':>6}")
    for pattern, gaps in PATTERNS:
        plain = re.compile(translate_java_regex(pattern))
        before = plain.split if gaps else plain.findall
        split, find_all, bounded = java_tokenizers(compile_java_regex(pattern))
        cut = split if gaps else find_all
        now = (lambda text: cut(text, CpuBudget(1.0))) if bounded else (lambda text: cut(text, None))
        engine = "re" if cannot_backtrack(translate_java_regex(pattern)) else "regex+budget"
        for label, text in TEXTS.items():
            assert [t for t in before(text) if t] == [t for t in now(text) if t]
            best_before = best_now = float("inf")
            for _ in range(args.rounds):  # alternating rounds
                best_before = min(best_before, per_call(before, text, args.seconds / 2))
                best_now = min(best_now, per_call(now, text, args.seconds / 2))
            print(f"{pattern:16} {engine:12} {label:24} {best_before:15.2f} {best_now:8.2f} "
                  f"{best_now / best_before:6.2f}x")


if __name__ == "__main__":
    main()
