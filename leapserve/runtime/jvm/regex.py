"""Java regular expressions (java.util.regex.Pattern), translated to Python's ``re`` syntax.

A Java pattern is translated once into a Python ``re`` pattern that needs no flags: Java's
ASCII-only ``\\d \\s \\w``, its dot (which stops at every line terminator), ``^ $ \\Z`` and ASCII
case-insensitivity are spelled out as explicit classes and lookarounds. Constructs that ``re``
cannot reproduce faithfully (``\\b``, Unicode properties, class unions and intersections, Unicode
case folding, ...) raise UnsupportedRegex naming the construct. ``java_split`` and
``java_find_all`` are ``Pattern.split`` (limit 0) and ``Matcher.find`` over a whole string.

The translation is compiled by ``re`` (what ``re`` refuses is refused) and run by the ``regex``
package, which takes the same syntax with the same meaning but, unlike ``re``, can stop a match
after a time budget and releases the GIL while matching: a pattern from a bundle that backtracks
catastrophically on some input (``(a|aa)+b`` on 40 characters) costs one request its budget
instead of stalling every thread of the process. Java has no such bound.
"""

from __future__ import annotations

import re
from time import process_time

import regex

from ..errors import BundleError
from .text import JAVA_WHITESPACE


class UnsupportedRegex(ValueError):
    """A Java regex construct with no faithful Python ``re`` translation (or invalid in Java)."""


_MAX_CP = 0x10FFFF
_LINE_TERMINATORS = "\n\r\u0085\u2028\u2029"
# Java's predefined classes without UNICODE_CHARACTER_CLASS: ASCII only.
_DIGIT = [(0x30, 0x39)]
_SPACE = [(ord(c), ord(c)) for c in JAVA_WHITESPACE]
_WORD = [(0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)]
_HSPACE = [(0x09, 0x09), (0x20, 0x20), (0xA0, 0xA0), (0x1680, 0x1680), (0x180E, 0x180E),
           (0x2000, 0x200A), (0x202F, 0x202F), (0x205F, 0x205F), (0x3000, 0x3000)]
_VSPACE = [(0x0A, 0x0D), (0x85, 0x85), (0x2028, 0x2029)]
_POSIX = {  # \p{Name}: Java's POSIX classes are ASCII only
    "Lower": [(0x61, 0x7A)], "Upper": [(0x41, 0x5A)], "ASCII": [(0x00, 0x7F)],
    "Alpha": [(0x41, 0x5A), (0x61, 0x7A)], "Digit": _DIGIT,
    "Alnum": [(0x30, 0x39), (0x41, 0x5A), (0x61, 0x7A)],
    "Punct": [(0x21, 0x2F), (0x3A, 0x40), (0x5B, 0x60), (0x7B, 0x7E)],
    "Graph": [(0x21, 0x7E)], "Print": [(0x20, 0x7E)], "Blank": [(0x09, 0x09), (0x20, 0x20)],
    "Cntrl": [(0x00, 0x1F), (0x7F, 0x7F)], "XDigit": [(0x30, 0x39), (0x41, 0x46), (0x61, 0x66)],
    "Space": _SPACE,
}
_FLAG_LETTERS = "idmsuxU"


def _normalize(ranges):
    out = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1] + 1:
            if hi > out[-1][1]:
                out[-1] = (out[-1][0], hi)
        else:
            out.append((lo, hi))
    return out


def _complement(ranges):
    out, nxt = [], 0
    for lo, hi in _normalize(ranges):
        if lo > nxt:
            out.append((nxt, lo - 1))
        nxt = hi + 1
    if nxt <= _MAX_CP:
        out.append((nxt, _MAX_CP))
    return out


def _ascii_case_closure(ranges):
    """Java's ASCII-only CASE_INSENSITIVE for class members: an ASCII letter also matches when
    its other case falls in the set."""
    extra = []
    for cp in list(range(0x41, 0x5B)) + list(range(0x61, 0x7B)):
        other = cp ^ 0x20
        if any(lo <= other <= hi for lo, hi in ranges):
            extra.append((cp, cp))
    return _normalize(list(ranges) + extra)


