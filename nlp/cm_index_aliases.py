"""ICD-10-CM aliases from the Alphabetic Index and its Drug, Neoplasm and External-cause tables.

The index is inverted (main term first: "Infarct, infarction > myocardium, myocardial" ->
I21.9), and the note matcher finds a phrase when all its content words occur close
together in one sentence, in any order. So a phrase is the words of an index path, and
most of the work here is choosing which words a note must contain:

- a title's word forms ("Infarct, infarction") become alternative phrases; other
  comma parts ("Abruption, placenta") qualify the head and are required words;
- non-essential modifiers, "NEC", connector subterms ("with", "due to", "following")
  and "without ..." / "except ..." clauses are not required words. A row left with no
  words of its own ("unspecified site", "without hemorrhage") has its parent's phrases,
  and gives them its code only where the parent's code needs more characters ("S72.00-");
- single everyday words ("old", "cold", "concern") and index adjectives ("Toxic - see
  condition") are not phrases on their own;
- rows under a "specified NEC" subterm are skipped: they are residual codes that no
  phrase of their own can name;
- `See` references are resolved in the same tree and give the referring phrase the
  target's code at a lower weight.

What was skipped is counted and logged per file.
"""

import itertools
import logging
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from codes.cm_index import (
    CODE_SHAPE,
    IndexCodes,
    IndexEntry,
    read_index_csv,
    read_index_xml,
)
from codes.cm_index import (
    find_cm_tables as find_cm_tables,  # the readers of the files live in codes/
)
from codes.systems import CodeSystem
from codes.text import fold
from nlp.aliases import Alias
from nlp.terms import content_stems

logger = logging.getLogger(__name__)

# How surely a phrase means its code (Alias.weight). Index rows are the official wording.
# Table phrases are ours ("<drug> overdose", "<site> cancer"), so they count for less, and
# a phrase that reaches its code through a `See` reference is one inference further away.
INDEX_WEIGHT = 1.0
TABLE_WEIGHT = 0.8
SEE_FACTOR = 0.9

# Variant combinations kept per row: "Infarct, infarction > myocardium, myocardial" has 4.
MAX_VARIANTS = 8

# --- Titles -> phrases ------------------------------------------------------------------

# Index instructions appended to a title: "insulin dependent - code to type of diabetes".
_INSTRUCTION = re.compile(r"\s+-{1,2}\s+.*$")
_END_BRACKETS = re.compile(r"(?:\s*\[[^\]]*\])+\s*$")
_BRACKET = re.compile(r"\[([^\]]*)\]")
_PARENTHESES = re.compile(r"\([^)]*\)|\[[^\]]*\]")
# "specified NEC", "specified type NEC": the residual "other specified" codes. A phrase
# without the word "specified" would claim the generic condition for them.
_RESIDUAL = re.compile(r"\bspecified\b|^note\b", re.IGNORECASE)
# A note cannot show that something is absent, and "not" is a stopword, so these clauses
# add no required words (see _completes for what happens to their codes).
_NEGATED_TAIL = re.compile(r"\b(?:without|except)\b.*$", re.IGNORECASE)
_NEGATED_PART = re.compile(r"^not\b", re.IGNORECASE)
# Coders' words that no note says.
_FILLER = re.compile(r"\bNEC\b|\bso stated\b|\bany\b", re.IGNORECASE)
# Words that link a subterm to its parent ("with coma", "due to", "following", "from, off").
# They are dropped from the front of a subterm: the matcher ignores word order anyway.
_CONNECTORS = frozenset(
    """with in into on onto from off out of by due to following during after at against
    through caused associated involving while as complicating affecting meaning because
    resulting when for""".split()
)
# Word forms the shared-prefix test in _is_variant cannot see.
_IRREGULAR_FORMS = {"teeth": "tooth", "feet": "foot"}
# "Fracture, traumatic" is the index's entry for a fracture NOS (T14.8, S72.9- ...), and
# notes do not say "traumatic"; the other "Fracture, X" main terms keep their qualifier.
_DEFAULT_SENSE = {"fracture, traumatic": "Fracture"}


@dataclass(frozen=True, slots=True)
class _Phrase:
    text: str  # lower case, words in index order
    stems: tuple[str, ...]  # what the matcher looks for (nlp.terms.content_stems)

    @classmethod
    def of(cls, text: str) -> "_Phrase":
        text = " ".join(text.lower().split())
        return cls(text, content_stems(text))

    def join(self, other: "_Phrase") -> "_Phrase":
        text = f"{self.text} {other.text}".strip()
        return _Phrase(text, tuple(dict.fromkeys(self.stems + other.stems)))


