"""Presidio recognizers that ``clean.pii`` registers instead of (or next to) Presidio's own.

Why each exists (measured on Presidio's evaluation set, see benchmarks/pii.py):

* :class:`CardNumberRecognizer` replaces ``CreditCardRecognizer``, whose one regex only takes 13-17 digits
  starting with 1, 3, 4, 5[0-5] or 6: it misses 19-digit Visa, Mastercard's 2221-2720 series, Mir
  (2200-2204), 15-digit JCB (2131) and 12-digit Maestro. Ours takes 12-19 digits (contiguous or in
  the usual 4-4-4-4(-3) / 4-6-5 groupings) and keeps a number only when it passes Luhn **and** its
  prefix and length belong to a card scheme. 12-digit numbers (Maestro only) are common as other
  ids, so they count only with a card word ("card", "cc", "visa", ...) just before them.
* :class:`PhoneNumberRecognizer` extends Presidio's (``phonenumbers`` for the configured regions, valid
  numbers only) with: numbers written internationally (``+CC ...``, any country) accepted when
  ``phonenumbers`` finds them *possible* for that country — real numbers in newly allocated ranges
  are not yet "valid" in its metadata, and the ``+`` plus the country's length rules are strong
  evidence; a regional match under 7 digits (a year, a house number, a postcode) needs a phone word
  nearby; one that reads as an IP address, a date or a span of years ("(1642–1727)") is dropped.
* :class:`LocalPhoneRecognizer` finds numbers written in a local format of a region that was not
  configured ("9472 7916", "(37) 788-063") — only next to a phone word ("phone", "call", "mobile",
  "fax", "office", ... 5 words before or 2 after), because without a country any digit group looks
  like some country's number.
* :class:`WholeUrlRecognizer` extends Presidio's: its bare-domain pattern (no scheme, no ``www.``) matches the
  start of dotted identifiers in code — ``result.append`` as ``result.app``, ``app.route`` as ``app.ro``
  — so redacting chat data with code in it broke the code. A bare match that ends inside a word is
  not a URL and is dropped (one with a scheme or ``www.`` is extended to the end of the URL instead);
  quotes around a URL and sentence punctuation after it ("see https://example.org.") are not part of it.

Context is judged on the NLP engine's tokens (lemma, or the lower-cased word when the pipeline has
no lemmatizer, as with ``ner: false``), whole words only: substring matching would let "tel" match
"hotel".
"""

from __future__ import annotations

import re
from typing import Any

import phonenumbers
from presidio_analyzer import EntityRecognizer, Pattern, PatternRecognizer, RecognizerResult
from presidio_analyzer.predefined_recognizers import CreditCardRecognizer
from presidio_analyzer.predefined_recognizers import PhoneRecognizer as _PresidioPhone
from presidio_analyzer.predefined_recognizers import UrlRecognizer as _PresidioUrl

CARD_CONTEXT = ("card", "credit", "debit", "cc", "visa", "mastercard", "maestro", "amex", "jcb", "diners",
                "discover", "unionpay")
PHONE_CONTEXT = ("phone", "telephone", "tel", "mobile", "cell", "cellphone", "call", "fax", "landline", "whatsapp",
                 "sms", "dial")
# labels that follow a number in a list of numbers ("416 60 039 office"); "office" only counts after
# the number: before it, it is more often an address ("the office is at 17031 2202 Rissik St")
PHONE_LABELS_AFTER = ("phone", "tel", "mobile", "cell", "fax", "office")

# Card schemes: (lowest prefix, highest prefix, allowed lengths). Public IIN ranges (ISO/IEC 7812 issuers'
# published ranges, as tabulated e.g. by Wikipedia "Payment card number"); a number must fit one.
_ANY = tuple(range(12, 20))
CARD_SCHEMES: tuple[tuple[str, str, tuple[int, ...]], ...] = (
    ("1", "1", (15,)),                       # UATP
    ("1800", "1800", (15,)), ("2131", "2131", (15,)),  # JCB, 15-digit
    ("2200", "2204", (16, 17, 18, 19)),      # Mir
    ("2221", "2720", (16,)),                 # Mastercard 2-series
    ("30", "30", (14, 15, 16, 17, 18, 19)),  # Diners Club
    ("34", "34", (15,)), ("37", "37", (15,)),  # American Express
    ("35", "35", (16, 17, 18, 19)),          # JCB
    ("36", "36", (14, 15, 16, 17, 18, 19)),  # Diners Club International
    ("38", "39", (14, 15, 16, 17, 18, 19)),  # Diners Club
    ("4", "4", (13, 14, 15, 16, 17, 18, 19)),  # Visa (13, 16, 19; Presidio also took 14-17)
    ("50", "50", _ANY), ("56", "69", _ANY),  # Maestro (12-19), Discover, UnionPay, RuPay, ...
    ("51", "55", (16, 17, 18, 19)),          # Mastercard (Presidio took 5[0-5], 13+)
)
_SHORT_CARD = 12  # lengths at or below this need a card word nearby


