"""Text to tokens: tokenizer, regex_tokenizer, stopwords_remover, ngram.

Semantics are Spark 3.5's (Tokenizer, RegexTokenizer, StopWordsRemover, NGram):

* tokenizer: ``s.toLowerCase().split("\\s")`` with the JVM's rules. ``\\s`` is ASCII whitespace
  only (space, \\t, \\n, \\x0b, \\f, \\r); consecutive separators give empty tokens; trailing empty
  tokens are removed, a leading one is kept; a string with no separator is returned whole, so ""
  gives [""] while " " gives []. Lowercasing follows Java's ``String.toLowerCase`` on Java 17 (see
  ``jvm.text.java_lower``). A null string is an error.
* regex_tokenizer: optional ``toLowerCase`` (Java rules, see jvm.text.java_lower), then with
  ``gaps`` Java's ``Pattern.split`` (no leading empty token for a zero-width match at 0, trailing
  empty tokens removed, the whole text when nothing matches) or else every match of
  ``Matcher.find`` (after an empty match the search resumes one character further); tokens
  shorter than ``minTokenLength`` UTF-16 units are dropped. A null text is an error.
  The bundle holds a *Java* regular expression. It is translated once, at load time, into a
  Python ``re`` pattern that needs no flags: Java's ASCII-only ``\\d \\s \\w``, its dot (which
  stops at every line terminator), ``^ $ \\Z`` and ASCII case-insensitivity are spelled out as
  explicit classes and lookarounds. Constructs that ``re`` cannot reproduce faithfully (``\\b``,
  Unicode properties, class unions and intersections, Unicode case folding, ...) are refused
  with a BundleError naming the construct.
* stopwords_remover: tokens in the stop word list are removed; case-insensitive comparison
  lowercases both sides with Java's root-locale rules (Spark's ``locale`` is not in the bundle).
  Null tokens are kept. A null list is an error.
* ngram: windows of n consecutive tokens joined by one space (a null token prints as "null");
  fewer than n tokens give an empty list. A null list is an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from itertools import repeat

import numpy as np
import regex

from ..errors import BundleError, InvalidInput, TimeLimitExceeded
from ..jvm.regex import CpuBudget, compile_java_regex, java_tokenizers
from ..jvm.text import JAVA_WHITESPACE, java_lower, utf16_length
from ..model import OpModel, TextCache, bundle_limits, text_cache_bytes
from ..registry import op
from ..types import STRING, STRING_LIST, FieldType
from ..vectors import object_column, object_rows

_split_java_whitespace = re.compile(f"[{JAVA_WHITESPACE}]").split


def tokenize(text: str) -> list[str]:
    """Spark's Tokenizer: ``text.toLowerCase.split("\\s")`` with Java's split rules."""
    parts = _split_java_whitespace(text.lower() if text.isascii() else java_lower(text))
    if len(parts) > 1:  # no separator at all: the string itself, even when empty
        while parts and not parts[-1]:
            parts.pop()
    return parts


_OTHER_JAVA_WHITESPACE = JAVA_WHITESPACE.replace(" ", "")


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


def _null(port: str, what: str, row: int | None = None) -> InvalidInput:
    return InvalidInput(port, f"{what} (nulls are not accepted)", "null", row=row)


class _TextOp(OpModel):
    """A list-valued op applied record by record: ``apply(value)`` on both paths."""

    input_type: FieldType = STRING_LIST
    input_what = "a list of strings"

    def input_ports(self):
        return [("input", self.input_type)]

    def output_ports(self):
        return [("output", STRING_LIST)]

    def row_fn(self, outputs):
        apply, what = self.apply, self.input_what

        def run(value):
            if value is None:
                raise _null("input", what)
            return (apply(value),)
        return run

    def batch_fn(self, outputs):
        apply, what = self.apply, self.input_what

        def run(ctx, col):
            values = object_rows(col)
            out = []
            for r, value in enumerate(values):
                if value is None:
                    raise _null("input", what, row=r)
                out.append(apply(value))
            return (object_column(out),)
        return run


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
            texts = object_rows(col)
            if None in texts:
                raise InvalidInput("input", "a string (nulls are not accepted)", "null", row=texts.index(None))
            return (np.fromiter(tokenize_all(texts), dtype=object, count=len(texts)),)
        return run


@op("tokenizer", family="feature")
def load_tokenizer(node) -> TokenizerModel:
    """Tokenizer: lowercase (Java rules), split on each ASCII whitespace character."""
    return TokenizerModel()


# --- regex_tokenizer ---------------------------------------------------------------------------

_MIB = 1 << 20


@dataclass(frozen=True)
class RegexTokenizerModel(_TextOp):
    """A call (one record, or one batch) may spend LEAPSERVE_REGEX_TIMEOUT_MS of CPU time per MiB
    of its text (at least that once) in a pattern that could backtrack: shared by its strings,
    so neither one string nor many strings that each stay under a per-string bound can hold a
    request thread for long (java.util.regex has no bound at all)."""

    pattern: str
    gaps: bool
    min_token_length: int
    to_lowercase: bool
    timeout_ms: int
    compiled: regex.Pattern = field(compare=False, repr=False)

    op_name = "regex_tokenizer"
    input_type = STRING
    input_what = "a string"

    def _tokenizer(self):
        """(tokens(text, budget), bounded): the tokens of one text as Spark keeps them."""
        split, find_all, bounded = java_tokenizers(self.compiled)
        cut = split if self.gaps else find_all
        if self.to_lowercase:
            def lowered(text, budget):
                return cut(text.lower() if text.isascii() else java_lower(text), budget)
            cut_text = lowered
        else:
            cut_text = cut
        min_length = self.min_token_length
        if min_length <= 0:
            return cut_text, bounded
        if min_length == 1:
            return (lambda text, budget: [t for t in cut_text(text, budget) if t]), bounded
        return (lambda text, budget: [t for t in cut_text(text, budget) if utf16_length(t) >= min_length]), bounded

    def _out_of_time(self, text: str, budget: CpuBudget, row: int | None = None) -> TimeLimitExceeded:
        return TimeLimitExceeded(
            "input", f"text the pattern {self.pattern!r} tokenizes within {self.timeout_ms} ms of CPU time per MiB "
            "(LEAPSERVE_REGEX_TIMEOUT_MS)",
            f"a string of {len(text)} characters still being tokenized when the call's {budget.seconds * 1000:.0f} ms "
            "ran out", row=row)

    def _budget(self, characters: int) -> CpuBudget:
        return CpuBudget(self.timeout_ms / 1000 * max(1.0, characters / _MIB))

    def row_fn(self, outputs):
        tokens, bounded = self._tokenizer()
        what = self.input_what

        def run(text):
            if text is None:
                raise _null("input", what)
            budget = self._budget(len(text)) if bounded else None
            try:
                return (tokens(text, budget),)
            except TimeoutError:
                raise self._out_of_time(text, budget) from None
        return run

    def batch_fn(self, outputs):
        tokens, bounded = self._tokenizer()
        what = self.input_what

        def run(ctx, col):
            texts = object_rows(col)
            if None in texts:
                raise _null("input", what, row=texts.index(None))
            budget = self._budget(sum(map(len, texts))) if bounded else None
            out = []
            for r, text in enumerate(texts):
                try:
                    out.append(tokens(text, budget))
                except TimeoutError:
                    raise self._out_of_time(text, budget, r) from None
            return (object_column(out),)
        return run


@op("regex_tokenizer", family="feature")
def load_regex_tokenizer(node) -> RegexTokenizerModel:
    """RegexTokenizer: Java regex split (gaps) or find-all, min token length, lowercasing.

    Unlike Java, a call's strings share a CPU time budget (see RegexTokenizerModel)."""
    attrs = node.attrs
    pattern = attrs.string("regex")
    gaps = attrs.boolean("match_gaps", True)
    min_length = attrs.int("token_min_length", 1)
    if min_length < 0:
        raise BundleError(f"attribute 'token_min_length' must be >= 0, found {min_length}", path=attrs.where)
    compiled = compile_java_regex(pattern, attrs.where)
    return RegexTokenizerModel(pattern, gaps, min_length, attrs.boolean("lowercase_text", True),
                               bundle_limits(node).regex_timeout_ms, compiled)


