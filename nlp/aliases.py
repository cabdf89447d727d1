"""Aliases: the phrases a note may use for a code, from every lexicon source."""

from dataclasses import dataclass, field

from codes.systems import CodeSystem


@dataclass(frozen=True, slots=True)
class Alias:
    """A phrase that names a code.

    `code` is canonical and exists in the catalog (it may be a non-billable heading).
    `source` says where the phrase came from: description, inclusion, pcs_index,
    cm_index, drug, neoplasm, external_cause, evidence, abbreviation, cpt, hcpcs.
    `weight` (0..1] is how surely the phrase means the code when found: 1 for official
    names, lower for mined phrases (e.g. their precision on training data).
    `stems`: the sorted content stems of `text` (nlp.terms.content_stems), when a saved
    lexicon already holds them: grouping aliases into phrases then need not compute them
    again, which took a second for a model's 150,000 learned phrases at every start.
    Not part of the alias's identity.
    """

    system: CodeSystem
    code: str
    text: str
    source: str
    weight: float = 1.0
    stems: tuple[str, ...] | None = field(default=None, compare=False, repr=False)
