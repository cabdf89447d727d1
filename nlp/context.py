"""Assertions of mentions: the `medcode_context` spaCy component (medspaCy's ConText).

ConText reads the mention spans in `doc.spans["medcode_mentions"]` and marks each with the
cues whose scope covers it (rules/context.json): `is_negated`, `is_uncertain`,
`is_historical`, `is_family`, `is_hypothetical`. A cue's scope runs from the cue to the
sentence end (or start, for cues that follow their mention, as in "pneumonia was ruled
out"), and stops at a terminator ("but", "however", ";", ...) or, for most categories, at a
cue of another category, so the nearest cue wins.

We do not load medspaCy's default ConText rules: they lack cues coders meet every day
("not seen", "excluded", "versus", "concern for", "s/p", "prior"), negate after "evaluate
for" and "test for", treat any "history" (even "3-day history of fever") as past, and have
no pseudo-cues ("gram negative", "no increase"). On tests/data/assertions.tsv they scored
0.70 (dev rows) and 0.76 (held-out rows) alone and 0.96 / 0.95 added to ours, against 0.97 /
0.97 for ours alone (tests/unit/test_assertion_accuracy.py).

`assertion_of` turns the marks, and the mention's section, into one `Assertion`.
"""

import itertools
import json
from importlib import resources
from typing import Any

import numpy as np
from medspacy.context import ConText, ConTextGraph, ConTextModifier, ConTextRule
from spacy.language import Language
from spacy.tokens import Doc, Span

from nlp.mentions import Assertion
from nlp.sections import section_of

MENTIONS_KEY = "medcode_mentions"
RULES_FILE = "context.json"

# ConText category -> the Span extension it sets. NEGATED_RESULT ("HIV negative"),
# NEGATED_CLAUSE ("After ruling out malignancy, ...") and POSSIBLE_CLAUSE ("Given the
# suspicion of torsion, ...") are cues whose scope also ends at a comma.
_SPAN_ATTRS = {
    "NEGATED_EXISTENCE": {"is_negated": True},
    "NEGATED_RESULT": {"is_negated": True},
    "NEGATED_CLAUSE": {"is_negated": True},
    "POSSIBLE_EXISTENCE": {"is_uncertain": True},
    "POSSIBLE_CLAUSE": {"is_uncertain": True},
    "HISTORICAL": {"is_historical": True},
    "FAMILY": {"is_family": True},
    "HYPOTHETICAL": {"is_hypothetical": True},
}
_FAMILY_SECTIONS = frozenset({"family_history"})
_PAST_SECTIONS = frozenset({"past_medical_history", "past_surgical_history"})


@Language.factory(
    "medcode_context",
    assigns=[f"span._.{attr}" for attrs in _SPAN_ATTRS.values() for attr in attrs],
    requires=["token.is_sent_start"],
    default_config={"rules_file": RULES_FILE, "span_key": MENTIONS_KEY},
)
def make_context(nlp: Language, name: str, rules_file: str, span_key: str) -> "MentionContext":
    rules, terminating_types = load_context_rules(nlp, rules_file)
    context = MentionContext(nlp, name, span_key, terminating_types)
    context.add(rules)
    return context


def load_context_rules(
    nlp: Language, name: str = RULES_FILE
) -> tuple[list[ConTextRule], dict[str, list[str]]]:
    """The rules of a rules file, and which categories end which categories' scopes.

    Token patterns that only list words ("LOWER", with "IN" and "?") become one phrase rule
    per wording: spaCy's PhraseMatcher finds them all in one hashed pass, where the token
    Matcher would test every pattern at every token.
    """
    data = json.loads(resources.files("nlp.rules").joinpath(name).read_text("utf-8"))
    rules: list[ConTextRule] = []
    for spec in data["context_rules"]:
        pattern = spec.get("pattern")
        phrases = _wordings(nlp, pattern)
        if phrases is not None:
            rules.extend(
                ConTextRule.from_dict({**spec, "literal": p, "pattern": None}) for p in phrases
            )
        elif isinstance(pattern, list) and _first_words(pattern):
            # One pattern per first word: the Matcher tries every pattern's first token at
            # every token, and a plain word is a cheap test where a word list is not.
            rules.extend(
                ConTextRule.from_dict({**spec, "pattern": [{"LOWER": w}, *pattern[1:]]})
                for w in _first_words(pattern)
            )
        else:
            rules.append(ConTextRule.from_dict(spec))
    return rules, data["terminating_types"]


def _first_words(pattern: list[dict[str, Any]]) -> list[str]:
    first = pattern[0]
    if set(first) == {"LOWER"} and isinstance(first["LOWER"], dict):
        return list(first["LOWER"]["IN"])
    return []


def _wordings(nlp: Language, pattern: object) -> list[str] | None:
    """Every phrase a word-only token pattern matches, or None for other patterns."""
    if not isinstance(pattern, list):
        return None
    choices: list[list[str | None]] = []
    for token in pattern:
        op = token.get("OP")
        lower = token.get("LOWER")
        if set(token) - {"LOWER", "OP"} or op not in (None, "?"):
            return None
        words = [lower] if isinstance(lower, str) else list(lower["IN"])
        choices.append([*words, None] if op == "?" else words)
    phrases = []
    for combination in itertools.product(*choices):
        words = [w for w in combination if w is not None]
        if not words:
            return None
        phrase = " ".join(words)
        if [t.lower_ for t in nlp.tokenizer(phrase)] != words:
            return None  # the tokenizer would cut this wording differently: keep the pattern
        phrases.append(phrase)
    return phrases


