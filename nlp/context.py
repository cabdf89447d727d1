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
no pseudo-cues ("gram negative", "no increase"). On the first 357 rows of
tests/data/assertions.tsv they scored 0.70 (dev rows) and 0.76 (held-out rows) alone and
0.96 / 0.95 added to ours, against 0.97 / 0.97 for ours alone (0.99 / 0.99 since the
cues for "excluded", "discarded", "ruled out", past times and a trailing "?").

`assertion_of` turns the marks, and the mention's section, into one `Assertion`. The
component also keeps each mention's marks in plain data (`marks_by_window`), which the
reader turns into assertions with `assertion_from` without reading spaCy extensions.
"""

import bisect
import hashlib
import itertools
import json
from collections.abc import Iterable, Sequence
from importlib import resources
from typing import Any

import numpy as np
from medspacy.common.medspacy_matcher import MedspacyMatcher
from medspacy.context import ConText, ConTextGraph, ConTextModifier, ConTextRule
from spacy.language import Language
from spacy.tokens import Doc, Span

from nlp import budget
from nlp.match_pruning import PruningMatcher
from nlp.mention_spans import MENTIONS_KEY as MENTIONS_KEY  # where tests and tools import it
from nlp.mention_spans import mention_windows
from nlp.mentions import Assertion
from nlp.sections import section_of

RULES_FILE = "context.json"
# doc.user_data: (first token, end token) of each mention a cue modifies -> its marks.
_MARKS_KEY = "medcode_context_marks"

# ConText category -> the Span extension it sets. NEGATED_RESULT ("HIV negative"),
# NEGATED_CLAUSE ("After ruling out malignancy, ..."), POSSIBLE_CLAUSE ("Given the
# suspicion of torsion, ...") and HISTORICAL_CLAUSE ("a stroke 5 years ago") are cues
# whose scope also ends at a comma.
_SPAN_ATTRS = {
    "NEGATED_EXISTENCE": {"is_negated": True},
    "NEGATED_RESULT": {"is_negated": True},
    "NEGATED_CLAUSE": {"is_negated": True},
    "POSSIBLE_EXISTENCE": {"is_uncertain": True},
    "POSSIBLE_CLAUSE": {"is_uncertain": True},
    "HISTORICAL": {"is_historical": True},
    "HISTORICAL_CLAUSE": {"is_historical": True},
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


def _rules_data(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        resources.files("nlp.rules").joinpath(name).read_text("utf-8")
    )
    return data


def load_context_rules(
    nlp: Language, name: str = RULES_FILE
) -> tuple[list[ConTextRule], dict[str, list[str]]]:
    """The rules of a rules file, and which categories end which categories' scopes.

    Token patterns that only list words ("LOWER", with "IN" and "?") become one phrase rule
    per wording: spaCy's PhraseMatcher finds them all in one hashed pass, where the token
    Matcher would test every pattern at every token.
    """
    data = _rules_data(name)
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
                ConTextRule.from_dict({**spec, "pattern": [first, *pattern[1:]]})
                for first in _first_words(pattern)
            )
        else:
            rules.append(ConTextRule.from_dict(spec))
    return rules, data["terminating_types"]


def _first_words(pattern: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A first token that lists words, as one token per word (its other tests kept)."""
    first = pattern[0]
    lower = first.get("LOWER")
    if isinstance(lower, dict) and set(lower) == {"IN"} and "OP" not in first:
        return [{**first, "LOWER": w} for w in lower["IN"]]
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


class CueFinder:
    """The cues of some ConText rules in a Doc, found once per Doc.

    Rules are matched as ConText matches them: of overlapping cues the longest is kept,
    so "no increase" stays a pseudo-cue and "not excluded" an uncertainty. The mention
    matcher (for the cues a mention may not straddle) and ConText look for the cues of
    the same rules file: the first stores them on the Doc, under a key naming the rules,
    and the second reads them instead of matching every rule over the note again.
    """

    def __init__(
        self,
        nlp: Language,
        rules: Sequence[ConTextRule],
        matcher: MedspacyMatcher | None = None,
    ) -> None:
        """`matcher`: one that already holds `rules`, in their order (else one is built)."""
        self._vocab = nlp.vocab
        if matcher is None:
            matcher = PruningMatcher(nlp, name="medcode_cues")
            matcher.add(rules)
        self._matcher = matcher
        # Rule ids are the category and the rule's place in the list: two finders of
        # equal rule lists give a match the same id.
        listed = json.dumps([[r.category, r.literal, r.pattern] for r in rules])
        self._key = "medcode_cues:" + hashlib.sha256(listed.encode("utf-8")).hexdigest()

    def __call__(self, doc: Doc) -> list[tuple[ConTextRule, int, int]]:
        """(rule, start token, end token) of each cue, in text order."""
        found: list[tuple[int, int, str]] | None = doc.user_data.get(self._key)
        if found is None:
            matches = self._matcher(doc)
            found = sorted((start, end, self._vocab[id_].text) for id_, start, end in matches)
            doc.user_data[self._key] = found
        rules = self._matcher.rule_map
        return [(rules[rule_id], start, end) for start, end, rule_id in found]