def luhn_ok(digits: str) -> bool:
    """The Luhn checksum every payment card number carries."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def card_scheme_ok(digits: str) -> bool:
    """True when the number's prefix and length belong to a card scheme in :data:`CARD_SCHEMES`."""
    for lo, hi, lengths in CARD_SCHEMES:
        if len(digits) in lengths and lo <= digits[:len(lo)] <= hi:
            return True
    return False


def context_words(nlp_artifacts: Any, start: int, end: int, before: int = 5,
                  after: int = 2) -> tuple[set[str], set[str]]:
    """Lower-cased lemmas (or words) of up to ``before`` words before ``start`` and of up to ``after``
    words after ``end`` (punctuation and spaces skipped); empty sets without NLP artifacts. A token
    glued to digits or symbols ("Office,3660170548") gives its letter runs; one that straddles the
    match counts as after it."""
    tokens = getattr(nlp_artifacts, "tokens", None)
    if tokens is None:
        return set(), set()
    prev: list[list[str]] = []
    nxt: list[list[str]] = []
    for tok in tokens:
        if tok.is_punct or tok.is_space:
            continue
        words = re.findall(r"[^\W\d_]+", (tok.lemma_ or tok.text).lower())
        if not words:
            continue
        if tok.idx + len(tok.text) <= start:
            prev.append(words)
        elif len(nxt) < after:
            nxt.append(words)
        if tok.idx >= end and len(nxt) >= after:
            break
    return {w for ws in prev[-before:] for w in ws}, {w for ws in nxt for w in ws}


def _has_context(nlp_artifacts: Any, start: int, end: int, words: tuple[str, ...],
                 after_words: tuple[str, ...] | None = None) -> str | None:
    before, after = context_words(nlp_artifacts, start, end)
    found = (before & set(words)) | (after & set(words if after_words is None else after_words))
    return min(found) if found else None


# Digit groups that read as something else first: an IPv4 address, a date, a span of years ("2015-2022")
_NOT_A_PHONE = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}"
                          r"|(?:19|20)\d\d([-./])\d{1,2}\1\d{1,2}|\d{1,2}([-./])\d{1,2}\2(?:19|20)\d\d"
                          r"|1[5-9]\d\d ?[-\u2013\u2014] ?(?:1[5-9]|20)\d\d|20\d\d ?[-\u2013\u2014] ?20\d\d")


def not_a_phone(value: str) -> bool:
    """True when a phone-shaped match is rather an IPv4 address, a date or a span of years."""
    return _NOT_A_PHONE.fullmatch(value.strip("() ")) is not None


def _boost(result: RecognizerResult, score: float, word: str | None) -> None:
    result.score = score
    result.recognition_metadata[RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY] = True
    if word and result.analysis_explanation is not None:
        result.analysis_explanation.set_supportive_context_word(word)
        result.analysis_explanation.set_improved_score(score)


class CardNumberRecognizer(CreditCardRecognizer):
    """Payment card numbers: 12-19 digits, Luhn-valid, in a card scheme's prefix/length range."""

    PATTERNS = [
        Pattern("card (contiguous)", r"(?<![\w.,-])\d{12,19}(?![\w-]|[.,]\d)", 0.3),
        Pattern("card (4-4-4-x groups)", r"(?<![\w.,-])\d{4}([ -])\d{4}\1\d{4}\1\d{1,4}(?:\1\d{1,3})?(?![\w-]|[.,]\d)",
                0.3),
        Pattern("card (4-6-4/5 groups)", r"(?<![\w.,-])\d{4}([ -])\d{6}\1\d{4,5}(?![\w-]|[.,]\d)", 0.3),
    ]

    def __init__(self, supported_language: str = "en"):
        super().__init__(patterns=self.PATTERNS, context=list(CARD_CONTEXT), supported_language=supported_language,
                         name="CardNumberRecognizer")

    def validate_result(self, pattern_text: str) -> bool | None:
        digits = re.sub(r"\D", "", pattern_text)
        if not (12 <= len(digits) <= 19 and luhn_ok(digits) and card_scheme_ok(digits)):
            return False
        # a short number is kept at the pattern score; enhance_using_context decides on it
        return None if len(digits) <= _SHORT_CARD else True

    def enhance_using_context(self, text: str, raw_recognizer_results: list[RecognizerResult],
                              other_raw_recognizer_results: list[RecognizerResult], nlp_artifacts: Any,
                              context: list[str] | None = None) -> list[RecognizerResult]:
        for r in raw_recognizer_results:
            if r.score >= EntityRecognizer.MAX_SCORE:
                continue  # already validated (13+ digits)
            word = _has_context(nlp_artifacts, r.start, r.end, CARD_CONTEXT)
            # Luhn + scheme + a card word is as strong as a long validated number
            _boost(r, EntityRecognizer.MAX_SCORE if word else 0.0, word)
        return raw_recognizer_results


