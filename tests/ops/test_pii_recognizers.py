"""clean.pii's own card and phone recognizers (tuneprep.ops.pii_recognizers): the formats Presidio's
defaults miss are found, and real text without personal data (shared data: instructions, model answers,
web pages with years, prices and dates) is not flagged. Pattern entities only (``ner: false``): no model."""

from __future__ import annotations

import gzip
import json

import pytest

from tuneprep.ops import build_op
from tuneprep.ops.pii_recognizers import card_scheme_ok, luhn_ok, not_a_phone

PATTERN_TYPES = ["PHONE_NUMBER", "CREDIT_CARD", "EMAIL_ADDRESS", "IBAN_CODE", "IP_ADDRESS", "US_SSN"]


@pytest.fixture(scope="module")
def op():
    o = build_op("clean.pii", {"action": "tag", "ner": False, "entities": PATTERN_TYPES})
    o.setup()
    return o


def found(op, text: str, kind: str) -> list[str]:
    return [text[s["start"]:s["end"]] for s in op.find(text) if s["type"] == kind]


def _with_check_digit(body: str) -> str:
    """body + the Luhn check digit (builds a valid short number for a given prefix)."""
    return next(body + d for d in "0123456789" if luhn_ok(body + d))


# Card numbers published by card processors for testing (Stripe's docs), one per scheme/length the old
# Presidio regex missed, plus the classic ones it found.
NEW_CARDS = {
    "2223003122003222": "Mastercard 2-series",
    "6205500000000000004": "UnionPay, 19 digits",
    "2223 0031 2200 3222": "Mastercard 2-series in 4-digit groups",
}
OLD_CARDS = {"4242424242424242": "Visa", "378282246310005": "Amex", "6011111111111117": "Discover",
             "3566002020360505": "JCB", "3782 822463 10005": "Amex 4-6-5"}


@pytest.mark.parametrize("number", [*NEW_CARDS, *OLD_CARDS])
def test_card_numbers_of_each_scheme_are_found_exactly(op, number):
    digits = number.replace(" ", "")
    assert luhn_ok(digits) and card_scheme_ok(digits)
    text = f"Please charge it to {number}, thanks."
    assert found(op, text, "CREDIT_CARD") == [number]


def test_luhn_is_never_weakened_and_the_prefix_must_be_a_card_schemes(op):
    bad = "2223003122003223"  # one digit off a valid Mastercard
    assert not luhn_ok(bad) and found(op, f"card {bad}", "CREDIT_CARD") == []
    # a year list passes Luhn but is no card: seen on a real web page (shared dolma_cc/000.json.gz)
    years = "1900 1901 1902 1903"
    assert luhn_ok(years.replace(" ", "")) and not card_scheme_ok(years.replace(" ", ""))
    assert found(op, f"Date range Year: 1896 1897 1898 1899 {years} 1904 1905", "CREDIT_CARD") == []


def test_a_12_digit_maestro_number_counts_only_after_a_card_word(op):
    maestro = _with_check_digit("50380205377")
    assert len(maestro) == 12 and card_scheme_ok(maestro)
    assert found(op, f"What is the limit for card {maestro}?", "CREDIT_CARD") == [maestro]
    assert found(op, f"Please e-mail the last billed amount for cc {maestro}.", "CREDIT_CARD") == [maestro]
    assert found(op, f"Your order {maestro} has shipped.", "CREDIT_CARD") == []


@pytest.mark.parametrize("text,number", [
    ("Desk: +41 (0)96 471 07 95", "+41 (0)96 471 07 95"),  # country outside the default regions, (0) trunk
    ("Call +45 32 12 34 56 before noon.", "+45 32 12 34 56"),
    ("Mobile: +1-903-140-4508x769", "+1-903-140-4508x769"),  # possible but not 'valid' in phonenumbers; extension
    ("Phone:\n9472 7916\n\nE-mail: someone", "9472 7916"),  # local format, phone word before
    ("Can someone call me on 450 0840? I have some questions.", "450 0840"),
    ("Paxata\n416 60 039 office\n", "416 60 039"),  # label after the number
    ("Mobile: 03.93.92.16.85", "03.93.92.16.85"),
])
def test_phone_formats_beyond_the_default_regions(op, text, number):
    assert found(op, text, "PHONE_NUMBER") == [number]


