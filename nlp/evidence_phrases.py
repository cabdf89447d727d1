"""Aliases mined from CodiEsp's English evidence sentences, scored by their precision.

Every coded mention in CodiEsp points at the English sentence that holds it
(`<split>X_en.tsv`). The phrases of those sentences, taken as n-grams of content stems,
are candidate aliases of the code. An evidence sentence also names other findings, so
most of its n-grams say nothing about the code: what separates the good ones is their
precision over *all* sentences of the training notes, i.e. how often a note that
contains the phrase really carries the code.

The module reads no files: callers pass evidence rows and note texts
(`training.encounters` reads the corpus and turns its encounters into rows).

Occurrence everywhere in this module means what the note matcher looks for, minus its
compactness test: every stem of the phrase inside one line of the note (CodiEsp's
English notes hold one sentence per line). Ignoring compactness counts some occurrences
the matcher will not find, so precision tends to err on the low (safe) side.

Phrases: runs of 1..max_ngram consecutive content words; stopwords are skipped, while
punctuation, numbers and common function words end a run, and a phrase needs one word of
three letters or more. Very common words need no list of their own: their precision over
all lines is low. A longer phrase is kept only when it is more precise for the code than
every kept shorter phrase made of its words, since those already match wherever it does.

Licence of the data the aliases come from: "CodiEsp corpus, Barcelona Supercomputing
Center, CC BY 4.0"; keep that line with any lexicon built from them.
"""

import logging
import re
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations

from codes.systems import CodeSystem
from nlp.aliases import Alias
from nlp.terms import STOPWORDS, content_stems, stem
from nlp.tokens import Token, tokenize

logger = logging.getLogger(__name__)

SOURCE = "evidence"
_SYSTEMS = (CodeSystem.ICD10CM, CodeSystem.ICD10PCS)  # CodiEsp's; alias_recall reports each
# The MT renders each blank line of the Spanish original as a line reading "1.".
_BLANK_LINE = "1."
_WORD = re.compile(r"[a-z0-9]+")
# "X-ray", "anti-HIV": a hyphen joins the parts of one word; other punctuation ends a phrase.
_HYPHEN = "-"
# Function words that terms.STOPWORDS keeps (it is tuned for ICD titles, which rarely use
# them) but that a note uses everywhere. They end a phrase instead of being skipped, so
# a mined alias never contains them and its text stays a clean phrase.
_FUNCTION_WORDS = frozenset(
    """about above after again against all also although any are be because been before
    being below between both but can could did do does during each either even ever further
    had has have having he her here hers him his however i if it its itself may me might
    more most must my neither no nor now once only our over own per same shall she should
    since so some such than that their theirs them then there these they this those though
    through thus too under until up upon us very via was we were what when where whether
    which while who whom whose why will would yet you your""".split()
)
_MIN_LETTERS = 3  # a phrase needs one stem this long: "x ray" yes, "t a" no


@dataclass(frozen=True, slots=True)
class EvidenceRow:
    case_id: str
    system: CodeSystem
    code: str  # canonical
    sentence: str  # the English sentence(s) holding the evidence


Key = tuple[str, ...]  # a phrase's distinct content stems, sorted (as the matcher groups them)
CodeKey = tuple[CodeSystem, str]
Gold = Mapping[str, set[CodeKey]]


# ---------------------------------------------------------------- phrases of a sentence


@dataclass(frozen=True, slots=True)
class _Word:
    """A word of a phrase; a hyphenated compound ("X-ray") is one word of several stems."""

    stems: tuple[str, ...]
    start: int
    end: int


def note_lines(text: str) -> list[str]:
    """The sentences of an English CodiEsp note: its lines, without the blank placeholders."""
    return [line for line in text.split("\n") if line.strip() and line.strip() != _BLANK_LINE]


def line_stems(line: str) -> frozenset[str]:
    """Every stem of a line, as the matcher sees its tokens."""
    return frozenset(stem(t.norm) for t in tokenize(line) if t.norm.isalnum())