def _title_phrases(title: str, subterm: bool, listed: bool = False) -> tuple[_Phrase, ...] | None:
    """The alternative phrasings a title adds to its path.

    None: skip the row and its subterms (a residual "specified" row, an editor's note).
    An empty tuple: the title adds no words (a connector such as "with", "unspecified
    site", "without hemorrhage"); the row's phrase is its parent's.
    `listed`: a subterm's comma parts are alternatives, as the External Cause Index
    writes them ("Fall, down, stairs, steps": a fall down stairs or down steps).
    """
    if _RESIDUAL.search(title):
        return None
    title = _DEFAULT_SENSE.get(title.lower(), title)
    title = _INSTRUCTION.sub("", title)
    brackets = _end_brackets(title)
    title = _PARENTHESES.sub(" ", _END_BRACKETS.sub("", title))
    title = _FILLER.sub(" ", _NEGATED_TAIL.sub("", title))
    parts = [_clean_part(part, subterm) for part in title.split(",")]
    kept = [p for p in parts if p]
    combinations = kept if listed and subterm else _part_combinations(kept)
    texts = [*combinations, *brackets]
    unique: dict[frozenset[str], _Phrase] = {}
    for phrase in map(_Phrase.of, texts):
        if phrase.stems:
            unique.setdefault(frozenset(phrase.stems), phrase)
    return tuple(unique.values())[:MAX_VARIANTS]


def _end_brackets(title: str) -> list[str]:
    """'Escherichia coli [E. coli]': a short bracketed name at the end is another name."""
    match = _END_BRACKETS.search(title)
    if not match:
        return []
    names = [name.strip() for name in _BRACKET.findall(match.group())]
    return [name for name in names if 0 < len(name.split()) <= 4]


def _clean_part(part: str, subterm: bool) -> str:
    words = part.split()
    if words[:1] == ["or"]:
        words = words[1:]
    if _NEGATED_PART.match(" ".join(words)):
        return ""
    if subterm:
        while words and words[0].lower() in _CONNECTORS:
            words = words[1:]
    return " ".join(words)


def _part_combinations(parts: list[str]) -> list[str]:
    """The phrasings of a title's comma parts.

    "Infarct, infarction" -> word forms: "infarct" | "infarction".
    "Abruption, placenta" -> a qualifier: "abruption placenta".
    "Reiter's disease, syndrome, or urethritis" -> a list: "reiter's disease" |
    "reiter's syndrome" | "reiter's urethritis".
    "Biting, cheek or lip" -> "biting cheek" | "biting lip".
    """
    if not parts:
        return []
    head, rest = parts[0], parts[1:]
    if len(rest) >= 2 and " or " in f" {rest[-1]}":
        return _listed(head, [*rest[:-1], *rest[-1].split(" or ")])
    heads = [*_or_split(head), *(p for p in rest if _is_variant(head, p))]
    qualifiers = [_or_split(p) for p in rest if not _is_variant(head, p)]
    combos = itertools.product(heads, *qualifiers)
    return [" ".join(combo) for combo in itertools.islice(combos, MAX_VARIANTS)]


def _listed(head: str, items: list[str]) -> list[str]:
    stem = head.split()[:-1]  # "port wine nevus, mark, or stain": "port wine" + each noun
    items = [item.strip() for item in items if item.strip()]
    return [head, *(" ".join([*stem, item]) for item in items)]


def _or_split(part: str) -> list[str]:
    """'cheek or lip' -> 'cheek' | 'lip'; 'Jakob-Creutzfeldt disease or syndrome' ->
    'Jakob-Creutzfeldt disease' | 'Jakob-Creutzfeldt syndrome' (a lone last word
    shares the words before the one it replaces)."""
    pieces = [piece.strip() for piece in part.split(" or ")]
    if len(pieces) < 2 or not all(0 < len(piece.split()) <= 3 for piece in pieces):
        return [part]
    first = pieces[0].split()
    return [pieces[0], *(" ".join([*first[:-1], p]) if " " not in p else p for p in pieces[1:])]


