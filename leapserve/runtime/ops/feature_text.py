"""Text features: tokenizer, hashing_term_frequency, count_vectorizer, idf.

Semantics are Spark 3.5's (Tokenizer, HashingTF, CountVectorizerModel, IDFModel):

* tokenizer: ``s.toLowerCase().split("\\s")`` with the JVM's rules. ``\\s`` is ASCII whitespace
  only (space, \\t, \\n, \\x0b, \\f, \\r); consecutive separators give empty tokens; trailing empty
  tokens are removed, a leading one is kept; a string with no separator is returned whole, so ""
  gives [""] while " " gives []. Lowercasing follows Java's ``String.toLowerCase`` on Java 17 (see
  ``java_lower``). A null string is an error.
* hashing_term_frequency: each term's UTF-8 bytes hashed with MurmurHash3 x86_32, seed 42
  (``hashUnsafeBytesVersion`` 2 = standard, Spark 3; 1 = Spark 2's legacy variant, MLeap's default
  when the attribute is absent), bucket = non-negative modulo; a null term hashes to the seed
  itself. Counts (or 1.0 when ``binary``), always a sparse vector. The input is list<string> as in
  MLeap: non-string items are turned into strings by the input casting before hashing, whereas
  Spark hashes the numbers of an array<int>/array<double> column with hashInt/hashLong, so a
  HashingTF fit on a numeric array column does not score like Spark.
* count_vectorizer: counts of in-vocabulary terms; ``min_tf`` >= 1 is an absolute count, below 1 a
  fraction of the document's token count (out-of-vocabulary and null tokens included); entries
  below the threshold are dropped; ``binary`` gives 1.0. Always sparse.
* idf: ``x_i * idf_i``; sparse stays sparse (stored entries only, zeros kept), dense stays dense.

A null list or vector is an error (Spark's UDFs throw on it).
"""

from __future__ import annotations

import re
import unicodedata
from array import array
from bisect import bisect_right
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import chain, repeat

import numpy as np

from ..errors import BundleError, InvalidInput
from ..murmur3 import hash_string
from ..registry import op
from ..types import STRING, STRING_LIST, vector
from ..vectors import SparseBatch, SparseVector
from .base import OpModel, frozen

# --- Java's String.toLowerCase ----------------------------------------------------------------
#
# Python's str.lower() agrees with Java's toLowerCase (root/English locale) on every single code
# point except characters that Unicode 14 added (Python 3.11) and Java 17 (Unicode 13) does not
# know; those Java leaves unchanged. The one context-dependent rule is the final sigma: Java maps
# U+03A3 to "ς" when, within the word (java.text.BreakIterator word boundaries), a cased character
# precedes it and none follows; Python uses Unicode's case-ignorable rule instead, which disagrees
# around digits, marks and punctuation. Both are reproduced below: the JDK's word-break rules are
# simulated, including how its isBoundary answers next to supplementary characters. (Known
# residue: a supplementary character followed by a combining mark right before the sigma, where
# the JDK's backward break table is not reproduced.)

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


_split_java_whitespace = re.compile("[ \t\n\x0b\f\r]").split


def tokenize(text: str) -> list[str]:
    """Spark's Tokenizer: ``text.toLowerCase.split("\\s")`` with Java's split rules."""
    parts = _split_java_whitespace(text.lower() if text.isascii() else java_lower(text))
    if len(parts) > 1:  # no separator at all: the string itself, even when empty
        while parts and not parts[-1]:
            parts.pop()
    return parts


_OTHER_JAVA_WHITESPACE = "\t\n\x0b\f\r"