def _pieces(sentence: str) -> Iterator[list[Token]]:
    """The tokens of a sentence, with the parts of a hyphenated compound kept together."""
    piece: list[Token] = []
    for token in tokenize(sentence):
        touching = bool(piece) and token.start == piece[-1].end
        if touching and _HYPHEN in (token.norm, piece[-1].norm):
            piece.append(token)
            continue
        if piece:
            yield piece
        piece = [token]
    if piece:
        yield piece


def _word(piece: Sequence[Token]) -> _Word | None:
    """The piece as a phrase word, or None when it cannot be part of one."""
    parts = [t.norm for t in piece[::2]]
    joined = all(t.norm == _HYPHEN for t in piece[1::2]) and len(piece) % 2 == 1
    # A token the matcher does not see as one word ("crohn's") could never be matched.
    usable = all(_WORD.fullmatch(p) and not p.isdigit() and p not in _FUNCTION_WORDS for p in parts)
    stems = tuple(stem(p) for p in parts if p not in STOPWORDS)
    if joined and usable and stems:
        return _Word(stems, piece[0].start, piece[-1].end)
    return None


def _runs(sentence: str) -> Iterator[list[_Word]]:
    """Runs of words that may form one phrase.

    Stopwords are skipped, as the matcher skips them ("fracture of femur" -> fracture,
    femur); punctuation, numbers and function words end a run, so no phrase spans
    "ultrasound, cranial" or "40 C".
    """
    run: list[_Word] = []
    for piece in _pieces(sentence):
        if len(piece) == 1 and piece[0].norm in STOPWORDS:
            continue
        word = _word(piece)
        if word is not None:
            run.append(word)
        elif run:
            yield run
            run = []
    if run:
        yield run


def sentence_phrases(sentence: str, max_ngram: int) -> dict[Key, str]:
    """Key -> surface text of every useful phrase of 1..max_ngram consecutive words."""
    phrases: dict[Key, str] = {}
    for run in _runs(sentence):
        for size in range(1, max_ngram + 1):
            for first in range(len(run) - size + 1):
                gram = run[first : first + size]
                stems = [s for word in gram for s in word.stems]
                # A repeated stem adds nothing to the shorter phrase without it.
                if len(set(stems)) < len(stems) or not _meaningful(stems):
                    continue
                key = tuple(sorted(stems))
                phrases.setdefault(key, _surface(sentence, gram[0].start, gram[-1].end))
    return phrases


def _surface(sentence: str, start: int, end: int) -> str:
    """The phrase as written, without the capital that only marks a sentence start."""
    text = sentence[start:end]
    first_word = text.split(maxsplit=1)[0].split(_HYPHEN)[0]
    opening = sentence[:start].strip() == ""
    if opening and first_word[:1].isupper() and first_word[1:].islower():  # not "CAT", "X"
        return text[0].lower() + text[1:]
    return text


def _meaningful(stems: Sequence[str]) -> bool:
    return any(len(s) >= _MIN_LETTERS and not s.isdigit() for s in stems)


# ---------------------------------------------------------------- finding keys in lines


class _KeyIndex:
    """Finds which keys a line holds; each key is indexed by its rarest stem."""

    def __init__(self, keys: Iterable[Key], stem_frequency: Mapping[str, int]) -> None:
        self._by_anchor: dict[str, list[Key]] = defaultdict(list)
        for key in keys:
            anchor = min(key, key=lambda s: (stem_frequency.get(s, 0), s))
            self._by_anchor[anchor].append(key)

    def found(self, stems: frozenset[str]) -> Iterator[Key]:
        for anchor in stems:
            for key in self._by_anchor.get(anchor, ()):
                if stems.issuperset(key):
                    yield key


def _note_stems(notes: Mapping[str, str]) -> dict[str, list[frozenset[str]]]:
    return {case: [line_stems(line) for line in note_lines(text)] for case, text in notes.items()}