def _is_variant(head: str, part: str) -> bool:
    """'infarction' is a form of 'Infarct'; 'placenta' qualifies 'Abruption'."""
    first, other = (_IRREGULAR_FORMS.get(w, w) for w in (_first_word(head), _first_word(part)))
    shared = _shared_prefix(first, other)
    # Three letters tie "femur, femoral"; longer words must share four, or "Hyperplasia,
    # hypertrophic" would pass.
    return shared >= 4 or (shared == 3 and max(len(first), len(other)) <= 7)


def _shared_prefix(a: str, b: str) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


def _first_word(text: str) -> str:
    words = fold(text).split()
    return words[0] if words else ""


def _extend(prefixes: Sequence[_Phrase], phrases: Sequence[_Phrase]) -> tuple[_Phrase, ...]:
    if not prefixes:
        return tuple(phrases)
    pairs = itertools.product(prefixes, phrases)
    return tuple(a.join(b) for a, b in itertools.islice(pairs, MAX_VARIANTS))


# --- Walking the tree -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Visit:
    entry: IndexEntry
    parent: IndexEntry | None
    phrases: tuple[_Phrase, ...]  # the path's phrasings, main term first
    adds_words: bool  # False for "with", "unspecified site": the parent's phrases


def _walk(
    entries: Iterable[IndexEntry],
    skipped: Counter[str],
    parent: IndexEntry | None = None,
    listed: bool = False,
) -> Iterator[_Visit]:
    """Every row that can be phrased, main terms first, in document order."""
    # Titles repeat ("with", "right", "specified NEC"): phrase each once.
    titles: dict[tuple[str, bool, bool], tuple[_Phrase, ...] | None] = {}
    yield from _visits(entries, skipped, titles, (), parent, listed)


def _visits(
    entries: Iterable[IndexEntry],
    skipped: Counter[str],
    titles: dict[tuple[str, bool, bool], tuple[_Phrase, ...] | None],
    prefixes: tuple[_Phrase, ...],
    parent: IndexEntry | None,
    listed: bool,
) -> Iterator[_Visit]:
    for entry in entries:
        if entry.cut:
            skipped["title_cut_in_source"] += 1
            continue
        title = (entry.title, parent is not None, listed)
        if title not in titles:
            titles[title] = _title_phrases(*title)
        own = titles[title]
        if own is None:
            skipped["specified_or_note"] += 1
            continue
        phrases = _extend(prefixes, own) if own else prefixes
        if phrases:
            yield _Visit(entry, parent, phrases, adds_words=bool(own))
        yield from _visits(entry.children, skipped, titles, phrases, entry, listed)


# --- See references ---------------------------------------------------------------------


def _key(text: str) -> tuple[str, ...]:
    return content_stems(_FILLER.sub(" ", text))


def _same_word(a: str, b: str) -> bool:
    """'retina' and 'retinal' name the same thing in a reference; 'hyper...' words do not."""
    if a == b:
        return True
    short, long = sorted((a, b), key=len)
    return len(short) >= 4 and long.startswith(short) and len(long) - len(short) <= 3


class _Resolver:
    """Finds the row a `See` reference names: "infarct, myocardium" -> Infarct > myocardium.

    A reference is a path of titles. Its words (content stems) must be used up, in order,
    by the titles of one path from a main term down, where a title may be given by any of
    its comma parts (word forms): "infarct" is "Infarct, infarction", and "irritable
    bowel" is "Syndrome > irritable > bowel". Wordless rows ("with") are looked through.
    Parts such as "by site" name what the coder must add from the note: they are passed
    over, so the reference lands on the generic row.
    """

    def __init__(self, roots: list[IndexEntry]) -> None:
        self._keys: dict[int, list[tuple[str, ...]]] = {}
        self._found: dict[str, IndexEntry | None] = {}
        self._roots: dict[str, list[IndexEntry]] = {}
        for root in roots:
            for first in {key[0][:4] for key in self._entry_keys(root)}:
                self._roots.setdefault(first, []).append(root)

    def find(self, reference: str) -> IndexEntry | None:
        if reference not in self._found:
            self._found[reference] = self._find(reference)
        return self._found[reference]

    def _find(self, reference: str) -> IndexEntry | None:
        parts = [p for p in reference.split(",") if not p.strip().lower().startswith("by ")]
        words = tuple(word for part in parts for word in _key(part))
        if not words:
            return None
        return self._match(self._roots.get(words[0][:4], []), words)

    def _match(self, entries: Iterable[IndexEntry], words: tuple[str, ...]) -> IndexEntry | None:
        for entry in entries:
            for key in self._entry_keys(entry):
                fits = len(key) <= len(words) and _same_word(key[0], words[0])
                if fits and all(map(_same_word, key[1:], words[1:])):
                    rest = words[len(key) :]
                    found = self._match(self._reachable(entry), rest) if rest else entry
                    if found is not None:
                        return found
        return None

    def _reachable(self, entry: IndexEntry) -> Iterator[IndexEntry]:
        """Children, looking through wordless connector rows ("with", "due to")."""
        for child in entry.children:
            if self._entry_keys(child):
                yield child
            else:
                yield from self._reachable(child)

    def _entry_keys(self, entry: IndexEntry) -> list[tuple[str, ...]]:
        """The word sequences that name an entry, longest first."""
        keys = self._keys.get(id(entry))
        if keys is None:
            title = entry.title
            parts = [title, *title.split(","), *title.split(" or ")]
            keys = sorted({k for k in map(_key, parts) if k}, key=lambda k: (-len(k), k))
            self._keys[id(entry)] = keys
        return keys


