"""Java's String.toLowerCase (Java 17, root/English locale), with the JDK's word breaks it
needs for the final sigma, and String.length in UTF-16 units.

Java 17 knows Unicode 13.0; each Python knows a later version (14.0 on 3.11, 15.0 on 3.12, 15.1
on 3.13). So no answer here comes from Python's Unicode database (unicodedata): the categories
behind the word breaks and the cased test are Java 17's own (character_data.py, generated from
Java by tools/character_data), and Python's str.lower() is used only where it gives what Java
gives: on every code point except the characters Java 17 does not know, which Java leaves as they
are (found once per process by comparing this Python's str.lower with Java's table).

The one context-dependent rule is the final sigma: Java maps U+03A3 to "ς" when, within the word
(java.text.BreakIterator word boundaries), a cased character precedes it and none follows; Python
uses Unicode's case-ignorable rule instead, which disagrees around digits, marks and punctuation.
Both are reproduced below: the JDK's word-break rules are simulated, including how its isBoundary
answers next to supplementary characters. (Known residue: a supplementary character followed by a
combining mark right before the sigma, where the JDK's backward break table is not reproduced.)
"""

from __future__ import annotations

import re
from bisect import bisect_right
from functools import lru_cache

import numpy as np

JAVA_WHITESPACE = " \t\n\x0b\f\r"  # what Java's regex \s matches (and ASCII.isSpace): ASCII only

_SIGMA = "\u03a3"


# Java's tables (character_data, 70 KB) are imported on first use: only text beyond ASCII needs them.

@lru_cache(maxsize=None)
def _category_runs() -> tuple[tuple, str]:
    from .character_data import CATEGORIES, CATEGORY_STARTS

    return CATEGORY_STARTS, CATEGORIES


@lru_cache(maxsize=None)
def _java_lower_table() -> dict[str, str]:
    """String.toLowerCase of each character it changes, alone."""
    from .character_data import LOWERCASE

    return {chr(cp): low for cp, low in LOWERCASE.items()}


def java_category(cp: int) -> str:
    """Java 17's Character.getType(cp) as Unicode's two-letter category (Cn: unknown to Java)."""
    starts, categories = _category_runs()
    i = bisect_right(starts, cp) - 1
    return categories[2 * i:2 * i + 2]


@lru_cache(maxsize=None)
def python_lowers_otherwise() -> frozenset[str]:
    """The characters whose str.lower() on this Python differs from Java 17's toLowerCase of
    them: characters of later Unicode versions, which Java 17 leaves as they are (none of Java's
    own mappings differ on 3.11 to 3.13). Every code point is lowered at once and compared with
    Java's table (about 15 ms, once per process, on the first non-ASCII text lowercased); the
    sigma, whose Java answer depends on its neighbours, is left out."""
    from .character_data import LOWERCASE

    java_lower_table = _java_lower_table()
    several = [cp for cp, low in LOWERCASE.items() if len(low) > 1]  # U+0130: "i\u0307"
    stand_in = np.zeros(0x110000, dtype=bool)  # code points a space stands for in the bulk
    stand_in[0xD800:0xE000] = True  # surrogates, which UTF-32 cannot hold
    stand_in[[ord(_SIGMA)] + several] = True
    cps = np.arange(0x110000, dtype=np.uint32)
    cps[stand_in] = 0x20
    expected = cps.copy()
    singles = [(cp, ord(low)) for cp, low in LOWERCASE.items() if len(low) == 1]
    expected[[cp for cp, _ in singles]] = [low for _, low in singles]
    text = cps.tobytes().decode("utf-32-le")
    lowered = text.lower()
    if len(lowered) == len(text):
        got = np.frombuffer(lowered.encode("utf-32-le"), dtype=np.uint32)
        candidates = np.nonzero(got != expected)[0].tolist() + several
    else:  # this Python lowercases some other character to several: compare one by one
        candidates = [cp for cp in range(0x110000) if not 0xD800 <= cp <= 0xDFFF]
    return frozenset(ch for ch in map(chr, candidates)
                     if ch != _SIGMA and ch.lower() != java_lower_table.get(ch, ch))