def _occurrences(
    keys: Iterable[Key], note_stems: Mapping[str, list[frozenset[str]]]
) -> dict[Key, set[str]]:
    """Key -> the cases whose note holds it in some line."""
    frequency = Counter(s for lines in note_stems.values() for stems in lines for s in stems)
    index = _KeyIndex(keys, frequency)
    cases: dict[Key, set[str]] = defaultdict(set)
    for case, lines in note_stems.items():
        for stems in lines:
            for key in index.found(stems):
                cases[key].add(case)
    return cases


# ---------------------------------------------------------------- mining


@dataclass(frozen=True, slots=True)
class PhraseScore:
    """How a phrase fared for one code in the training notes (see mine_evidence_aliases)."""

    support: int
    hits: int
    occurrences: int

    @property
    def precision(self) -> float:
        # One phantom miss shrinks the precision of rare phrases: seen twice, gold twice
        # gives 0.67, not 1.0, while seen 40 times, gold 40 times stays near 1.
        return self.hits / (self.occurrences + 1)


@dataclass(frozen=True, slots=True)
class ScoredPhrases:
    scores: dict[tuple[CodeKey, Key], PhraseScore]
    surfaces: dict[Key, str]  # key -> its most frequent spelling in the evidence


def score_phrases(
    rows: Sequence[EvidenceRow],
    notes: Mapping[str, str],
    *,
    min_support: int = 2,
    max_ngram: int = 3,
) -> ScoredPhrases:
    """Support, hits and occurrences of every (code, phrase) with enough support.

    For a code c and a phrase g (an n-gram of content stems, in any order):
    - support: distinct cases where g is a phrase of an evidence sentence of c;
    - occurrences: cases whose note holds g in some line (every line, not only the
      evidence lines: a phrase that is everywhere must not look precise);
    - hits: those of the occurrences whose gold (the codes of their rows) holds c.
    """
    if min_support < 1 or max_ngram < 1:
        raise ValueError("min_support and max_ngram must be at least 1")
    support, surfaces = _support(rows, max_ngram)
    pairs = [pair for pair, n in support.items() if n >= min_support]
    occurrences = _occurrences({key for _code, key in pairs}, _note_stems(notes))
    gold_cases: dict[CodeKey, set[str]] = defaultdict(set)
    for row in rows:
        gold_cases[row.system, row.code].add(row.case_id)
    scores = {}
    for code, key in pairs:
        seen = occurrences.get(key, set())
        scores[code, key] = PhraseScore(support[code, key], len(seen & gold_cases[code]), len(seen))
    return ScoredPhrases(scores, {key: surfaces[key] for _code, key in pairs})


def mine_evidence_aliases(
    rows: Sequence[EvidenceRow],
    notes: Mapping[str, str],
    *,
    min_support: int = 2,
    min_precision: float = 0.3,
    max_ngram: int = 3,
) -> list[Alias]:
    """Aliases of the evidence codes, weighted by their precision in the training notes.

    Support, hits and occurrences are as in score_phrases; precision = hits /
    (occurrences + 1), smoothed so that phrases seen in few notes weigh less. A (code,
    phrase) pair is kept when support >= min_support and precision >= min_precision;
    a phrase of several words is dropped when a kept shorter phrase made of its words
    (which matches wherever it does) is at least as precise for the code. Weight =
    precision; text = the phrase's most frequent spelling. Sorted by system, code, text.
    """
    started = time.perf_counter()
    scored = score_phrases(rows, notes, min_support=min_support, max_ngram=max_ngram)
    precise = {
        pair: score.precision
        for pair, score in scored.scores.items()
        if score.precision >= min_precision
    }
    kept: dict[tuple[CodeKey, Key], float] = {}
    for (code, key), precision in sorted(precise.items(), key=lambda item: len(item[0][1])):
        if all(kept.get((code, part), -1.0) < precision for part in _parts(key)):
            kept[code, key] = precision
    aliases = [
        Alias(system, code, scored.surfaces[key], SOURCE, round(precision, 4))
        for ((system, code), key), precision in kept.items()
    ]
    aliases.sort(key=lambda a: (a.system.value, a.code, a.text, a.weight))
    logger.info(
        "mined %d evidence aliases for %d codes from %d rows and %d notes in %.1f s",
        len(aliases),
        len({(a.system, a.code) for a in aliases}),
        len(rows),
        len(notes),
        time.perf_counter() - started,
    )
    return aliases