def mention_barriers(nlp: Language, name: str = RULES_FILE) -> tuple[CueFinder, frozenset[str]]:
    """A finder of the rules file's cues, and the categories of the cues a mention may not
    straddle (the file's "mention_barriers")."""
    rules, _ = load_context_rules(nlp, name)
    return CueFinder(nlp, rules), frozenset(_rules_data(name)["mention_barriers"])


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
        # medspaCy's matcher prunes overlapping cues in quadratic time (nlp/match_pruning.py);
        # this one gives the same cues in linear time. It replaces the one ConText built,
        # still empty (rules=None), under the private name ConText reads it by: medspaCy is
        # pinned and tests cover this.
        self._ConText__matcher = PruningMatcher(
            nlp, name=name, prune=self.prune_on_modifier_overlap
        )
        self.cues = CueFinder(nlp, [])

    def add(self, rules: Iterable[ConTextRule]) -> None:
        super().add(rules)
        # ConText's own matcher, which numbered the rules: medspaCy keeps it private, but
        # medspacy is pinned and tests cover this.
        self.cues = CueFinder(self.nlp, self.rules, self._ConText__matcher)

    def __call__(self, doc: Doc, targets: str | None = None) -> Doc:
        if targets is not None:
            return super().__call__(doc, targets)  # type: ignore[no-any-return]
        budget.check()
        # The graph holds the spans (and so keeps the Doc alive as long as its span group
        # is read); the sentences are found from plain windows.
        mentions = list(doc.spans.get(self.span_group_name, ()))
        if not mentions:
            return doc
        windows = mention_windows(doc, self.span_group_name)
        starts = doc.to_array("SENT_START").astype(np.int64) == 1
        sentence_of = (np.cumsum(starts) - 1).tolist()
        bounds = [*np.flatnonzero(starts).tolist(), len(doc)]
        by_sentence: dict[int, list[int]] = {}  # sentence -> indexes of its mentions
        for i, (start, end) in enumerate(budget.checked(windows)):
            if end <= start:
                continue  # an empty span: no sentence holds it
            first = sentence_of[start]
            if first == sentence_of[end - 1]:  # as mentions are, but for ones made by hand
                by_sentence.setdefault(first, []).append(i)
                continue
            for sentence in set(sentence_of[start:end]):
                by_sentence.setdefault(sentence, []).append(i)
        cues: dict[int, list[_Cue]] = {}
        for rule, start, end in budget.checked(self.cues(doc)):
            sentence = sentence_of[start]
            if sentence in by_sentence:
                if self.max_scope is None:
                    scope = _scope(rule, start, end, bounds[sentence], bounds[sentence + 1])
                    cue = _Cue(rule, start, end, doc, *scope)
                else:
                    cue = _Cue(rule, start, end, doc, max_scope=self.max_scope)
                cues.setdefault(sentence, []).append(cue)
        edges = []
        for sentence, sentence_cues in budget.checked(cues.items(), every=1):
            sentence_cues.sort(key=lambda c: c.modifier_span)
            _limit_scopes(sentence_cues)
            edges.extend(_edges(sentence_cues, [mentions[i] for i in by_sentence[sentence]]))
        for target, cue in edges:
            target._.modifiers += (cue,)
        self.set_context_attributes(edges)
        doc.user_data[_MARKS_KEY] = self._marks(edges)
        doc._.context_graph = ConTextGraph(
            targets=mentions, modifiers=[c for cs in cues.values() for c in cs], edges=edges
        )
        return doc

    def _marks(self, edges: list[tuple[Span, "_Cue"]]) -> dict[tuple[int, int], dict[str, Any]]:
        """The span attributes `set_context_attributes` sets, by mention window."""
        marks: dict[tuple[int, int], dict[str, Any]] = {}
        for target, cue in edges:
            attrs = (self.context_attributes_mapping or {}).get(cue.category)
            if attrs:
                marks.setdefault((target.start, target.end), {}).update(attrs)
        return marks