def tokenize_all(texts: list) -> list[list[str]]:
    """tokenize() over many strings. When they are all ASCII and the only whitespace is the space
    (the common case, checked once over the joined text), each row is str.lower then str.split
    on " ", both called from C through map: the same tokens as Java's split on that one
    separator, in under half the regular expression's time."""
    joined = "".join(texts)
    if not (joined.isascii() and not any(ch in joined for ch in _OTHER_JAVA_WHITESPACE)):
        return list(map(tokenize, texts))
    parts = list(map(str.split, map(str.lower, texts), repeat(" ", len(texts))))
    for tokens in parts:
        if len(tokens) > 1 and not tokens[-1]:  # Java drops trailing empty strings
            while tokens and not tokens[-1]:
                tokens.pop()
    return parts


def _null(port: str, what: str) -> InvalidInput:
    return InvalidInput(port, f"{what} (nulls are not accepted)", "null")


def _object_column(col) -> list:
    return col.tolist() if isinstance(col, np.ndarray) else list(col)


def _csr(size: int, indptr: list, indices: list, values: list) -> SparseBatch:
    return SparseBatch(size, np.asarray(indptr, dtype=np.int64), np.asarray(indices, dtype=np.int64),
                       np.asarray(values, dtype=np.float64))


# --- tokenizer ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class TokenizerModel(OpModel):
    op_name = "tokenizer"

    def input_ports(self):
        return [("input", STRING)]

    def output_ports(self):
        return [("output", STRING_LIST)]

    def row_fn(self, outputs):
        def run(text):
            if text is None:
                raise _null("input", "a string")
            return (tokenize(text),)
        return run

    def batch_fn(self, outputs):
        def run(ctx, col):
            texts = _object_column(col)
            if None in texts:
                raise InvalidInput("input", "a string (nulls are not accepted)", "null", row=texts.index(None))
            return (np.fromiter(tokenize_all(texts), dtype=object, count=len(texts)),)
        return run


@op("tokenizer", family="feature")
def load_tokenizer(node) -> TokenizerModel:
    """Tokenizer: lowercase (Java rules), split on each ASCII whitespace character."""
    return TokenizerModel()


# --- hashing_term_frequency --------------------------------------------------------------------

def term_index(term, num_features: int, version: int) -> int:
    """Spark's HashingTF.indexOf: murmur3 of the UTF-8 bytes (a null hashes to the seed, 42)."""
    if term is None:
        return 42 % num_features
    if not isinstance(term, str):
        raise InvalidInput("input", "a list of strings", f"an item of type {type(term).__name__}")
    return hash_string(term, 42, version) % num_features


class _TermIndexCache:
    """Term -> bucket, remembered across records (tokens repeat a lot). Two generations of plain
    dicts approximate least-recently-used eviction while a hit costs one dict lookup: a term that
    misses the young generation is promoted from the old one (or hashed), and when the young one
    is full it becomes the old one, dropping the terms not used during a whole generation."""

    __slots__ = ("young", "old", "limit", "index_of")

    def __init__(self, index_of, limit: int = 1 << 16):
        self.young: dict = {}
        self.old: dict = {}
        self.limit = limit
        self.index_of = index_of

    def lookup(self, term) -> int:
        i = self.old.get(term)
        if i is None:
            i = self.index_of(term)
        young = self.young
        if len(young) >= self.limit:
            self.old = young
            young = self.young = {}
        young[term] = i
        return i


