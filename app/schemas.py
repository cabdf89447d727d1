"""Request and response bodies: the public contract outside tools depend on."""

from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    field_validator,
    model_validator,
)

from codes.systems import CodeSystem
from models.suggestions import ScoredCode
from nlp.mentions import Assertion

MAX_TEXT_CHARS = 200_000


class NoteRequest(BaseModel):
    """What /suggest and /annotate read."""

    model_config = ConfigDict(extra="forbid")

    text: Annotated[StrictStr, Field(min_length=1, max_length=MAX_TEXT_CHARS)]
    note_id: Annotated[StrictStr | None, Field(max_length=200)] = None
    systems: Annotated[
        list[CodeSystem] | None,
        Field(min_length=1, description="Code systems to suggest from; default: all loaded"),
    ] = None
    setting: Literal["inpatient", "outpatient"] | None = Field(
        default=None,
        description="Encounter setting: decides whether uncertain diagnoses are coded",
    )

    @field_validator("text")
    @classmethod
    def _not_blank(cls, text: str) -> str:
        if not text.strip():
            raise ValueError("text holds only whitespace")
        return text

    @field_validator("systems")
    @classmethod
    def _distinct(cls, systems: list[CodeSystem] | None) -> list[CodeSystem] | None:
        return None if systems is None else list(dict.fromkeys(systems))


class AnnotateRequest(NoteRequest):
    max_candidates: Annotated[StrictInt, Field(ge=1, le=1000)] = Field(
        default=10, description="Candidate codes returned per mention, best first"
    )


class SuggestRequest(NoteRequest):
    limit: Annotated[StrictInt, Field(ge=1, le=1000)] = Field(
        default=30,
        description="At most this many codes, best first; codes scoring below 0.001 are"
        " never listed",
    )
    store: bool = Field(
        default=False,
        description="Store the note and its suggestions as an encounter for coders to review"
        " (needs a token with the role ehr or admin); the answer says where",
    )
    encounter_id: Annotated[StrictStr | None, Field(min_length=1, max_length=200)] = Field(
        default=None,
        description="The EHR's id of the encounter, with store: posting it again adds a new"
        " version (a new suggestion run) to the same encounter; nothing is overwritten",
    )

    @model_validator(mode="after")
    def _encounter_id_needs_store(self) -> "SuggestRequest":
        if self.encounter_id is not None and not self.store:
            raise ValueError("encounter_id is only read with store: true")
        return self

    conventions: Literal["us", "learned"] | None = Field(
        default=None,
        description="Coding conventions deciding `recommended`: us (ICD-10-CM and ICD-10-PCS"
        " Official Guidelines FY2026) or learned (what the model's training coders did);"
        " default: the service's setting (MEDCODE_CONVENTIONS, us unless changed)",
    )


class Evidence(BaseModel):
    start: int = Field(description="Offset of the first character in the note, inclusive")
    end: int = Field(description="Offset after the last character: text == note[start:end]")
    text: str
    section: str | None
    assertion: Assertion


class Suggestion(BaseModel):
    system: CodeSystem
    code: str
    description: str
    score: float = Field(ge=0.0, le=1.0)
    recommended: bool
    billable: bool
    evidence: list[Evidence]
    notes: list[str] = Field(
        description="Why the conventions recommend it or not, with the guideline section:"
        " 'integral to J18.9 (I.B.5)', 'replaced by E11.621: combination code'"
    )


def suggestion_out(scored: ScoredCode) -> Suggestion:
    """One suggestion as /suggest answers it (and `medcode batch` writes it)."""
    return Suggestion(
        system=scored.system,
        code=scored.code,
        description=scored.description,
        score=scored.score,
        recommended=scored.recommended,
        billable=scored.billable,
        evidence=[
            Evidence(
                start=e.start, end=e.end, text=e.text, section=e.section, assertion=e.assertion
            )
            for e in scored.evidence
        ],
        notes=list(scored.notes),
    )


class StoredEncounter(BaseModel):
    encounter_id: int = Field(description="medcode's id: /api/review/encounters/{encounter_id}")
    external_id: str | None = Field(description="The EHR's id, as sent")
    run_id: int
    version: int = Field(description="The encounter's version: 1, then one more per repost")


class SuggestResponse(BaseModel):
    model_version: str
    conventions: Literal["us", "learned"]
    note_id: str | None = None
    encounter_id: int | None = Field(
        default=None, description="With store: true, medcode's id of the stored encounter"
    )
    stored: StoredEncounter | None = None
    suggestions: list[Suggestion]


class CodeBrief(BaseModel):
    system: CodeSystem
    code: str
    description: str
    billable: bool
    kind: str


class CodeNoteOut(BaseModel):
    kind: str
    text: str


class CodeDetail(CodeBrief):
    parents: list[CodeBrief] = Field(description="Parent first, up to the top of the hierarchy")
    children: list[CodeBrief]
    terms: list[str] = Field(description="Other names: inclusion terms, index entries")
    notes: list[CodeNoteOut]
    attributes: dict[str, list[str]]
    billable_reason: str


class CodeSearchResponse(BaseModel):
    system: CodeSystem
    query: str
    results: list[CodeBrief]


class ValidateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    system: CodeSystem
    codes: Annotated[list[StrictStr], Field(min_length=1, max_length=1000)]


class CodeValidation(BaseModel):
    input: str
    code: str | None = Field(description="The canonical spelling, when the input is well formed")
    validity: Literal["billable", "valid_not_billable", "invalid", "malformed"]
    reason: str
    description: str | None


class ValidateResponse(BaseModel):
    system: CodeSystem
    results: list[CodeValidation]


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ready", "not_ready"]
    catalog: dict[str, int] = Field(description="Codes loaded per system")
    model_version: str | None