def _class_source(ranges) -> str:
    ranges = _normalize(ranges)
    if not ranges:
        return "(?!)"
    parts = []
    for lo, hi in ranges:
        if lo == hi:
            parts.append(_escape_cp(lo))
        elif hi == lo + 1:
            parts.append(_escape_cp(lo) + _escape_cp(hi))
        else:
            parts.append(f"{_escape_cp(lo)}-{_escape_cp(hi)}")
    return "[" + "".join(parts) + "]"


def _escape_cp(cp: int) -> str:
    if 0x20 < cp < 0x7F:
        ch = chr(cp)
        return "\\" + ch if not ch.isalnum() else ch
    return f"\\x{cp:02x}" if cp <= 0xFF else (f"\\u{cp:04x}" if cp <= 0xFFFF else f"\\U{cp:08x}")


class _JavaRegexTranslator:
    """A recursive-descent reader of Java's Pattern syntax that writes an equivalent, flag-free
    Python pattern, atom by atom, with the Java flags in force at each atom."""

    def __init__(self, pattern: str):
        self.p = pattern
        self.i = 0
        self.flags: set[str] = set()
        self.groups = 0  # capturing groups opened so far (Java numbers back references by them)
        self.names: set[str] = set()
        self.out: list[str] = []

    # -- reading --
    def error(self, what: str) -> UnsupportedRegex:
        return UnsupportedRegex(f"{what} (at offset {self.i} of the Java regex {self.p!r})")

    def skip_comments(self) -> None:
        if "x" not in self.flags:
            return
        p = self.p
        while self.i < len(p):
            ch = p[self.i]
            if ch in JAVA_WHITESPACE:  # Java's ASCII.isSpace, skipped in COMMENTS mode
                self.i += 1
            elif ch == "#":
                ends = "\n" if "d" in self.flags else _LINE_TERMINATORS
                while self.i < len(p) and p[self.i] not in ends:
                    self.i += 1
            else:
                break

    def peek(self) -> str | None:
        self.skip_comments()
        return self.p[self.i] if self.i < len(self.p) else None

    def next(self) -> str:
        ch = self.peek()
        if ch is None:
            raise self.error("unexpected end of pattern")
        self.i += 1
        return ch

    def raw_peek(self, k: int = 0) -> str | None:
        j = self.i + k
        return self.p[j] if j < len(self.p) else None

    # -- top level --
    def translate(self) -> str:
        self.alternation(top=True)
        if self.i < len(self.p):
            raise self.error("unbalanced ')'")
        return "".join(self.out)

    def alternation(self, top: bool) -> None:
        while True:
            ch = self.peek()
            if ch is None:
                if not top:
                    raise self.error("unclosed group")
                return
            if ch == ")":
                if top:
                    raise self.error("unbalanced ')'")
                return
            self.i += 1
            if ch == "|":
                self.out.append("|")
            elif ch == "(":
                self.group()
            elif ch == "[":
                self.out.append(_class_source(self.char_class()))
            elif ch in "*+?":
                self.quantifier(ch)
            elif ch == "{":
                self.bounded_quantifier()
            elif ch == "\\":
                self.escape_atom()
            elif ch == ".":
                self.out.append(self.dot())
            elif ch == "^":
                self.out.append(self.caret())
            elif ch == "$":
                self.out.append(self.dollar(multiline="m" in self.flags))
            else:
                self.literal(ord(ch))

    def quantifier(self, ch: str) -> None:
        if not self.out or self.out[-1] in ("|", "(", "(?:"):
            raise self.error(f"dangling meta character {ch!r}")
        self.out.append(ch)
        self.quantifier_mode()

    def quantifier_mode(self) -> None:
        nxt = self.raw_peek()
        if nxt in ("?", "+"):  # lazy or possessive (Python 3.11 has both)
            self.i += 1
            self.out.append(nxt)

    def bounded_quantifier(self) -> None:
        # Java's counts are ASCII digits (ASCII.isDigit); Python's \d would take any script's.
        m = re.compile(r"([0-9]+)(?:(,)([0-9]*))?}").match(self.p, self.i)
        if not m or not self.out or self.out[-1] in ("|", "(", "(?:"):
            raise self.error("illegal repetition '{'")
        lo, comma, hi = m.group(1), m.group(2), m.group(3)
        if hi and int(hi) < int(lo):
            raise self.error("illegal repetition range")
        self.i = m.end()
        self.out.append("{" + lo + ("," + hi if comma else "") + "}")
        self.quantifier_mode()

    def group(self) -> None:
        saved = set(self.flags)
        if self.raw_peek() != "?":
            self.groups += 1
            self.out.append("(")
        else:
            self.i += 1
            ch = self.raw_peek()
            if ch == ":":
                self.i += 1
                self.out.append("(?:")
            elif ch in ("=", "!", ">"):
                self.i += 1
                self.out.append("(?" + ch)
            elif ch == "<" and self.raw_peek(1) in ("=", "!"):
                self.out.append("(?<" + self.raw_peek(1))
                self.i += 2
            elif ch == "<":
                m = re.compile(r"<([A-Za-z][A-Za-z0-9]*)>").match(self.p, self.i)
                if not m:
                    raise self.error("invalid named group")
                if m.group(1) in self.names:
                    raise self.error(f"named group {m.group(1)!r} defined twice")
                self.names.add(m.group(1))
                self.groups += 1
                self.i = m.end()
                self.out.append(f"(?P<{m.group(1)}>")
            else:
                m = re.compile(r"([idmsuxU]*)(?:-([idmsuxU]*))?([:)])").match(self.p, self.i)
                if not m:
                    raise self.error("unknown group construct '(?'")
                self.i = m.end()
                self.set_flags(m.group(1), m.group(2) or "")
                if m.group(3) == ")":
                    # Inline flags only: they stay on until the enclosing group closes.
                    return
                self.out.append("(?:")
        self.alternation(top=False)
        self.i += 1  # the ')'
        self.out.append(")")
        self.flags = saved

    def set_flags(self, on: str, off: str) -> None:
        for f in on:
            self.flags.add(f)
        for f in off:
            self.flags.discard(f)
        if "U" in self.flags:
            raise self.error("flag (?U) (UNICODE_CHARACTER_CLASS) is not supported")
        if "i" in self.flags and "u" in self.flags:
            raise self.error("Unicode case-insensitive matching (?iu) is not supported: Java's "
                             "Unicode case folding differs from Python's")

    # -- atoms --
    def literal(self, cp: int) -> None:
        if "i" in self.flags and (0x41 <= cp <= 0x5A or 0x61 <= cp <= 0x7A):
            self.out.append(_class_source([(cp, cp), (cp ^ 0x20, cp ^ 0x20)]))
        else:
            self.out.append(_escape_cp(cp))

    def dot(self) -> str:
        if "s" in self.flags:
            return _class_source([(0, _MAX_CP)])
        terminators = "\n" if "d" in self.flags else _LINE_TERMINATORS
        return _class_source(_complement([(ord(c), ord(c)) for c in terminators]))

    def caret(self) -> str:
        if "m" not in self.flags:
            return r"\A"
        # MULTILINE ^: at the start, or after a line terminator (not inside \r\n), but never at
        # the very end of the input.
        if "d" in self.flags:
            return r"(?=[\s\S])(?:\A|(?<=\n))"
        return r"(?=[\s\S])(?:\A|(?<=[\n\x85\u2028\u2029])|(?<=\r)(?!\n))"

    def dollar(self, multiline: bool) -> str:
        if "d" in self.flags:
            return r"(?=\n|\Z)" if multiline else r"(?=\n?\Z)"
        if multiline:
            return r"(?:(?=[\r\x85\u2028\u2029])|(?<!\r)(?=\n)|\Z)"
        return r"(?=(?:\r\n|(?<!\r)\n|[\r\x85\u2028\u2029])?\Z)"

    def escape_atom(self) -> None:
        ch = self.raw_peek()
        if ch is None:
            raise self.error("trailing backslash")
        simple = {"A": r"\A", "z": r"\Z", "R": r"(?>\r\n|[\n\x0b\f\r\x85\u2028\u2029])"}
        if ch in simple:
            self.i += 1
            self.out.append(simple[ch])
            return
        if ch == "Z":
            self.i += 1
            self.out.append(self.dollar(multiline=False))
            return
        if ch == "Q":
            self.i += 1
            end = self.p.find("\\E", self.i)
            text = self.p[self.i:] if end < 0 else self.p[self.i:end]
            self.i = len(self.p) if end < 0 else end + 2
            for c in text:
                self.literal(ord(c))
            return
        if ch in "123456789":
            self.backref()
            return
        if ch == "k":
            m = re.compile(r"k<([A-Za-z][A-Za-z0-9]*)>").match(self.p, self.i)
            if not m or m.group(1) not in self.names:
                raise self.error("invalid named back reference")
            if "i" in self.flags:
                raise self.error("case-insensitive back references are not supported")
            self.i = m.end()
            self.out.append(f"(?P={m.group(1)})")
            return
        value = self.escape_value(in_class=False)
        if isinstance(value, int):
            self.literal(value)
        else:
            self.out.append(_class_source(value))

    def backref(self) -> None:
        if "i" in self.flags:
            raise self.error("case-insensitive back references are not supported")
        num = int(self.p[self.i])
        self.i += 1
        # Java takes more ASCII digits only while they name a group that already exists.
        while (nxt := self.raw_peek()) is not None and "0" <= nxt <= "9" and num * 10 + int(nxt) <= self.groups:
            num = num * 10 + int(nxt)
            self.i += 1
        if num > self.groups:
            raise self.error(f"back reference to group {num}, which does not exist yet")
        self.out.append(f"(?:\\{num})")

    def escape_value(self, in_class: bool):
        """After a backslash: a code point (int) or a set of ranges (list)."""
        ch = self.p[self.i]
        self.i += 1
        controls = {"t": 0x09, "n": 0x0A, "r": 0x0D, "f": 0x0C, "a": 0x07, "e": 0x1B}
        if ch in controls:
            return controls[ch]
        classes = {"d": _DIGIT, "s": _SPACE, "w": _WORD, "h": _HSPACE, "v": _VSPACE}
        if ch in classes:
            return list(classes[ch])
        if ch in "DSWHV":
            return _complement(classes[ch.lower()])
        if ch == "0":
            return self.octal()
        if ch == "x":
            m = re.compile(r"\{([0-9a-fA-F]+)\}|([0-9a-fA-F]{2})").match(self.p, self.i)
            if not m:
                raise self.error("illegal hexadecimal escape")
            self.i = m.end()
            cp = int(m.group(1) or m.group(2), 16)
            if cp > _MAX_CP:
                raise self.error("hexadecimal code point out of range")
            return self._not_surrogate(cp)
        if ch == "u":
            cp = self.hex4()
            if 0xD800 <= cp <= 0xDBFF and self.p.startswith("\\u", self.i):
                save = self.i
                self.i += 2
                low = self.hex4()
                if 0xDC00 <= low <= 0xDFFF:
                    return 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00)
                self.i = save
            return self._not_surrogate(cp)
        if ch == "c":
            if self.i >= len(self.p):
                raise self.error("illegal control escape")
            self.i += 1
            return ord(self.p[self.i - 1]) ^ 64
        if ch in "pP":
            return self.property(negated=ch == "P")
        if ch in "bBGXN":
            raise self.error(f"\\{ch} is not supported (no faithful Python re equivalent)")
        if ch.isascii() and ch.isalnum():
            raise self.error(f"illegal or unsupported escape \\{ch}")
        return ord(ch)  # an escaped non-alphanumeric character stands for itself

    def _not_surrogate(self, cp: int) -> int:
        if 0xD800 <= cp <= 0xDFFF:
            raise self.error("lone surrogate escapes are not supported")
        return cp

    def hex4(self) -> int:
        m = re.compile(r"[0-9a-fA-F]{4}").match(self.p, self.i)
        if not m:
            raise self.error("illegal Unicode escape")
        self.i = m.end()
        return int(m.group(0), 16)

    def octal(self) -> int:
        m = re.compile(r"[0-3][0-7]{2}|[0-7]{1,2}").match(self.p, self.i)
        if not m:
            raise self.error("illegal octal escape")
        self.i = m.end()
        return int(m.group(0), 8)

    def property(self, negated: bool):
        m = re.compile(r"\{([A-Za-z]+)\}").match(self.p, self.i)
        if not m or m.group(1) not in _POSIX:
            raise self.error("Unicode property classes (\\p, \\P) are not supported, except the "
                             f"ASCII POSIX classes {sorted(_POSIX)}")
        name = m.group(1)
        if name in ("Lower", "Upper") and "i" in self.flags:
            raise self.error(f"\\p{{{name}}} under case-insensitive matching is not supported")
        self.i = m.end()
        ranges = list(_POSIX[name])
        return _complement(ranges) if negated else ranges

    # -- character classes --
    def char_class(self):
        """After '[': the class as code point ranges (negation and case folding applied)."""
        negated = False
        if self.peek() == "^":
            self.i += 1
            negated = True
        items: list[tuple[int, int]] = []  # literal members (subject to case folding)
        predefined: list[tuple[int, int]] = []
        first = True
        while True:
            ch = self.peek()
            if ch is None:
                raise self.error("unclosed character class")
            self.i += 1
            if ch == "]" and not first:
                break
            first = False
            if ch == "[":
                raise self.error("nested character classes (unions) are not supported")
            if ch == "&" and self.raw_peek() == "&":
                raise self.error("character class intersections (&&) are not supported")
            if ch == "\\":
                nxt = self.raw_peek()
                if nxt == "Q":
                    self.i += 1
                    end = self.p.find("\\E", self.i)
                    text = self.p[self.i:] if end < 0 else self.p[self.i:end]
                    self.i = len(self.p) if end < 0 else end + 2
                    items += [(ord(c), ord(c)) for c in text]
                    continue
                if nxt is None or nxt in "123456789k":
                    raise self.error("unsupported escape in a character class")
                value = self.escape_value(in_class=True)
                if not isinstance(value, int):
                    predefined += value
                    continue
                lo = value
            else:
                lo = ord(ch)
            # a range?
            if self.peek() == "-" and self.raw_peek(1) not in ("]", None):
                save = self.i
                self.i += 1
                end_ch = self.next()
                if end_ch == "[":
                    raise self.error("nested character classes (unions) are not supported")
                if end_ch == "\\":
                    value = self.escape_value(in_class=True)
                    if not isinstance(value, int):
                        raise self.error("illegal character range")
                    hi = value
                else:
                    hi = ord(end_ch)
                if hi < lo:
                    self.i = save
                    raise self.error("illegal character range")
                items.append((lo, hi))
            else:
                items.append((lo, lo))
        if "i" in self.flags:
            items = _ascii_case_closure(items)
        ranges = _normalize(items + predefined)
        return _complement(ranges) if negated else ranges