def _find_lowered_otherwise(text: str):
    """The first character of text that str.lower() lowercases unlike Java (a match), or None.
    Replaces itself by the compiled search on its first call."""
    global _find_lowered_otherwise
    chars = python_lowers_otherwise()
    _find_lowered_otherwise = (re.compile("[" + "".join(map(re.escape, sorted(chars))) + "]").search
                               if chars else _finds_nothing)
    return _find_lowered_otherwise(text)


def _finds_nothing(text: str) -> None:
    return None


def _is_cased(cp: int) -> bool:
    """Java's ConditionalSpecialCasing.isCased: upper/lower/title letters plus Other_Lowercase
    and Other_Uppercase ranges listed there."""
    if java_category(cp) in ("Ll", "Lu", "Lt"):
        return True
    return (0x02B0 <= cp <= 0x02B8 or 0x02C0 <= cp <= 0x02C1 or 0x02E0 <= cp <= 0x02E4
            or cp == 0x0345 or cp == 0x037A or 0x1D2C <= cp <= 0x1D61 or 0x2160 <= cp <= 0x217F
            or 0x24B6 <= cp <= 0x24E9)


@lru_cache(maxsize=4096)
def _break_classes(cp: int):
    """The JDK word-break rule classes a code point belongs to (None: ignored, i.e. format chars)."""
    cat = java_category(cp)
    if cat == "Cf" and cp != 0x00AD:
        return None
    ch = chr(cp) if cat != "Cs" else ""
    out = {"any"}
    kanji = cp == 0x3005 or 0x4E00 <= cp <= 0x9FA5 or 0xF900 <= cp <= 0xFA2D
    kata = 0x30A1 <= cp <= 0x30FA or cp in (0x30FD, 0x30FE)
    hira = 0x3041 <= cp <= 0x3094 or cp in (0x309D, 0x309E)
    cjk = 0x3099 <= cp <= 0x309C or cp in (0x30FB, 0x30FC)
    for name, test in (("kanji", kanji), ("kata", kata), ("hira", hira), ("cjk", cjk)):
        if test:
            out.add(name)
    if cat in ("Mn", "Me"):
        out.add("encl")
    if cp in (0x0964, 0x0965):
        out.add("danda")
    if (cat[0] == "L" or cat == "Mc") and not (kanji or kata or hira or cjk):
        out.add("let")
    if cat[0] == "N":
        out.add("dgt")
    if cat in ("Pd", "Pc") or cp in (0x00AD, 0x2027) or (ch and ch in "\"'."):
        out.add("midword")
    if (ch and ch in "\"',.") or cp == 0x066B:
        out.add("midnum")
    if (cat == "Sc" and cp != 0x00A2) or (ch and ch in "#."):
        out.add("prenum")
    if (ch and ch in "%&") or cp in (0x00A2, 0x066A, 0x2030, 0x2031):
        out.add("postnum")
    if cp in (0x0A, 0x0C, 0x2028, 0x2029):
        out.add("ls")
    if cat == "Zs" or cp == 0x09:
        out.add("ws")
    if cp == 0x0D:
        out.add("cr")
    if "encl" not in out and cat not in ("Cc", "Cf", "Zl", "Zp"):
        out.add("base")
    return frozenset(out)