@pytest.mark.parametrize("text", [
    "The office is at 17031 2202 Rissik St.",  # an address: "office" counts only after a number
    'Watch "Better Call Saul" (2015-2022) next.',
    "During Newton's lifetime (1642–1727), biology was not a science.",
    "Charles I was executed in 1649.",
    "ISBN 978-0-306-40615-7, order 4410 0021 3312, total $1,234.56 on 2024-03-01.",
    "Server 192.168.100.200 answered; call it again on 12.03.2024.",
])
def test_numbers_that_are_not_phone_numbers(op, text):
    assert found(op, text, "PHONE_NUMBER") == []
    assert found(op, text, "CREDIT_CARD") == []


def test_not_a_phone_shapes():
    assert not_a_phone("(1642–1727") and not_a_phone("2015-2022") and not_a_phone("86.121.97.248")
    assert not not_a_phone("9472 7916") and not not_a_phone("(123) 456-7890")


def test_real_text_without_personal_data_is_not_flagged(op, shared_data):
    """MT-Bench's questions (stock tables, prices, dates) and two models' answers to the 805 AlpacaEval
    instructions (years, measurements, URLs with article ids): no phone or card number in them."""
    texts = ["\n".join(json.loads(line)["turns"]) for line in open(shared_data / "mt_bench_questions.jsonl")]
    for model in ("alpaca-7b", "oasst-sft-pythia-12b"):
        texts += [r["output"] for r in json.load(open(shared_data / "alpacaeval" / model / "model_outputs.json"))]
    assert sum(ch.isdigit() for t in texts for ch in t) > 9000  # plenty of numbers to trip over
    spans = [s for batch in (op.find_batch(texts[i:i + 64]) for i in range(0, len(texts), 64))
             for ss in batch for s in ss]
    assert [s for s in spans if s["type"] in ("PHONE_NUMBER", "CREDIT_CARD")] == []


def test_real_web_pages_contact_numbers_found_years_not(op, shared_data):
    with gzip.open(shared_data / "dolma_cc" / "000.json.gz", "rt") as fh:
        texts = [json.loads(line)["text"] for line in fh]
    with open(shared_data / "dolma_cc" / "cc_en_head-0091.jsonl") as fh:
        texts += [json.loads(line)["text"] for line in fh]
    phones = []
    for t, spans in zip(texts, op.find_batch(texts)):
        assert [s for s in spans if s["type"] == "CREDIT_CARD"] == []
        phones += [(t[max(0, s["start"] - 5):s["start"]], t[s["start"]:s["end"]])
                   for s in spans if s["type"] == "PHONE_NUMBER"]
    # every number found is a contact number written after "Tel" or "Fax" on the page
    assert len(phones) >= 3 and all("Tel" in before or "Fax" in before for before, _ in phones)
    assert ("Fax: ", "+32 (0)2 790 75 85") in phones


def test_dotted_names_in_code_are_not_urls_real_urls_still_are(shared_data):
    """GPT-4's AlpacaEval answers with code blocks: Presidio's bare-domain pattern reads the start of
    ``pygame.display.set_mode`` as ``pygame.display.se``; redacting that broke the code. Every match that
    ends inside a word is gone, and the real URLs in the same answers are still found, whole."""
    from presidio_analyzer.predefined_recognizers import UrlRecognizer as PresidioUrl

    from tuneprep.ops.pii_recognizers import WholeUrlRecognizer

    outputs = json.load(open(shared_data / "alpacaeval" / "gpt4_1106_preview" / "model_outputs.json"))
    texts = [r["output"] for r in outputs if "```" in r["output"]]
    assert len(texts) > 50

    def glued(t: str, end: int) -> bool:
        return end < len(t) and (t[end].isalnum() or t[end] == "_")

    ours, presidio = WholeUrlRecognizer(), PresidioUrl()
    cut_before = [t[r.start:r.end] for t in texts for r in presidio.analyze(t, ["URL"]) if glued(t, r.end)]
    assert len(cut_before) > 100  # the failure this recognizer exists for
    found = [(t, r) for t in texts for r in ours.analyze(t, ["URL"])]
    assert not [t[r.start:r.end] for t, r in found if glued(t, r.end)]
    urls = {t[r.start:r.end] for t, r in found}
    assert "https://www.python.org" in urls
    assert not any(u[0] in "'\"" or u[-1] in ".,;:'\"" for u in urls)
    op = build_op("clean.pii", {"action": "redact", "ner": False, "entities": ["URL"]})
    code = "pygame.init()\nscreen = pygame.display.set_mode((640, 480))\nDocs: https://www.pygame.org/docs/."
    assert op.apply_batch([{"id": "a", "text": code}])[0]["text"] == (
        "pygame.init()\nscreen = pygame.display.set_mode((640, 480))\nDocs: <URL>.")