def translate_java_regex(pattern: str) -> str:
    """A Python ``re`` pattern (no flags needed) matching exactly what the Java pattern matches;
    raises UnsupportedRegex for constructs without a faithful translation."""
    return _JavaRegexTranslator(pattern).translate()


def compile_java_regex(pattern: str, where: str | None = None) -> regex.Pattern:
    try:
        source = translate_java_regex(pattern)
        re.compile(source)  # re decides what is served: the translation and its parity tests are re's
        return regex.compile(source)
    except UnsupportedRegex as e:
        raise BundleError(f"regex cannot be served: {e}", path=where) from None
    except (re.error, regex.error) as e:
        raise BundleError(f"regex {pattern!r} has no Python equivalent ({e})", path=where) from None
    except RecursionError:
        raise BundleError(f"regex {pattern!r} is nested too deeply", path=where) from None


def java_find_all(search, text: str) -> list[str]:
    """Every match of Matcher.find over text: after an empty match the search goes on one
    character further (Python's finditer would try a non-empty match at the same place).

    Where we differ from Java: Java goes on one UTF-16 unit, so a pattern that matches the empty
    string (``""``, ``\\s*``) also matches between the two halves of a character above U+FFFF (an
    emoji) and splits it; we go on one code point and keep it whole (java_split too)."""
    out = []
    pos, n = 0, len(text)
    while pos <= n:
        m = search(text, pos)
        if m is None:
            break
        s, e = m.span()
        out.append(text[s:e])
        pos = e if e > s else e + 1
    return out