class _WordRules:
    """The JDK's default word-break rules as an NFA; the longest match from a position is a word.

        let = letter encl*; dgt = digit encl*; ws = space encl*
        word = let+ (midword let+)* danda?;  number = dgt+ (midnum dgt+)*
        rules: any | word? (number word)* (number postnum?)? | prenum (number word)* (number postnum?)?
               | ws* cr? ls? | [kata cjk]* | [hira cjk]* | kanji* | base encl+
    """

    def __init__(self):
        self.eps: list[list[int]] = []
        self.edges: list[list[tuple[str, int]]] = []
        self._closures: dict = {}
        self._steps: dict = {}

        def sym(c): return ("sym", c)
        def seq(*a): return ("seq",) + a
        def alt(*a): return ("alt",) + a
        def star(a): return ("star", a)
        def opt(a): return ("opt", a)
        def plus(a): return seq(a, star(a))

        let = seq(sym("let"), star(sym("encl")))
        dgt = seq(sym("dgt"), star(sym("encl")))
        ws = seq(sym("ws"), star(sym("encl")))
        word = seq(plus(let), star(seq(sym("midword"), plus(let))), opt(sym("danda")))
        number = seq(plus(dgt), star(seq(sym("midnum"), plus(dgt))))
        tail = seq(star(seq(number, word)), opt(seq(number, opt(sym("postnum")))))
        rules = alt(sym("any"), seq(opt(word), tail), seq(sym("prenum"), tail),
                    seq(star(ws), opt(sym("cr")), opt(sym("ls"))),
                    star(alt(sym("kata"), sym("cjk"))), star(alt(sym("hira"), sym("cjk"))),
                    star(sym("kanji")), seq(sym("base"), plus(sym("encl"))))
        start, self.accept = self._new(), self._new()
        self._build(rules, start, self.accept)
        self.start = self._closure(frozenset([start]))

    def _new(self) -> int:
        self.eps.append([])
        self.edges.append([])
        return len(self.eps) - 1

    def _build(self, node, s: int, e: int) -> None:
        kind = node[0]
        if kind == "sym":
            self.edges[s].append((node[1], e))
        elif kind == "seq":
            cur = s
            for part in node[1:-1]:
                nxt = self._new()
                self._build(part, cur, nxt)
                cur = nxt
            self._build(node[-1], cur, e)
        elif kind == "alt":
            for part in node[1:]:
                self._build(part, s, e)
        elif kind == "star":
            loop, back = self._new(), self._new()
            self.eps[s].append(loop)
            self.eps[loop].append(e)
            self._build(node[1], loop, back)
            self.eps[back].append(loop)
        else:  # opt
            self.eps[s].append(e)
            self._build(node[1], s, e)

    def _closure(self, states: frozenset) -> frozenset:
        out = self._closures.get(states)
        if out is None:
            seen, todo = set(states), list(states)
            while todo:
                for t in self.eps[todo.pop()]:
                    if t not in seen:
                        seen.add(t)
                        todo.append(t)
            out = self._closures[states] = frozenset(seen)
        return out

    def step(self, states: frozenset, classes: frozenset) -> frozenset:
        key = (states, classes)
        out = self._steps.get(key)
        if out is None:
            nxt = frozenset(t for s in states for c, t in self.edges[s] if c in classes)
            out = self._steps[key] = self._closure(nxt)
        return out


_WORD_RULES = None


class _Utf16Text:
    """A string as Java sees it (UTF-16 units), with the word segmentation the JDK's rules give
    from its start; shared by every sigma of one string."""

    def __init__(self, text: str):
        global _WORD_RULES
        if _WORD_RULES is None:
            _WORD_RULES = _WordRules()
        self.rules = _WORD_RULES
        data = text.encode("utf-16-le", "surrogatepass")
        self.units = [data[i] | (data[i + 1] << 8) for i in range(0, len(data), 2)]
        self.n = len(self.units)
        self._breaks = None

    def code_point(self, i: int) -> tuple[int, int]:
        u = self.units
        c = u[i]
        if 0xD800 <= c <= 0xDBFF and i + 1 < self.n and 0xDC00 <= u[i + 1] <= 0xDFFF:
            return ((c - 0xD800) << 10) + (u[i + 1] - 0xDC00) + 0x10000, 2
        return c, 1

    def code_point_before(self, i: int) -> tuple[int, int]:
        u = self.units
        c = u[i - 1]
        if 0xDC00 <= c <= 0xDFFF and i >= 2 and 0xD800 <= u[i - 2] <= 0xDBFF:
            return ((u[i - 2] - 0xD800) << 10) + (c - 0xDC00) + 0x10000, 2
        return c, 1

    def handle_next(self, pos: int) -> int:
        """The JDK's handleNext: the end of the longest rule match from pos (at least one code
        point); ignored characters leave the state as it is and extend an accepted match."""
        if pos >= self.n:
            return -1
        rules = self.rules
        result = pos + self.code_point(pos)[1]
        states = rules.start
        i = pos
        while i < self.n:
            cp, width = self.code_point(i)
            classes = _break_classes(cp)
            if classes is not None:
                states = rules.step(states, classes)
                if not states:
                    break
            if rules.accept in states:
                result = i + width
            i += width
        return result

    def last_break_at_or_before(self, pos: int) -> int:
        if self._breaks is None:
            breaks, p = [0], 0
            while p < self.n:
                p = self.handle_next(p)
                breaks.append(p)
            self._breaks = breaks
        return self._breaks[bisect_right(self._breaks, pos) - 1]


