"""The terms the note matcher looks for, drawn from the catalog."""

from collections.abc import Iterator

from codes.catalog import Catalog
from codes.records import CodeRecord
from codes.systems import CodeSystem
from codes.text import words
from nlp.term_matcher import LexiconTerm, lexicon_term


def catalog_terms(catalog: Catalog, systems: tuple[CodeSystem, ...]) -> list[LexiconTerm]:
    terms: list[LexiconTerm] = []
    for system in systems:
        for record in catalog.records(system):
            terms.extend(lexicon_term(system, record.code, t) for t in _names(record))
    return [t for t in terms if t.stems]


def _names(record: CodeRecord) -> Iterator[str]:
    """The names of a record worth looking for in a note."""
    if record.kind in ("chapter", "block", "section", "table"):
        return
    # Full PCS titles spell out approach and device, which notes rarely do; the
    # body-part level ("Resection of Appendix") and index entries are what notes say.
    pcs_title = record.system is CodeSystem.ICD10PCS and record.kind != "body_part"
    # "Other psoriasis" is what is left when the specific kinds are taken out: a note
    # that says "psoriasis" does not mean it.
    residual = "other" in words(record.description)
    if not pcs_title and not residual:
        yield record.description
    if record.system is not CodeSystem.HCPCS:  # HCPCS short names are clipped abbreviations
        yield from record.terms