@dataclass(frozen=True)
class HashingTermFrequencyModel(OpModel):
    num_features: int
    binary: bool
    hash_version: int
    cache: _TermIndexCache = field(compare=False, repr=False)

    op_name = "hashing_term_frequency"

    def input_ports(self):
        return [("input", STRING_LIST)]

    def output_ports(self):
        return [("output", vector(self.num_features))]

    def index_of(self, term) -> int:
        return term_index(term, self.num_features, self.hash_version)

    def _counter(self):
        cache, binary = self.cache, self.binary
        lookup = cache.lookup

        def counts(terms) -> dict:
            get = cache.young.get
            tf: dict = {}
            if binary:
                for t in terms:
                    i = get(t)
                    tf[lookup(t) if i is None else i] = 1.0
            else:
                for t in terms:
                    i = get(t)
                    if i is None:
                        i = lookup(t)
                    tf[i] = tf.get(i, 0.0) + 1.0
            return tf
        return counts

    def row_fn(self, outputs):
        counts, size = self._counter(), self.num_features

        def run(terms):
            if terms is None:
                raise _null("input", "a list of strings")
            tf = counts(terms)
            idx = sorted(tf)
            return (SparseVector(size, idx, [tf[i] for i in idx]),)
        return run

    def batch_fn(self, outputs):
        cache, size, binary = self.cache, self.num_features, self.binary

        def run(ctx, col):
            lists = _object_column(col)
            try:
                lengths = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
            except TypeError:  # a null row (len(None)); the first one is reported
                r = next(r for r, terms in enumerate(lists) if terms is None)
                raise InvalidInput("input", "a list of strings (nulls are not accepted)", "null", row=r) from None
            terms = list(chain.from_iterable(lists))
            # Every term of the batch at once: dict lookups from C (-1 for a miss: buckets are
            # >= 0), the misses hashed one by one.
            cols = np.fromiter(map(cache.young.get, terms, repeat(-1, len(terms))), dtype=np.int64,
                               count=len(terms))
            for j in np.flatnonzero(cols < 0).tolist():
                try:
                    cols[j] = cache.lookup(terms[j])
                except InvalidInput as e:
                    e.row = int(np.searchsorted(np.cumsum(lengths), j, side="right"))
                    raise
            rows = np.repeat(np.arange(len(lists), dtype=np.int64), lengths)
            # (row, bucket) pairs counted and sorted by row then bucket, as each row's sorted(tf).
            # The pairs arrive sorted by row: a stable (merging) sort finishes them fast.
            keys, counts = _counted(np.sort(rows * size + cols, kind="stable"))
            indptr = np.zeros(len(lists) + 1, dtype=np.int64)
            np.cumsum(np.bincount(keys // size, minlength=len(lists)), out=indptr[1:])
            values = np.ones(len(keys)) if binary else counts.astype(np.float64)
            return (SparseBatch(size, indptr, keys % size, values),)
        return run


def _counted(ordered: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct values of a sorted array and how often each occurs (np.unique without its
    sort)."""
    if not len(ordered):
        return ordered, np.zeros(0, dtype=np.int64)
    first = np.empty(len(ordered), dtype=bool)
    first[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    return ordered[starts], np.diff(starts, append=len(ordered))


@op("hashing_term_frequency", family="feature")
def load_hashing_term_frequency(node) -> HashingTermFrequencyModel:
    """HashingTF: term counts bucketed by MurmurHash3 (hashUnsafeBytesVersion 2, or legacy 1)."""
    attrs = node.attrs
    num_features = attrs.long("num_features")
    if num_features <= 0 or num_features >= 1 << 31:
        raise BundleError(f"attribute 'num_features' must be a positive int, found {num_features}",
                          path=attrs.where)
    version = attrs.int("hashUnsafeBytesVersion", 1)  # MLeap: absent means Spark 2's hash
    if version not in (1, 2):
        raise BundleError(f"attribute 'hashUnsafeBytesVersion' must be 1 or 2, found {version}",
                          path=attrs.where)
    cache = _TermIndexCache(lambda term: term_index(term, num_features, version))
    return HashingTermFrequencyModel(num_features, attrs.boolean("binary", False), version, cache)


# --- count_vectorizer --------------------------------------------------------------------------

@dataclass(frozen=True)
class CountVectorizerModel(OpModel):
    vocabulary: tuple[str, ...]
    binary: bool
    min_tf: float
    index: dict = field(compare=False, repr=False)

    op_name = "count_vectorizer"

    def input_ports(self):
        return [("input", STRING_LIST)]

    def output_ports(self):
        return [("output", vector(len(self.vocabulary)))]

    def _counter(self):
        index, binary, min_tf = self.index, self.binary, self.min_tf
        get = index.get
        absolute = min_tf >= 1.0

        def counts(doc) -> tuple[list[int], list[float]]:
            tf: dict = {}
            for t in doc:
                i = get(t)
                if i is not None:
                    tf[i] = tf.get(i, 0) + 1
            if not tf:
                return [], []
            threshold = min_tf if absolute else len(doc) * min_tf
            idx = sorted(i for i, c in tf.items() if c >= threshold)
            return idx, ([1.0] * len(idx) if binary else [float(tf[i]) for i in idx])
        return counts

    def row_fn(self, outputs):
        counts, size = self._counter(), len(self.vocabulary)

        def run(doc):
            if doc is None:
                raise _null("input", "a list of strings")
            idx, vals = counts(doc)
            return (SparseVector(size, idx, vals),)
        return run

    def batch_fn(self, outputs):
        counts, size = self._counter(), len(self.vocabulary)

        def run(ctx, col):
            indptr, indices, values = [0], [], []
            for r, doc in enumerate(_object_column(col)):
                if doc is None:
                    raise InvalidInput("input", "a list of strings (nulls are not accepted)", "null", row=r)
                idx, vals = counts(doc)
                indices += idx
                values += vals
                indptr.append(len(indices))
            return (_csr(size, indptr, indices, values),)
        return run


@op("count_vectorizer", family="feature")
def load_count_vectorizer(node) -> CountVectorizerModel:
    """CountVectorizerModel: vocabulary counts with min_tf (absolute or fraction) and binary."""
    attrs = node.attrs
    vocabulary = tuple(attrs.string_list("vocabulary"))
    min_tf = attrs.double("min_tf", 1.0)
    if not min_tf >= 0.0:
        raise BundleError(f"attribute 'min_tf' must be >= 0, found {min_tf}", path=attrs.where)
    index = {term: i for i, term in enumerate(vocabulary)}  # a repeated term keeps its last index, as Spark's toMap
    return CountVectorizerModel(vocabulary, attrs.boolean("binary", False), min_tf, index)


# --- idf ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class IDFModel(OpModel):
    idf: tuple[float, ...]
    idf_array: np.ndarray = field(compare=False, repr=False)

    op_name = "idf"

    @property
    def size(self) -> int:
        return len(self.idf)

    def input_ports(self):
        return [("input", vector(self.size))]

    def output_ports(self):
        return [("output", vector(self.size))]

    def row_fn(self, outputs):
        # A packed array: sparse term vectors index a long idf vector at random, and compact
        # doubles are much kinder to the cache than a list of float objects.
        idf, size = array("d", self.idf), self.size

        def run(x):
            if x is None:
                raise _null("input", f"a vector of size {size}")
            if isinstance(x, SparseVector):
                if x.size != size:
                    raise InvalidInput("input", f"vector of size {size}", f"vector of size {x.size}")
                return (SparseVector(size, x.indices, [v * idf[i] for i, v in zip(x.indices, x.values)]),)
            if len(x) != size:
                raise InvalidInput("input", f"vector of size {size}", f"vector of size {len(x)}")
            return ([v * w for v, w in zip(x, idf)],)
        return run

    def batch_fn(self, outputs):
        idf = self.idf_array

        def run(ctx, X):
            if X.shape[1] != self.size:
                raise InvalidInput("input", f"vectors of size {self.size}", f"vectors of size {X.shape[1]}")
            with np.errstate(invalid="ignore", over="ignore"):
                if isinstance(X, SparseBatch):
                    return (X.with_values(X.values * idf[X.indices]),)
                return (X * idf,)
        return run


@op("idf", family="feature")
def load_idf(node) -> IDFModel:
    """IDFModel: each component scaled by its inverse document frequency."""
    idf = node.attrs.vector("idf")
    return IDFModel(tuple(idf), frozen(idf))