class MentionContext(ConText):  # type: ignore[misc]  # medspaCy is untyped
    """ConText over the mention span group, one sentence at a time.

    Scopes never cross a sentence end, so cues only meet each other and the mentions of
    their own sentence: a ConText graph per sentence that holds a mention gives the same
    marks as one graph for the whole note, without comparing every cue of the note with
    every other (a 300-word note took 4 ms that way, 0.7 ms this way). A Doc without
    mentions is left alone.
    """

    def __init__(
        self,
        nlp: Language,
        name: str,
        span_key: str,
        terminating_types: dict[str, list[str]],
    ) -> None:
        ConText.register_default_attributes()
        super().__init__(
            nlp,
            name=name,
            rules=None,
            span_attrs=_SPAN_ATTRS,
            terminating_types=terminating_types,
            input_span_type="group",
            span_group_name=span_key,
        )
        # medspaCy keeps its matcher private; medspacy is pinned, and tests cover this.
        self._cue_matcher = self._ConText__matcher

    def __call__(self, doc: Doc, targets: str | None = None) -> Doc:
        if targets is not None:
            return super().__call__(doc, targets)  # type: ignore[no-any-return]
        mentions = list(doc.spans.get(self.span_group_name, ()))
        if not mentions:
            return doc
        sentence_of = np.cumsum(doc.to_array("SENT_START").astype(np.int64) == 1) - 1
        by_sentence: dict[int, list[Span]] = {}
        for mention in mentions:
            for sentence in set(sentence_of[mention.start : mention.end].tolist()):
                by_sentence.setdefault(sentence, []).append(mention)
        cues: dict[int, list[ConTextModifier]] = {}
        for match_id, start, end in self._cue_matcher(doc):
            sentence = int(sentence_of[start])
            if sentence in by_sentence:
                rule = self._cue_matcher.rule_map[self.nlp.vocab[match_id].text]
                cue = _Cue(rule, start, end, doc, max_scope=self.max_scope)
                cues.setdefault(sentence, []).append(cue)
        edges = []
        for sentence, sentence_cues in cues.items():
            graph = ConTextGraph(prune_on_modifier_overlap=self.prune_on_target_overlap)
            graph.targets = by_sentence[sentence]
            graph.modifiers = sentence_cues
            graph.update_scopes()
            graph.apply_modifiers()
            edges.extend(graph.edges)
        for target, cue in edges:
            target._.modifiers += (cue,)
        self.set_context_attributes(edges)
        doc._.context_graph = ConTextGraph(
            targets=mentions, modifiers=[c for cs in cues.values() for c in cs], edges=edges
        )
        return doc


class _Cue(ConTextModifier):  # type: ignore[misc]  # medspaCy is untyped
    """A ConText modifier whose span overlap test sees containment.

    medspaCy 1.3.1 tests overlap with `tuple_overlaps(a, b)`, which misses `b` holding all of
    `a`: a cue with a short scope ignored a terminator whose scope held it ("prior stroke
    with residual weakness"), and a cue inside a mention modified that mention
    ("diabetes without complications"). The logic is otherwise medspaCy's.
    """

    def limit_scope(self, other: ConTextModifier) -> bool:
        if self.direction == "TERMINATE" or not _overlaps(self.scope_span, other.scope_span):
            return False
        if (
            other.direction != "TERMINATE"
            and other.category not in self.rule.terminated_by
            and other.category != self.category
        ):
            return False
        if self.category == other.category and (
            self.allowed_types != other.allowed_types or self.excluded_types != other.excluded_types
        ):
            return False
        start, end = self.scope_span
        if self.direction in ("FORWARD", "BIDIRECTIONAL") and other > self:
            end = min(end, other.modifier_span[0])
        if self.direction in ("BACKWARD", "BIDIRECTIONAL") and other < self:
            start = max(start, other.modifier_span[1])
        changed: bool = (start, end) != self.scope_span
        self._scope_start, self._scope_end = start, end
        return changed

    def modifies(self, target: Span) -> bool:
        span = (target.start, target.end)
        if self.direction in ("TERMINATE", "PSEUDO") or _overlaps(self.modifier_span, span):
            return False
        if not self.allows(target.label_.upper()):
            return False
        return _overlaps(self.scope_span, span) and bool(self.on_modifies(target))


def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def assertion_of(span: Span) -> Assertion:
    """The assertion of a mention, from its ConText marks and its section.

    When several apply, the first of this list wins:
    negated > hypothetical > family > possible > historical > present.
    A negated item is not coded wherever it stands ("no family history of colon cancer");
    a hypothetical one ("return if chest pain recurs") is no finding at all; a relative's
    condition is never the patient's, however sure or old; an uncertain diagnosis is coded
    differently from a sure one, even when it is old ("history of possible TIA").
    Mentions in a family history section are family, those in a past medical or surgical
    history section historical, unless a cue says more.
    """
    marks: Any = span._
    if marks.is_negated:
        return Assertion.NEGATED
    if marks.is_hypothetical:
        return Assertion.HYPOTHETICAL
    section = section_of(span)
    if marks.is_family or section in _FAMILY_SECTIONS:
        return Assertion.FAMILY
    if marks.is_uncertain:
        return Assertion.POSSIBLE
    if marks.is_historical or section in _PAST_SECTIONS:
        return Assertion.HISTORICAL
    return Assertion.PRESENT


def set_mentions(doc: Doc, char_spans: list[tuple[int, int]]) -> None:
    """Make the mention group ConText reads from character offsets, widened to whole tokens.

    For tests and tools that run without the mention matcher.
    """
    spans = []
    for start, end in char_spans:
        span = doc.char_span(start, end, alignment_mode="expand")
        if span is None or len(span) == 0:
            raise ValueError(f"no tokens at characters {start}..{end}")
        spans.append(span)
    doc.spans[MENTIONS_KEY] = spans
