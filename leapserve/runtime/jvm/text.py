"""Java's String.toLowerCase (Java 17, root/English locale), with the JDK's word breaks it
needs for the final sigma, and String.length in UTF-16 units.

Python's str.lower() agrees with Java's toLowerCase (root/English locale) on every single code
point except characters that Unicode 14 added (Python 3.11) and Java 17 (Unicode 13) does not
know; those Java leaves unchanged. The one context-dependent rule is the final sigma: Java maps
U+03A3 to "ς" when, within the word (java.text.BreakIterator word boundaries), a cased character
precedes it and none follows; Python uses Unicode's case-ignorable rule instead, which disagrees
around digits, marks and punctuation. Both are reproduced below: the JDK's word-break rules are
simulated, including how its isBoundary answers next to supplementary characters. (Known
residue: a supplementary character followed by a combining mark right before the sigma, where
the JDK's backward break table is not reproduced.)
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from functools import lru_cache

JAVA_WHITESPACE = " \t\n\x0b\f\r"  # what Java's regex \s matches (and ASCII.isSpace): ASCII only

# Code points whose general category differs between Unicode 14 (Python) and Unicode 13 (Java 17):
# (first, last, Java's category).
_JAVA17_CATEGORY_RANGES = (
    (0x061D, 0x061D, "Cn"), (0x0870, 0x088E, "Cn"), (0x0890, 0x0891, "Cn"), (0x0898, 0x089F, "Cn"),
    (0x08B5, 0x08B5, "Cn"), (0x08C8, 0x08D2, "Cn"), (0x0C3C, 0x0C3C, "Cn"), (0x0C5D, 0x0C5D, "Cn"),
    (0x0CDD, 0x0CDD, "Cn"), (0x170D, 0x170D, "Cn"), (0x1715, 0x1715, "Cn"), (0x171F, 0x171F, "Cn"),
    (0x1734, 0x1734, "Mn"), (0x180F, 0x180F, "Cn"), (0x1AC1, 0x1ACE, "Cn"), (0x1B4C, 0x1B4C, "Cn"),
    (0x1B7D, 0x1B7E, "Cn"), (0x1DFA, 0x1DFA, "Cn"), (0x20C0, 0x20C0, "Cn"), (0x2C2F, 0x2C2F, "Cn"),
    (0x2C5F, 0x2C5F, "Cn"), (0x2E53, 0x2E5D, "Cn"), (0x9FFD, 0x9FFF, "Cn"), (0xA7C0, 0xA7C1, "Cn"),
    (0xA7D0, 0xA7D1, "Cn"), (0xA7D3, 0xA7D3, "Cn"), (0xA7D5, 0xA7D9, "Cn"), (0xA7F2, 0xA7F4, "Cn"),
    (0xFBC2, 0xFBC2, "Cn"), (0xFD40, 0xFD4F, "Cn"), (0xFDCF, 0xFDCF, "Cn"), (0xFDFE, 0xFDFF, "Cn"),
    (0x10570, 0x1057A, "Cn"), (0x1057C, 0x1058A, "Cn"), (0x1058C, 0x10592, "Cn"),
    (0x10594, 0x10595, "Cn"), (0x10597, 0x105A1, "Cn"), (0x105A3, 0x105B1, "Cn"),
    (0x105B3, 0x105B9, "Cn"), (0x105BB, 0x105BC, "Cn"), (0x10780, 0x10785, "Cn"),
    (0x10787, 0x107B0, "Cn"), (0x107B2, 0x107BA, "Cn"), (0x10F70, 0x10F89, "Cn"),
    (0x11070, 0x11075, "Cn"), (0x110C2, 0x110C2, "Cn"), (0x116B9, 0x116B9, "Cn"),
    (0x11740, 0x11746, "Cn"), (0x11AB0, 0x11ABF, "Cn"), (0x12F90, 0x12FF2, "Cn"),
    (0x16A70, 0x16ABE, "Cn"), (0x16AC0, 0x16AC9, "Cn"), (0x1AFF0, 0x1AFF3, "Cn"),
    (0x1AFF5, 0x1AFFB, "Cn"), (0x1AFFD, 0x1AFFE, "Cn"), (0x1B11F, 0x1B122, "Cn"),
    (0x1CF00, 0x1CF2D, "Cn"), (0x1CF30, 0x1CF46, "Cn"), (0x1CF50, 0x1CFC3, "Cn"),
    (0x1D1E9, 0x1D1EA, "Cn"), (0x1DF00, 0x1DF1E, "Cn"), (0x1E290, 0x1E2AE, "Cn"),
    (0x1E7E0, 0x1E7E6, "Cn"), (0x1E7E8, 0x1E7EB, "Cn"), (0x1E7ED, 0x1E7EE, "Cn"),
    (0x1E7F0, 0x1E7FE, "Cn"), (0x1F6DD, 0x1F6DF, "Cn"), (0x1F7F0, 0x1F7F0, "Cn"),
    (0x1F979, 0x1F979, "Cn"), (0x1F9CC, 0x1F9CC, "Cn"), (0x1FA7B, 0x1FA7C, "Cn"),
    (0x1FAA9, 0x1FAAC, "Cn"), (0x1FAB7, 0x1FABA, "Cn"), (0x1FAC3, 0x1FAC5, "Cn"),
    (0x1FAD7, 0x1FAD9, "Cn"), (0x1FAE0, 0x1FAE7, "Cn"), (0x1FAF0, 0x1FAF6, "Cn"),
    (0x2A6DE, 0x2A6DF, "Cn"), (0x2B735, 0x2B738, "Cn"),
)
_JAVA17_CATEGORY = {cp: cat for lo, hi, cat in _JAVA17_CATEGORY_RANGES for cp in range(lo, hi + 1)}
# Characters Python lowercases that Java 17 leaves as they are.
_JAVA_UNCHANGED = frozenset(chr(cp) for cp in _JAVA17_CATEGORY if chr(cp).lower() != chr(cp))
_JAVA_UNCHANGED_RE = re.compile("[" + "".join(sorted(_JAVA_UNCHANGED)) + "]")
_SIGMA = "\u03a3"


def _java_category(cp: int) -> str:
    if 0xD800 <= cp <= 0xDFFF:
        return "Cs"
    cat = _JAVA17_CATEGORY.get(cp)
    return cat if cat is not None else unicodedata.category(chr(cp))


def _is_cased(cp: int) -> bool:
    """Java's ConditionalSpecialCasing.isCased: upper/lower/title letters plus Other_Lowercase
    and Other_Uppercase ranges listed there."""
    if _java_category(cp) in ("Ll", "Lu", "Lt"):
        return True
    return (0x02B0 <= cp <= 0x02B8 or 0x02C0 <= cp <= 0x02C1 or 0x02E0 <= cp <= 0x02E4
            or cp == 0x0345 or cp == 0x037A or 0x1D2C <= cp <= 0x1D61 or 0x2160 <= cp <= 0x217F
            or 0x24B6 <= cp <= 0x24E9)


@lru_cache(maxsize=4096)
def _break_classes(cp: int):
    """The JDK word-break rule classes a code point belongs to (None: ignored, i.e. format chars)."""
    cat = _java_category(cp)
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
    if _SIGMA not in text and not _JAVA_UNCHANGED_RE.search(text):
        return text.lower()
    out = []
    utf16 = None
    offset = 0  # UTF-16 offset, as Java indexes the string
    for ch in text:
        if ch == _SIGMA:
            if utf16 is None:
                utf16 = _Utf16Text(text)
            out.append("\u03c2" if _final_cased(utf16, offset) else "\u03c3")
        elif ch in _JAVA_UNCHANGED:
            out.append(ch)
        else:
            out.append(ch.lower())  # per character: no context rule other than sigma applies
        offset += 2 if ord(ch) > 0xFFFF else 1
    return "".join(out)


def utf16_length(s: str) -> int:
    """Java's String.length(): UTF-16 code units."""
    if s.isascii():
        return len(s)
    return len(s) + sum(1 for c in s if ord(c) > 0xFFFF)