# --- Codes ------------------------------------------------------------------------------


def _completes(parent: IndexEntry | None) -> bool:
    """Whether a wordless subterm ("unspecified site", "without hemorrhage") may stand
    for its parent's phrases: only when the parent's code needs more characters
    ("S72.00-") and the subterm gives the default. A parent with a full code means
    that code; a parent with none is a heading over subterms of many kinds ("Attack >
    without alteration of consciousness" is not what "attack" means)."""
    raw = parent.codes.get(0, "").strip() if parent is not None else ""
    return raw.endswith(("-", "."))


# --- Collecting aliases -----------------------------------------------------------------

# Single-word phrases that notes use in their everyday sense ("87 years old", "cold
# extremities", "concern for sepsis", "the patient declines", "pin fixation"), including
# index acronyms that spell a word (PIN, DISH, TRAPS): alone they would code almost any
# note. Their subterms ("Old > myocardial infarction") are kept.
_EVERYDAY_WORDS = frozenset(
    """old fit cold gas heat sick concern encounter exposure death donor newborn pregnancy
    screening reflex corn tag frozen nerve illness injury tramp hobo hunger famine trance
    lightning immersion mammogram puberty aftercare problem status history finding
    examination admission observation test age advice decline defect infected symptom
    plus minus monster pitted placenta runaway scratch swollen torn weak woolly crush
    crushed crushing pin dish pat tar tad arc trap vain""".split()
)


class _Aliases:
    """The aliases of one source, de-duplicated and counted."""

    def __init__(self, source: str, codes: IndexCodes) -> None:
        self.source = source
        self.codes = codes
        self.skipped: Counter[str] = Counter()
        self._aliases: dict[tuple[str, frozenset[str]], Alias] = {}

    def add(self, phrases: Iterable[_Phrase], code: str, weight: float, adjective: bool) -> None:
        for phrase in phrases:
            if len(phrase.stems) == 1 and not _stands_alone(phrase.stems[0], adjective):
                self.skipped["single_everyday_word"] += 1
                continue
            # The matcher ignores word order, so phrases with the same stems are one phrase.
            key = (code, frozenset(phrase.stems))
            kept = self._aliases.get(key)
            if kept is None or kept.weight < weight:
                self._aliases[key] = Alias(
                    CodeSystem.ICD10CM, code, phrase.text, self.source, round(weight, 3)
                )

    def result(self, path: Path) -> list[Alias]:
        aliases = sorted(self._aliases.values(), key=lambda a: (a.code, a.text))
        self.skipped["invalid_code"] = len(self.codes.invalid)
        logger.info(
            "%s: %d %s aliases for %d codes; skipped %s",
            path.name,
            len(aliases),
            self.source,
            len({a.code for a in aliases}),
            dict(sorted(self.skipped.items())),
        )
        return aliases


def _stands_alone(stem: str, adjective: bool) -> bool:
    return len(stem) >= 3 and stem not in _EVERYDAY_WORDS and not adjective


def _reference_problem(reference: str) -> str:
    """Why a reference found no coded row, for the counts."""
    lowered = reference.lower()
    if lowered.startswith(("condition", "by ")):
        return "see_condition"  # "see condition": code the condition the note names
    if lowered.startswith(("neoplasm", "table of drugs", "external cause")):
        return "see_other_table"
    return "see_unresolved"