class PhoneNumberRecognizer(_PresidioPhone):
    """Presidio's phone recognizer plus international numbers of any country; short matches need context."""

    MIN_DIGITS = 7

    def __init__(self, supported_regions: tuple[str, ...] | list[str] = _PresidioPhone.DEFAULT_SUPPORTED_REGIONS,
                 supported_language: str = "en"):
        super().__init__(supported_regions=tuple(supported_regions), supported_language=supported_language,
                         name="PhoneNumberRecognizer")

    def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None) -> list[RecognizerResult]:
        results = super().analyze(text, entities, nlp_artifacts)
        # "ZZ" (unknown region): the matcher then takes only numbers written with +country code
        for match in phonenumbers.PhoneNumberMatcher(text, "ZZ", leniency=phonenumbers.Leniency.POSSIBLE):
            region = phonenumbers.region_code_for_number(match.number)
            results.append(self._get_recognizer_result(match, text, region, nlp_artifacts))
        results = [r for r in results if not not_a_phone(text[r.start:r.end])]
        for r in results:
            if sum(ch.isdigit() for ch in text[r.start:r.end]) < self.MIN_DIGITS:
                r.score = 0.1  # below min_score unless a phone word lifts it (Presidio's context step)
        return EntityRecognizer.remove_duplicates(results)




class LocalPhoneRecognizer(PatternRecognizer):
    """Digit groups in a local phone format (7-15 digits; separators space, dash, dot; optional
    "(area)" and extension), kept only with a phone word just before or after."""

    # not inside a longer number ("1,234,567", "+46 (0)8 ...": the + form is PhoneNumberRecognizer's)
    PATTERN = (r"(?<![\w+./-])(?<!\d,)(?<!\+\d )(?<!\+\d\d )(?<!\+\d\d\d )(?:\(\d{1,5}\)[ .-]?)?\d{1,15}(?:[ .-]\d{1,15}){0,5}"
               r"(?:[ ]?(?:x|ext\.?)[ ]?\d{1,5})?(?![\w/]|[.,-]\d)")

    def __init__(self, supported_language: str = "en"):
        super().__init__(supported_entity="PHONE_NUMBER", name="LocalPhoneRecognizer",
                         patterns=[Pattern("local phone (needs context)", self.PATTERN, 0.1)],
                         context=list(PHONE_CONTEXT), supported_language=supported_language)

    def validate_result(self, pattern_text: str) -> bool | None:
        n = sum(ch.isdigit() for ch in re.sub(r"(?:x|ext\.?)[ ]?\d+$", "", pattern_text))
        if not 7 <= n <= 15 or not_a_phone(pattern_text):
            return False
        return None

    def enhance_using_context(self, text: str, raw_recognizer_results: list[RecognizerResult],
                              other_raw_recognizer_results: list[RecognizerResult], nlp_artifacts: Any,
                              context: list[str] | None = None) -> list[RecognizerResult]:
        # where phonenumbers matched (e.g. "+41 (0)96 471 07 95" as one number) its reading wins: it
        # knows the country code, the "(0)" trunk prefix and extensions
        parsed = [o for o in other_raw_recognizer_results if o.entity_type == "PHONE_NUMBER"]
        for r in raw_recognizer_results:
            word = _has_context(nlp_artifacts, r.start, r.end, PHONE_CONTEXT, PHONE_LABELS_AFTER)
            if any(o.start < r.end and r.start < o.end for o in parsed):
                word = None
            _boost(r, 0.6 if word else 0.0, word)
        return raw_recognizer_results


class WholeUrlRecognizer(_PresidioUrl):
    """Presidio's URL recognizer without matches cut out of a longer word (dotted names in code),
    quotes or trailing sentence punctuation."""

    LEADING = "'\"`<([{"
    TRAILING = ".,;:!?'\"`"
    URL_END = re.compile(r"[^\s'\"`<>()\[\]{}]*")

    def __init__(self, supported_language: str = "en"):
        super().__init__(supported_language=supported_language, name="WholeUrlRecognizer")

    def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None,
                regex_flags: int | None = None) -> list[RecognizerResult]:
        kept = []
        for r in super().analyze(text, entities, nlp_artifacts, regex_flags):
            while r.start < r.end and text[r.start] in self.LEADING:
                r.start += 1
            if r.end < len(text) and (text[r.end].isalnum() or text[r.end] == "_"):
                span = text[r.start:r.end].lower()
                if "://" not in span and not span.startswith("www."):
                    continue  # "result.app|end": a dotted name, not a domain
                # a URL with a scheme whose host has a TLD Presidio does not list ("host.docker.internal")
                r.end += self.URL_END.match(text, r.end).end() - r.end
            while r.end > r.start and text[r.end - 1] in self.TRAILING:
                r.end -= 1
            if r.end > r.start:
                kept.append(r)
        return kept