# --- stopwords_remover -------------------------------------------------------------------------

def _lower(s):
    if s is None:
        return None
    return s.lower() if s.isascii() else java_lower(s)


class _StopWordCache(TextCache):
    """token -> whether it is a stop word once lowercased, remembered (tokens repeat a lot)."""

    __slots__ = ("stop",)

    def __init__(self, stop: frozenset, max_bytes: int):
        super().__init__(max_bytes)
        self.stop = stop

    def is_stop(self, token: str) -> bool:
        hit = self.values.get(token)
        if hit is None:
            hit = self.keep(token, _lower(token) in self.stop)
        return hit


@dataclass(frozen=True)
class StopWordsRemoverModel(_TextOp):
    stop_words: tuple[str, ...]
    case_sensitive: bool
    stop_set: frozenset = field(compare=False, repr=False)
    cache: _StopWordCache = field(compare=False, repr=False)

    op_name = "stopwords_remover"

    @property
    def apply(self):
        stop = self.stop_set
        if self.case_sensitive:
            return lambda terms: [t for t in terms if t not in stop]
        cache = self.cache
        is_stop = cache.is_stop

        def remove(terms):
            get = cache.values.get
            return [t for t in terms if t is None or not (h if (h := get(t)) is not None else is_stop(t))]
        return remove


@op("stopwords_remover", family="feature")
def load_stopwords_remover(node) -> StopWordsRemoverModel:
    """StopWordsRemover: drop the bundle's stop words (case-sensitive or Java-lowercased)."""
    attrs = node.attrs
    words = tuple(attrs.string_list("stop_words"))
    case_sensitive = attrs.boolean("case_sensitive", False)
    stop = frozenset(words) if case_sensitive else frozenset(_lower(w) for w in words)
    return StopWordsRemoverModel(words, case_sensitive, stop, _StopWordCache(stop, text_cache_bytes(node)))


# --- ngram -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class NGramModel(_TextOp):
    n: int

    op_name = "ngram"

    @property
    def apply(self):
        n = self.n

        def grams(terms):
            if len(terms) < n:
                return []
            if None in terms:  # Scala's mkString prints a null as "null"
                terms = ["null" if t is None else t for t in terms]
            if n == 1:
                return list(terms)
            return [" ".join(terms[i:i + n]) for i in range(len(terms) - n + 1)]
        return grams


@op("ngram", family="feature")
def load_ngram(node) -> NGramModel:
    """NGram: windows of n consecutive tokens joined by a space."""
    n = node.attrs.long("n")
    if not 1 <= n < 1 << 31:
        raise BundleError(f"attribute 'n' must be a positive int, found {n}", path=node.attrs.where)
    return NGramModel(n)