def java_split(search, text: str) -> list[str]:
    """Java's Pattern.split(text) (limit 0)."""
    out = []
    index, pos, n = 0, 0, len(text)
    while pos <= n:
        m = search(text, pos)
        if m is None:
            break
        s, e = m.span()
        pos = e if e > s else e + 1
        if e == 0:  # a zero-width match at the beginning gives no leading empty token
            continue
        out.append(text[index:s])
        index = e
    if index == 0:
        return [text]
    out.append(text[index:])
    while out and not out[-1]:
        out.pop()
    return out


def _min_width(compiled) -> int:
    """The fewest characters a match can span (0 when unknown)."""
    try:
        from re import _parser  # CPython's own pattern parser
        return int(_parser.parse(compiled.pattern).getwidth()[0])
    except Exception:  # pragma: no cover - another Python: take the general path
        return 0


_ONE_CHARACTER = {"LITERAL", "NOT_LITERAL", "IN", "ANY"}
_REPEATS = {"MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"}
_MOST_CHARACTERS = 64  # a search tries at most this many characters at each position of the text


def cannot_backtrack(source: str) -> bool:
    """Whether a translated pattern is at most 64 single characters in a row of which only the
    last may repeat, at least 0 or 1 times (``\\s+``, ``[,;]``, ``,\\s*``): at each position of the
    text it matches or fails after at most 64 characters without going back, so a search costs a
    bounded amount per character of text. Anything else may backtrack (``\\s*,`` is already
    quadratic on a long run of spaces, and so is ``a{50000}`` on a long run of a's)."""
    try:
        from re import _parser  # CPython's own pattern parser
        items = list(_parser.parse(source))
    except Exception:  # pragma: no cover - another Python: assume the worst
        return False

    def one_character(item) -> bool:
        return str(item[0]) in _ONE_CHARACTER

    if len(items) > _MOST_CHARACTERS:
        return False
    if not items or all(map(one_character, items)):
        return True
    *head, (last_op, last_arg) = items
    if not all(map(one_character, head)) or str(last_op) not in _REPEATS:
        return False
    least, _, repeated = last_arg
    repeated = list(repeated)
    return least <= 1 and len(repeated) == 1 and one_character(repeated[0])


