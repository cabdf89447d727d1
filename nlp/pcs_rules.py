"""The PCS composer's rules, nlp/rules/pcs_*.json, as typed values (read when a composer is
built, never at import)."""

import json
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
    operation_cues: tuple[Cue, ...]
    preferences: tuple[Cue, ...]  # values: the one operation the words make likelier
    suffixes: tuple[Suffix, ...]  # longest first
    combining_forms: dict[str, tuple[str, ...]]  # word root -> body stems
    ignored_prefixes: tuple[str, ...]
    procedure_nouns: frozenset[str]  # stems
    context_words: frozenset[str]  # stems
    approach_cues: tuple[Cue, ...]
    approach_not_cues: tuple[tuple[str, ...], ...]
    value_cues: dict[str, tuple[Cue, ...]]  # axis key ("device", "qualifier") -> cues
    blocked: dict[str, tuple[tuple[str, ...], ...]]  # axis key -> phrases naming no value
    optional_words: dict[str, frozenset[str]]  # axis key -> stems a note may leave out
    sides: dict[str, frozenset[str]]  # "Right" -> stems that say it
    body_synonyms: dict[str, tuple[str, ...]]  # body part label -> other names


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
    return PcsRules(
        sections=frozenset(operations["sections"]),
        operation_cues=_cues(operations["cues"], "operations"),
        preferences=tuple(
            Cue(phrase_stems(text), (row["prefer"],), row["why"])
            for row in operations["preferences"]
            for text in row["words"]
        ),
        suffixes=tuple(sorted(suffixes, key=lambda s: (-len(s.suffix), s.suffix))),
        combining_forms={
            form: phrase_stems(body) for form, body in operations["combining_forms"].items()
        },
        ignored_prefixes=tuple(operations["ignored_prefixes"]),
        procedure_nouns=frozenset(stem(w) for w in operations["procedure_nouns"]),
        context_words=frozenset(stem(w) for w in operations["context_words"]),
        approach_cues=_cues(approaches["cues"], "approaches"),
        approach_not_cues=tuple(phrase_stems(text) for text in approaches["not_cues"]),
        value_cues=_value_cues(devices["cues"], qualifiers["cues"]),
        blocked={
            axis: tuple(phrase_stems(text) for text in phrases)
            for axis, phrases in qualifiers["blocked"].items()
        },
        optional_words={
            "body_part": body_optional,
            "device": frozenset(stem(w) for w in devices["optional_words"]),
        },
        sides={
            side: frozenset(stem(w) for w in said) for side, said in body_parts["sides"].items()
        },
        body_synonyms={row["value"]: tuple(row["words"]) for row in body_parts["synonyms"]},
    )


def _read(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        resources.files("nlp.rules").joinpath(name).read_text("utf-8")
    )
    return data


def _cues(rows: list[dict[str, Any]], key: str) -> tuple[Cue, ...]:
    cues = []
    for row in rows:
        body = phrase_stems(row["body"]) if "body" in row else ()
        for text in row["words"]:
            stems = phrase_stems(text)
            if stems:
                cues.append(
                    Cue(stems, tuple(row[key]), row["why"], float(row.get("strength", 1)), body)
                )
    return tuple(cues)


def _value_cues(
    devices: list[dict[str, Any]], qualifiers: list[dict[str, Any]]
) -> dict[str, tuple[Cue, ...]]:
    by_axis: dict[str, list[Cue]] = {"device": list(_cues(devices, "devices"))}
    for row in qualifiers:
        by_axis.setdefault(row.get("axis", "qualifier"), []).extend(_cues([row], "qualifiers"))
    return {axis: tuple(cues) for axis, cues in by_axis.items()}
