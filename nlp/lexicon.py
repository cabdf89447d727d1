"""The lexicon: every alias the note matcher looks for, from every source, saved once at
build time (`medcode codes import`) and loaded at start-up.

Saved twice over: as alias columns (lexicon.json, `load_lexicon`: every phrase, as a
trained model reads its learned phrases) and as the term matcher's index with the same
phrases in arrays (terms.json and terms.npz, `load_terms`: what a service reads, with no
phrase made before a note matches it). lexicon.json keeps its format because every
trained model's learned phrases are saved in it.
"""

import itertools
import json
import logging
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from codes.catalog import Catalog
from codes.errors import MedcodeError
from codes.folders import read_built_json
from codes.records import CodeRecord
from codes.systems import CodeSystem
from codes.text import words
from nlp.aliases import Alias
from nlp.saved_phrases import SavedPhrases
from nlp.term_matcher import Phrase, TermMatcher, group_phrases

logger = logging.getLogger(__name__)

LEXICON_FILE = "lexicon.json"
LINKER_FOLDER = "linker"
LEXICON_FORMAT = 2
TERMS_FILE = "terms.json"  # written last: stems, names, provenance
TERMS_ARRAYS = "terms.npz"
TERMS_FORMAT = 1


class LexiconError(MedcodeError):
    """The saved lexicon is missing or was written by an incompatible medcode."""

    status_code = 503
    error = "lexicon_not_built"


def catalog_aliases(catalog: Catalog, systems: Iterable[CodeSystem]) -> list[Alias]:
    """Official names: descriptions, inclusion terms, PCS index entries, HCPCS, CPT."""
    return [
        Alias(system, record.code, name, source)
        for system in systems
        for record in catalog.records(system)
        for name, source in _names(record)
    ]


def _names(record: CodeRecord) -> Iterator[tuple[str, str]]:
    """The names of a record worth looking for in a note, with their source."""
    if record.kind in ("chapter", "block", "section", "table"):
        return
    # Full PCS titles spell out approach and device, which notes rarely do; the
    # body-part level ("Resection of Appendix") and index entries are what notes say.
    pcs_title = record.system is CodeSystem.ICD10PCS and record.kind != "body_part"
    # "Other psoriasis" is what is left when the specific kinds are taken out: a note
    # that says "psoriasis" does not mean it.
    residual = "other" in words(record.description)
    if not pcs_title and not residual:
        yield record.description, "description"
    if record.system is CodeSystem.HCPCS:  # HCPCS short names are clipped abbreviations
        return
    source = "pcs_index" if record.system is CodeSystem.ICD10PCS else "inclusion"
    for term in record.terms:
        yield term, source


def save_lexicon(folder: Path, aliases: Iterable[Alias], provenance: dict[str, object]) -> int:
    """Write the aliases grouped into phrases (stems computed once, here). Returns phrases.

    Stored as parallel columns: far quicker to parse than one small object per alias.
    """
    phrases = group_phrases(aliases)
    flat = [a for p in phrases for a in p.aliases]
    systems = [s.value for s in CodeSystem]
    sources = sorted({a.source for a in flat})
    payload = {
        "format": LEXICON_FORMAT,
        "provenance": provenance,
        "systems": systems,
        "sources": sources,
        "phrase_stems": [" ".join(p.stems) for p in phrases],
        "phrase_sizes": [len(p.aliases) for p in phrases],
        "system": [systems.index(a.system.value) for a in flat],
        "code": [a.code for a in flat],
        "text": [a.text for a in flat],
        "source": [sources.index(a.source) for a in flat],
        "weight": [a.weight for a in flat],
    }
    folder.mkdir(parents=True, exist_ok=True)
    (folder / LEXICON_FILE).write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")
    _save_terms(folder, phrases, provenance)
    return len(phrases)


def _save_terms(folder: Path, phrases: list[Phrase], provenance: dict[str, object]) -> None:
    saved = SavedPhrases.of(phrases)
    (folder / TERMS_FILE).unlink(missing_ok=True)  # no manifest until the arrays are whole
    np.savez(folder / TERMS_ARRAYS, allow_pickle=False, **saved.arrays())
    manifest = {
        "format": TERMS_FORMAT,
        "provenance": provenance,
        "phrases": saved.index.phrase_count,
        "aliases": saved.alias_count,
        "systems": [s.value for s in saved.systems],
        "sources": saved.sources,
        "stems": list(saved.index.stems),
    }
    (folder / TERMS_FILE).write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")


def load_terms(folder: Path) -> tuple[TermMatcher, dict[str, Any]]:
    """The lexicon's term matcher, read as saved: nothing to build, and a phrase is made
    only once a note matches it. LexiconError if the folder has none of this format."""
    manifest = read_built_json(
        folder / TERMS_FILE, "lexicon term index", TERMS_FORMAT, LexiconError
    )
    try:
        with np.load(folder / TERMS_ARRAYS, allow_pickle=False) as saved:
            arrays = {name: saved[name] for name in saved.files}
        phrases = SavedPhrases.from_arrays(
            manifest["stems"], manifest["systems"], manifest["sources"], arrays
        )
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        raise LexiconError(
            f"the lexicon term index at {folder} is incomplete or damaged ({exc}):"
            " run `medcode codes import` again"
        ) from exc
    matcher = TermMatcher.over(phrases.index, phrases.phrase, phrases.alias_count)
    return matcher, manifest["provenance"]


def load_lexicon(folder: Path) -> tuple[list[Phrase], dict[str, Any]]:
    """Every phrase, made now; each alias keeps its phrase's stems (Alias.stems)."""
    payload = read_built_json(folder / LEXICON_FILE, "lexicon", LEXICON_FORMAT, LexiconError)
    systems = [CodeSystem(s) for s in payload["systems"]]
    sources = payload["sources"]
    columns = zip(
        payload["system"],
        payload["code"],
        payload["text"],
        payload["source"],
        payload["weight"],
        strict=True,
    )
    phrases = []
    for joined, size in zip(payload["phrase_stems"], payload["phrase_sizes"], strict=True):
        stems = tuple(joined.split(" "))
        aliases = tuple(
            Alias(systems[system], code, text, sources[source], weight, stems)
            for system, code, text, source, weight in itertools.islice(columns, size)
        )
        phrases.append(Phrase(stems, aliases))
    return phrases, payload["provenance"]