class _JavaWordBreaks:
    """One java.text.BreakIterator.getWordInstance() over a string (offsets in UTF-16 units):
    isBoundary is ``following(offset - 1) == offset`` with the iterator's cached last break; the
    backward sync (handlePrevious) lands on the last true break, except inside a surrogate pair,
    where the JDK restarts from the pair's low half (or from the start for a leading pair)."""

    def __init__(self, text: _Utf16Text):
        self.text = text
        self.cached = -1

    def _handle_previous(self, pos: int) -> int:
        t = self.text
        u = t.units
        if 0 < pos < t.n and 0xDC00 <= u[pos] <= 0xDFFF and 0xD800 <= u[pos - 1] <= 0xDBFF:
            return 0 if pos == 1 else pos
        return t.last_break_at_or_before(pos)

    def following(self, offset: int) -> int:
        if offset == 0:
            self.cached = self.text.handle_next(0)
            return self.cached
        result = self.cached
        if result >= offset or result <= -1:
            result = self._handle_previous(offset)
        while result != -1 and result <= offset:
            result = self.text.handle_next(result)
        self.cached = result
        return result

    def is_boundary(self, offset: int) -> bool:
        return offset == 0 or self.following(offset - 1) == offset


def _final_cased(text: _Utf16Text, index: int) -> bool:
    """Java's ConditionalSpecialCasing.isFinalCased at UTF-16 offset ``index`` (a fresh
    BreakIterator each time, as Java makes one per sigma)."""
    breaks = _JavaWordBreaks(text)
    i = index
    while i >= 0 and not breaks.is_boundary(i):
        cp, width = text.code_point_before(i)
        if _is_cased(cp):
            j = index + 1
            while j < text.n and not breaks.is_boundary(j):
                cp, width = text.code_point(j)
                if _is_cased(cp):
                    return False
                j += width
            return True
        i -= width
    return False


def java_lower(text: str) -> str:
    """Java 17's ``String.toLowerCase()`` (root/English locale)."""
    if text.isascii():
        return text.lower()
    if _SIGMA not in text and not _find_lowered_otherwise(text):
        return text.lower()
    out = []
    utf16 = None
    offset = 0  # UTF-16 offset, as Java indexes the string
    java_lower_char = _java_lower_table().get
    for ch in text:
        if ch == _SIGMA:
            if utf16 is None:
                utf16 = _Utf16Text(text)
            out.append("\u03c2" if _final_cased(utf16, offset) else "\u03c3")
        else:
            out.append(java_lower_char(ch, ch))  # no context rule other than the sigma's
        offset += 2 if ord(ch) > 0xFFFF else 1
    return "".join(out)


def utf16_length(s: str) -> int:
    """Java's String.length(): UTF-16 code units."""
    if s.isascii():
        return len(s)
    return len(s) + sum(1 for c in s if ord(c) > 0xFFFF)