def _scope(rule: ConTextRule, start: int, end: int, first: int, stop: int) -> tuple[int, int]:
    """A cue's scope before other cues limit it: its sentence (tokens first..stop-1) on
    the side(s) its direction says, within the rule's max_scope.

    What medspaCy's `ConTextModifier` computes from `doc[start].sent`, which walks the
    sentence for every cue: thousands of cues in one run-on sentence took seconds.
    """
    direction = rule.direction.lower()
    reach = rule.max_scope
    low, high = first, stop
    if direction == "forward":
        low = end
    elif direction == "backward":
        high = start
    if reach is not None and direction != "forward" and start - low > reach:
        low = start - reach
    if reach is not None and direction != "backward" and high - end > reach:
        high = end + reach
    return low, high


def _limit_scopes(cues: list["_Cue"]) -> None:
    """medspaCy's `ConTextGraph.update_scopes` without comparing every pair of cues.

    A scope only ever shrinks to the nearest cue that ends it, so each cue looks ahead
    (and back) only until its scope's edge: in a run-on sentence of thousands of cues
    ("no X no Y no Z ...") every pair took a minute. A cue of the same category always
    ends a scope, so a cue is looked at by at most one cue of each category each way:
    the work is linear in the cues, even past thousands of commas that end nothing.
    Forward ends first, then backward starts. This gives medspaCy's scopes
    (tests/unit/test_context.py compares them) but where medspaCy's pair order lets a cue
    skip a nearer one whose own scope is empty: on the 3,504 CodiEsp notes, 2 scopes of
    25,211 sentences differ, by the cue's own token, and no mark. `cues` are in text
    order and do not overlap (overlapping matches keep the longest).
    """
    for i, cue in enumerate(budget.checked(cues)):
        if cue.direction in ("FORWARD", "BIDIRECTIONAL"):
            for j in range(i + 1, len(cues)):
                other = cues[j]
                if other.modifier_span[0] >= cue.scope_span[1]:
                    break
                cue.limit_scope(other)
    for i, cue in enumerate(budget.checked(cues)):
        if cue.direction in ("BACKWARD", "BIDIRECTIONAL"):
            for j in range(i - 1, -1, -1):
                other = cues[j]
                if other.modifier_span[1] <= cue.scope_span[0]:
                    break
                cue.limit_scope(other)


def _edges(cues: list["_Cue"], targets: list[Span]) -> list[tuple[Span, "_Cue"]]:
    """medspaCy's `ConTextGraph.apply_modifiers`, looking only at the targets in a cue's
    scope (found by bisection) instead of at every target."""
    order = sorted(range(len(targets)), key=lambda i: (targets[i].start, i))
    starts = [targets[i].start for i in order]
    longest = max(len(t) for t in targets)
    edges: list[tuple[Span, _Cue]] = []
    for cue in budget.checked(cues):
        if cue.direction in ("TERMINATE", "PSEUDO"):
            continue
        scope_start, scope_end = cue.scope_span
        low = bisect.bisect_left(starts, scope_start - longest + 1)
        high = bisect.bisect_left(starts, scope_end)
        for i in sorted(order[low:high]):
            if cue.modifies(targets[i]):
                cue.modify(targets[i])
        cue.reduce_targets()
        edges.extend((target, cue) for target in cue._targets)
    return edges


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


def marks_by_window(doc: Doc) -> dict[tuple[int, int], dict[str, Any]]:
    """The ConText marks (`is_negated`: True, ...) of each mention a cue modifies, by its
    (first token, end token); mentions without marks are left out."""
    marks: dict[tuple[int, int], dict[str, Any]] = doc.user_data.get(_MARKS_KEY, {})
    return marks


def assertion_of(span: Span) -> Assertion:
    """The assertion of a mention, from its ConText marks and its section."""
    marks: Any = span._
    attrs = {attr for attrs in _SPAN_ATTRS.values() for attr in attrs}
    return assertion_from({attr: getattr(marks, attr) for attr in attrs}, section_of(span))


def assertion_from(marks: dict[str, Any], section: str | None) -> Assertion:
    """The assertion of a mention with these ConText marks in this section.

    When several apply, the first of this list wins:
    negated > hypothetical > family > possible > historical > present.
    A negated item is not coded wherever it stands ("no family history of colon cancer");
    a hypothetical one ("return if chest pain recurs") is no finding at all; a relative's
    condition is never the patient's, however sure or old; an uncertain diagnosis is coded
    differently from a sure one, even when it is old ("history of possible TIA").
    Mentions in a family history section are family, those in a past medical or surgical
    history section historical, unless a cue says more.
    """
    if not marks and section is None:
        return Assertion.PRESENT  # most mentions: no cue, no section
    if marks.get("is_negated"):
        return Assertion.NEGATED
    if marks.get("is_hypothetical"):
        return Assertion.HYPOTHETICAL
    if marks.get("is_family") or section in _FAMILY_SECTIONS:
        return Assertion.FAMILY
    if marks.get("is_uncertain"):
        return Assertion.POSSIBLE
    if marks.get("is_historical") or section in _PAST_SECTIONS:
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