def _support(
    rows: Sequence[EvidenceRow], max_ngram: int
) -> tuple[dict[tuple[CodeKey, Key], int], dict[Key, str]]:
    """(code, key) -> support, and key -> its most frequent surface text."""
    # A sentence often holds several codes' evidence: find its phrases once.
    phrases = {row.sentence: sentence_phrases(row.sentence, max_ngram) for row in rows}
    cases: dict[tuple[CodeKey, Key], set[str]] = defaultdict(set)
    for row in rows:
        for key in phrases[row.sentence]:
            cases[(row.system, row.code), key].add(row.case_id)
    surface_counts: dict[Key, Counter[str]] = defaultdict(Counter)
    for sentence_phrases_ in phrases.values():
        for key, surface in sentence_phrases_.items():
            surface_counts[key][surface] += 1
    support = {pair: len(found) for pair, found in cases.items()}
    surfaces = {key: _most_frequent(counts) for key, counts in surface_counts.items()}
    return support, surfaces


def _most_frequent(counts: Counter[str]) -> str:
    # Ties go to the lower-case spelling, then alphabetical order, so output is stable.
    return min(counts, key=lambda text: (-counts[text], text != text.lower(), text))


def _parts(key: Key) -> list[Key]:
    """The shorter phrases made of a phrase's words: the proper non-empty subsets."""
    return [part for size in range(1, len(key)) for part in combinations(key, size)]


# ---------------------------------------------------------------- measuring


def propose_codes(aliases: Iterable[Alias], notes: Mapping[str, str]) -> dict[str, set[CodeKey]]:
    """case id -> the codes whose alias is found in some line of its note (no compactness)."""
    codes_by_key: dict[Key, set[CodeKey]] = defaultdict(set)
    for alias in aliases:
        stems = content_stems(alias.text)
        if stems:
            codes_by_key[tuple(sorted(stems))].add((alias.system, alias.code))
    note_stems = _note_stems(notes)
    occurrences = _occurrences(codes_by_key, note_stems)
    proposed: dict[str, set[CodeKey]] = {case: set() for case in notes}
    for key, cases in occurrences.items():
        for case in cases:
            proposed[case] |= codes_by_key[key]
    return proposed


def alias_recall(
    aliases: Iterable[Alias], gold: Gold, notes: Mapping[str, str]
) -> dict[str, float]:
    """How much gold the aliases reach on notes with known codes.

    recall_<system>: share of gold (case, code) pairs whose code has an alias in the
    case's note (all its content stems in one line); a gold case without a note counts
    as missed. codes_per_note[_<system>]: mean distinct codes proposed per note, over
    every note given. gold_<system>: the number of gold pairs.
    """
    proposed = propose_codes(aliases, notes)
    report: dict[str, float] = {"notes": float(len(notes))}
    for system in _SYSTEMS:
        pairs = [(case, code) for case, codes in gold.items() for code in codes]
        wanted = [(case, code) for case, code in pairs if code[0] is system]
        found = sum(1 for case, code in wanted if code in proposed.get(case, ()))
        report[f"recall_{system.value}"] = found / len(wanted) if wanted else 0.0
        report[f"gold_{system.value}"] = float(len(wanted))
        per_note = [sum(1 for code in codes if code[0] is system) for codes in proposed.values()]
        report[f"codes_per_note_{system.value}"] = _mean(per_note)
    report["codes_per_note"] = _mean([len(codes) for codes in proposed.values()])
    return report


def _mean(values: Sequence[int]) -> float:
    return sum(values) / len(values) if values else 0.0
