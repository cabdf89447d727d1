"""The PCS composer's rules, nlp/rules/pcs_*.json, as typed values (read when a composer is
built, never at import)."""

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from typing import Any

from codes.text import words
from nlp.terms import STOPWORDS, stem

# Function words a cue keeps: "without contrast" is not "contrast".
_NEGATIONS = frozenset({"without", "not", "no", "non"})


def phrase_stems(text: str) -> tuple[str, ...]:
    """The stems of a cue's words in order, function words left out, as a note's are read."""
    return tuple(
        stem(w) for w in words(text) if (w not in STOPWORDS or w in _NEGATIONS) and w != "s"
    )


@dataclass(frozen=True, slots=True)
class Cue:
    """Words that point at values of one axis (or at root operations), best value first."""

    stems: tuple[str, ...]
    values: tuple[str, ...]
    why: str
    strength: float = 1.0
    body: tuple[str, ...] = ()  # stems of the body part the words imply ("foley": bladder)


class CueSet:
    """Cues indexed by their first word: a statement tries only the cues it could hold."""

    def __init__(self, cues: Iterable[Cue]) -> None:
        self.cues = tuple(cues)
        self.by_first: dict[str, list[tuple[int, Cue]]] = {}
        for order, cue in enumerate(self.cues):
            self.by_first.setdefault(cue.stems[0], []).append((order, cue))

    def __len__(self) -> int:
        return len(self.cues)


@dataclass(frozen=True, slots=True)
class Suffix:
    """A surgical word ending: '-ectomy' names Resection or Excision of what comes before."""

    suffix: str
    operations: tuple[str, ...]
    why: str
    approach: str | None = None
    qualifier: str | None = None


@dataclass(frozen=True, slots=True)
class PcsRules:
    sections: frozenset[str]
    operation_cues: CueSet
    preferences: CueSet  # values: the one operation the words make likelier
    suffixes: tuple[Suffix, ...]  # longest first
    suffix_pattern: re.Pattern[str]  # any suffix at the end of a word
    combining_forms: dict[str, tuple[str, ...]]  # word root -> body stems
    ignored_prefixes: tuple[str, ...]
    procedure_nouns: frozenset[str]  # stems
    everyday_labels: frozenset[str]  # root operation labels not read on their own
    context_words: frozenset[str]  # stems
    approach_cues: CueSet
    approach_not_cues: CueSet  # phrases whose words name no approach ("open fracture")
    value_cues: dict[str, CueSet]  # axis key ("device", "qualifier") -> cues
    blocked: dict[str, CueSet]  # axis key -> phrases naming no value ("without contrast")
    # Every cue set above by name ("operation", "approach", "value:device", ...), indexed
    # together by first word: a statement looks each of its words up once.
    cue_book: dict[str, list[tuple[str, int, Cue]]]
    optional_words: dict[str, frozenset[str]]  # axis key -> stems a note may leave out
    sides: dict[str, frozenset[str]]  # "Right" -> stems that say it
    # body part label -> (other names, the sections they hold in; empty: all)
    body_synonyms: dict[str, tuple[tuple[str, ...], frozenset[str]]]


def load_pcs_rules() -> PcsRules:
    operations = _read("pcs_operations.json")
    approaches = _read("pcs_approaches.json")
    devices = _read("pcs_devices.json")
    qualifiers = _read("pcs_qualifiers.json")
    body_parts = _read("pcs_body_parts.json")
    suffixes = [
        Suffix(
            row["suffix"],
            tuple(row["operations"]),
            row["why"],
            row.get("approach"),
            row.get("qualifier"),
        )
        for row in operations["suffixes"]
    ]
    body_optional = frozenset(stem(w) for w in body_parts["optional_words"])
    suffixes.sort(key=lambda s: (-len(s.suffix), s.suffix))
    sets = {
        "operation": _cues(operations["cues"], "operations"),
        "preference": CueSet(
            Cue(phrase_stems(text), (row["prefer"],), row["why"])
            for row in operations["preferences"]
            for text in row["words"]
        ),
        "approach": _cues(approaches["cues"], "approaches"),
        "approach_not": _phrases(approaches["not_cues"]),
    }
    value_cues = _value_cues(devices["cues"], qualifiers["cues"])
    blocked = {axis: _phrases(texts) for axis, texts in qualifiers["blocked"].items()}
    sets |= {f"value:{axis}": cues for axis, cues in value_cues.items()}
    sets |= {f"blocked:{axis}": phrases for axis, phrases in blocked.items()}
    book: dict[str, list[tuple[str, int, Cue]]] = {}
    for name, cue_set in sets.items():
        for order, cue in enumerate(cue_set.cues):
            book.setdefault(cue.stems[0], []).append((name, order, cue))
    return PcsRules(
        sections=frozenset(operations["sections"]),
        operation_cues=sets["operation"],
        preferences=sets["preference"],
        suffixes=tuple(suffixes),
        suffix_pattern=re.compile("(?:" + "|".join(s.suffix for s in suffixes) + ")$"),
        combining_forms={
            form: phrase_stems(body) for form, body in operations["combining_forms"].items()
        },
        ignored_prefixes=tuple(operations["ignored_prefixes"]),
        procedure_nouns=frozenset(stem(w) for w in operations["procedure_nouns"]),
        everyday_labels=frozenset(operations["everyday_labels"]),
        context_words=frozenset(stem(w) for w in operations["context_words"]),
        approach_cues=sets["approach"],
        approach_not_cues=sets["approach_not"],
        value_cues=value_cues,
        blocked=blocked,
        cue_book=book,
        optional_words={
            "body_part": body_optional,
            "device": frozenset(stem(w) for w in devices["optional_words"]),
        },
        sides={
            side: frozenset(stem(w) for w in said) for side, said in body_parts["sides"].items()
        },
        body_synonyms={
            row["value"]: (tuple(row["words"]), frozenset(row.get("sections", ())))
            for row in body_parts["synonyms"]
        },
    )


def _read(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        resources.files("nlp.rules").joinpath(name).read_text("utf-8")
    )
    return data


def _phrases(texts: list[str]) -> CueSet:
    return CueSet(Cue(stems, (), "") for text in texts if (stems := phrase_stems(text)))


def _cues(rows: list[dict[str, Any]], key: str) -> CueSet:
    cues = []
    for row in rows:
        body = phrase_stems(row["body"]) if "body" in row else ()
        for text in row["words"]:
            stems = phrase_stems(text)
            if stems:
                cues.append(
                    Cue(stems, tuple(row[key]), row["why"], float(row.get("strength", 1)), body)
                )
    return CueSet(cues)


def _value_cues(
    devices: list[dict[str, Any]], qualifiers: list[dict[str, Any]]
) -> dict[str, CueSet]:
    by_axis: dict[str, list[Cue]] = {"device": list(_cues(devices, "devices").cues)}
    for row in qualifiers:
        axis = row.get("axis", "qualifier")
        by_axis.setdefault(axis, []).extend(_cues([row], "qualifiers").cues)
    return {axis: CueSet(cues) for axis, cues in by_axis.items()}