def _index_aliases(
    roots: list[IndexEntry], aliases: _Aliases, weight: float, listed: bool = False
) -> None:
    """Aliases of the main index or the external-cause index: one code per row."""
    resolver = _Resolver(roots)
    for visit in _walk(roots, aliases.skipped, listed=listed):
        entry, parent = visit.entry, visit.parent
        if not visit.adds_words and not _completes(parent):
            continue
        if entry.codes.get(0):
            code = aliases.codes.complete(entry.codes[0])
            if code:
                aliases.add(visit.phrases, code, weight, entry.adjective)
        elif entry.see:
            code = _see_code(resolver, entry.see, aliases)
            if code:
                aliases.add(visit.phrases, code, weight * SEE_FACTOR, entry.adjective)


def _see_code(resolver: _Resolver, reference: str, aliases: _Aliases) -> str | None:
    target = resolver.find(reference)
    for _ in range(3):  # a reference may lead to another reference
        if target is None or not target.see or target.codes.get(0):
            break
        target = resolver.find(target.see)
    code = aliases.codes.complete(target.codes.get(0, "")) if target is not None else None
    if code is None:
        aliases.skipped[_reference_problem(reference)] += 1
    return code


# What a note says about a substance, by drug-table column. Column 2 is the default
# intent: the guidelines code a poisoning of unstated intent as accidental.
_DRUG_TEMPLATES: dict[int, tuple[str, ...]] = {
    2: ("{} poisoning", "{} overdose", "{} accidental ingestion"),
    3: ("{} intentional overdose", "{} suicide attempt", "{} intentional self-harm"),
    4: ("{} poisoning assault", "{} poisoned by another"),
    5: ("{} poisoning undetermined intent",),
    # "Allergy to <drug>" is left out: in a note it is mostly a history (Z88.-), and
    # "<drug> toxicity" too: it is poisoning or adverse effect depending on the dose taken.
    6: ("{} adverse effect", "{} side effect", "{} adverse reaction", "{} induced"),
    7: ("{} underdosing", "{} underdose", "{} missed dose"),
}
# By neoplasm-table column. "<site> mass" is left out: the index codes a mass as a finding
# (Mass > lung: R91.8), not as a neoplasm. "Metastatic <site>" is ambiguous ("metastatic
# lung cancer" is usually a lung primary), so it weighs less.
_NEOPLASM_TEMPLATES: dict[int, tuple[tuple[str, float], ...]] = {
    2: (
        ("{} cancer", 1.0),
        ("{} carcinoma", 1.0),
        ("{} adenocarcinoma", 1.0),
        ("{} malignant neoplasm", 1.0),
        ("{} malignant tumor", 1.0),
        ("{} malignancy", 1.0),
    ),
    3: (
        ("{} metastasis", 1.0),
        ("{} metastases", 1.0),
        ("secondary {} malignant neoplasm", 1.0),
        ("secondary {} cancer", 1.0),
        ("metastatic {}", 0.75),
    ),
    4: (("{} carcinoma in situ", 1.0),),
    5: (("benign {} neoplasm", 1.0), ("benign {} tumor", 1.0)),
    6: (("{} neoplasm uncertain behavior", 1.0),),
    7: (("{} neoplasm", 1.0), ("{} tumor", 1.0)),
}
# A neoplasm-table subterm that names the morphology itself ("skin > basal cell carcinoma",
# "liver > hepatoma") is phrased as it stands.
_MORPHOLOGY = re.compile(r"oma\b|cancer|malignan|benign|neoplas|tumou?r", re.IGNORECASE)


def _phrased(
    phrases: Iterable[_Phrase], template: str, cache: dict[str, _Phrase]
) -> Iterator[_Phrase]:
    words = cache.get(template)
    if words is None:
        words = cache[template] = _Phrase.of(template.replace("{}", " "))
    for phrase in phrases:
        text = " ".join(template.format(phrase.text).split())
        yield _Phrase(text, tuple(dict.fromkeys(phrase.stems + words.stems)))