class CpuBudget:
    """CPU time a bundle's pattern may still spend, shared by the texts of one call. The regex
    package counts a timeout in the process's CPU time (C's clock(): every thread's), so the
    deadline is kept on that clock too (process_time)."""

    __slots__ = ("seconds", "deadline")

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.deadline = process_time() + seconds

    def left(self) -> float:
        """Seconds left; TimeoutError when none are."""
        left = self.deadline - process_time()
        if left <= 0:
            raise TimeoutError
        return left


def java_tokenizers(compiled: regex.Pattern):
    """(split, find_all, bounded): functions ``(text, budget)`` with Java's semantics for this
    pattern, spending at most what the CpuBudget has left (TimeoutError past that). ``bounded``
    False: the pattern cannot backtrack, needs no budget (pass None) and runs on ``re``: the
    ``regex`` package reads a clock (a system call, about 0.6 us) for each match once given a
    timeout, which made Spark's default ``\\s+`` six times slower. A pattern that never matches
    the empty string finds exactly what the engine's own C loops find, so they are used directly."""
    bounded = not cannot_backtrack(compiled.pattern)
    if not bounded:
        compiled = re.compile(compiled.pattern)
    search, split, findall, finditer = compiled.search, compiled.split, compiled.findall, compiled.finditer
    if bounded:
        def searcher(budget):
            return lambda text, pos: search(text, pos, timeout=budget.left())

        def split_all(text, budget):
            return split(text, timeout=budget.left())

        def find_all_at_once(text, budget):
            return findall(text, timeout=budget.left())

        def matches(text, budget):
            return finditer(text, timeout=budget.left())
    else:
        def searcher(budget):
            return search

        def split_all(text, budget):
            return split(text)

        def find_all_at_once(text, budget):
            return findall(text)

        def matches(text, budget):
            return finditer(text)

    def split_slowly(text, budget):
        return java_split(searcher(budget), text)

    if _min_width(compiled) == 0:
        return split_slowly, (lambda text, budget: java_find_all(searcher(budget), text)), bounded
    if compiled.groups:  # split and findall would return the groups
        return split_slowly, (lambda text, budget: [m.group() for m in matches(text, budget)]), bounded

    def split_text(text, budget):
        parts = split_all(text, budget)
        if len(parts) > 1:  # with no match Java returns the text itself, even ""
            while parts and not parts[-1]:
                parts.pop()
        return parts
    return split_text, find_all_at_once, bounded