def _table_visits(
    roots: list[IndexEntry], aliases: _Aliases, skip_root: bool
) -> Iterator[tuple[_Visit, dict[int, str], float]]:
    """Each table row with the cells it stands for: its own, or those its `See` names."""
    resolver = _Resolver(roots)
    starts = [child for root in roots for child in root.children] if skip_root else roots
    for visit in _walk(starts, aliases.skipped, parent=roots[0] if skip_root else None):
        entry, parent = visit.entry, visit.parent
        if not visit.adds_words and parent is not None and _has_cells(parent):
            continue  # the parent's cells say what its phrases mean
        if _has_cells(entry):
            yield visit, entry.codes, 1.0
        elif entry.see:
            target = resolver.find(entry.see)
            if target is not None and _has_cells(target):
                yield visit, target.codes, SEE_FACTOR
            else:
                aliases.skipped[_reference_problem(entry.see)] += 1


def _has_cells(entry: IndexEntry) -> bool:
    return any(CODE_SHAPE.match(raw.strip().upper()) for raw in entry.codes.values())


# --- Public API -------------------------------------------------------------------------


def cm_index_aliases(index_csv: Path, is_code: Callable[[str], bool]) -> list[Alias]:
    """Aliases from the Alphabetic Index CSV (source "cm_index").

    Raises SourceFileError when the file is missing or is not the index CSV.
    """
    aliases = _Aliases("cm_index", IndexCodes(is_code))
    _index_aliases(read_index_csv(index_csv), aliases, INDEX_WEIGHT)
    return aliases.result(index_csv)


def external_cause_aliases(eindex_xml: Path, is_code: Callable[[str], bool]) -> list[Alias]:
    """Aliases from the External Cause of Injuries Index XML (source "external_cause")."""
    aliases = _Aliases("external_cause", IndexCodes(is_code))
    _index_aliases(read_index_xml(eindex_xml, None), aliases, TABLE_WEIGHT, listed=True)
    return aliases.result(eindex_xml)


def drug_table_aliases(drug_xml: Path, is_code: Callable[[str], bool]) -> list[Alias]:
    """Aliases from the Table of Drugs and Chemicals XML (source "drug").

    Each substance is phrased per column: "<substance> poisoning" / "overdose"
    (accidental), "intentional overdose" / "suicide attempt", "adverse effect" /
    "side effect" / "induced", "underdosing" (see _DRUG_TEMPLATES).
    """
    aliases = _Aliases("drug", IndexCodes(is_code))
    cache: dict[str, _Phrase] = {}
    for visit, cells, factor in _table_visits(
        read_index_xml(drug_xml, "Substance"), aliases, False
    ):
        for column, templates in _DRUG_TEMPLATES.items():
            code = aliases.codes.complete(cells.get(column, ""))
            if code:
                for template in templates:
                    phrases = _phrased(visit.phrases, template, cache)
                    aliases.add(phrases, code, TABLE_WEIGHT * factor, False)
    return aliases.result(drug_xml)


def neoplasm_table_aliases(neoplasm_xml: Path, is_code: Callable[[str], bool]) -> list[Alias]:
    """Aliases from the Table of Neoplasms XML (source "neoplasm").

    Each site is phrased per behaviour column: "<site> cancer" (malignant primary),
    "<site> metastasis" (secondary), "<site> carcinoma in situ", "benign <site> tumor",
    "<site> neoplasm uncertain behavior", "<site> tumor" (unspecified behaviour). The
    table's own root ("Neoplasm, neoplastic": no site) is not phrased.
    """
    aliases = _Aliases("neoplasm", IndexCodes(is_code))
    cache: dict[str, _Phrase] = {}
    roots = read_index_xml(neoplasm_xml, "Neoplasm")
    for visit, cells, factor in _table_visits(roots, aliases, True):
        if _MORPHOLOGY.search(visit.entry.title):
            _add_morphology_row(visit, cells, aliases, factor)
            continue
        for column, templates in _NEOPLASM_TEMPLATES.items():
            code = aliases.codes.complete(cells.get(column, ""))
            if code is None:
                continue
            for template, weight in templates:
                phrases = _phrased(visit.phrases, template, cache)
                aliases.add(phrases, code, TABLE_WEIGHT * factor * weight, False)
    return aliases.result(neoplasm_xml)


def _add_morphology_row(
    visit: _Visit, cells: dict[int, str], aliases: _Aliases, factor: float
) -> None:
    # The phrase already says the behaviour; it means the first column that has a code
    # (for "basal cell carcinoma" rows that is the only one, malignant primary).
    for column in sorted(cells):
        code = aliases.codes.complete(cells[column])
        if code:
            aliases.add(visit.phrases, code, TABLE_WEIGHT * factor, False)
            return
