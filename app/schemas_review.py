"""Request and response bodies of the review API (docs/review-api.md)."""

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr

from app.db.repository import QueueItem as RepoQueueItem
from app.db.tables import (
    AuditEntry,
    CodeSource,
    Decision,
    Encounter,
    EncounterStatus,
    Review,
    Setting,
    SuggestionRun,
    utcnow,
)
from codes.systems import CodeSystem

MAX_CODES = 200
MAX_REASON_CHARS = 2000
MAX_COMMENT_CHARS = 10_000


# --- the queue -----------------------------------------------------------------------------


class QueueItem(BaseModel):
    id: int
    external_id: str | None = Field(description="The EHR's id of the encounter")
    setting: Setting | None
    status: EncounterStatus
    received_at: datetime
    model_version: str = Field(description="Model version of the encounter's latest run")
    top_score: float = Field(description="Highest score of the latest run: the model's confidence")
    recommended: int = Field(description="How many codes the latest run recommends")
    claimed_by: str | None = Field(description="Who holds an unexpired claim, if anyone")
    claimed_until: datetime | None
    version: int = Field(description="The encounter's version (its ETag)")


class StatusCounts(BaseModel):
    new: int
    in_review: int
    reviewed: int


class QueuePage(BaseModel):
    items: list[QueueItem]
    total: int = Field(description="Encounters matching the filters, on every page")
    page: int
    page_size: int
    counts: StatusCounts = Field(description="Encounters per status, whatever the filters")

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "id": 12,
                            "external_id": "enc-7",
                            "setting": "inpatient",
                            "status": "new",
                            "received_at": "2026-12-07T10:00:00Z",
                            "model_version": "20261201-d4e5f6",
                            "top_score": 0.93,
                            "recommended": 5,
                            "claimed_by": None,
                            "claimed_until": None,
                            "version": 1,
                        }
                    ],
                    "total": 130,
                    "page": 1,
                    "page_size": 50,
                    "counts": {"new": 100, "in_review": 20, "reviewed": 10},
                }
            ]
        }
    )


# --- one encounter -------------------------------------------------------------------------


class RunOut(BaseModel):
    id: int
    model_version: str
    conventions: str
    created_at: datetime
    suggestions: list[dict[str, Any]] = Field(
        description="The ranked suggestions exactly as /suggest returned them (system, code,"
        " description, score, recommended, billable, evidence with offsets into `text`, notes)"
    )


class ReviewCodeOut(BaseModel):
    sequence: int = Field(description="1 is the principal (first-listed) diagnosis")
    system: str
    code: str
    source: CodeSource


class ReviewDecisionOut(BaseModel):
    system: str
    code: str
    decision: Decision
    reason: str | None


class ReviewOut(BaseModel):
    id: int
    coder: str
    submitted_at: datetime
    seconds_spent: int | None
    comment: str
    run_id: int
    encounter_version: int = Field(description="The version the coder reviewed")
    codes: list[ReviewCodeOut]
    decisions: list[ReviewDecisionOut]


class AuditOut(BaseModel):
    at: datetime
    actor: str
    action: str = Field(description="encounter.store, encounter.read, encounter.claim, ...")
    version: int | None


class EncounterOut(BaseModel):
    id: int
    external_id: str | None
    setting: Setting | None
    status: EncounterStatus
    version: int
    received_at: datetime
    text: str = Field(description="The note of the latest run; evidence offsets index it")
    purged_at: datetime | None = Field(
        description="When the retention limit blanked the note text (evidence quotes too)"
    )
    claimed_by: str | None
    claimed_until: datetime | None
    run: RunOut = Field(description="The latest suggestion run")
    reviews: list[ReviewOut] = Field(description="Earlier reviews, oldest first")
    audit: list[AuditOut] = Field(description="Who did what, oldest first")


class ClaimOut(BaseModel):
    claimed_by: str
    claimed_until: datetime
    version: int


class ReleaseOut(BaseModel):
    status: EncounterStatus
    version: int


# --- edits and submit ----------------------------------------------------------------------


class CodeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    system: CodeSystem
    code: Annotated[StrictStr, Field(min_length=1, max_length=16)]


class EditsRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "codes": [
                        {"system": "icd10cm", "code": "E11.621"},
                        {"system": "icd10cm", "code": "I10"},
                    ]
                }
            ]
        },
    )

    codes: Annotated[list[CodeIn], Field(max_length=MAX_CODES)] = Field(
        description="The final codes in claim order: the first diagnosis is the principal one"
    )


class InvalidCode(BaseModel):
    system: str
    code: str
    reason: str


class EditOut(BaseModel):
    kind: Literal["incomplete", "sequencing", "code_first", "use_additional", "excludes1"]
    severity: Literal["warning", "hard_stop"]
    codes: list[str]
    message: str
    guideline: str = Field(description="The Official Guidelines section the edit applies")


class EditsOut(BaseModel):
    invalid: list[InvalidCode] = Field(
        description="Codes the catalog does not know, or not billable"
    )
    edits: list[EditOut]


class FinalCodeIn(CodeIn):
    source: CodeSource = Field(
        default=CodeSource.SUGGESTED,
        description="suggested: from the run's list; added: the coder's own",
    )


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    system: CodeSystem
    code: Annotated[StrictStr, Field(min_length=1, max_length=16)]
    decision: Decision
    reason: Annotated[StrictStr | None, Field(max_length=MAX_REASON_CHARS)] = None


class SubmitRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "run_id": 4,
                    "codes": [
                        {"system": "icd10cm", "code": "J18.9", "source": "suggested"},
                        {"system": "icd10cm", "code": "E11.9", "source": "added"},
                    ],
                    "decisions": [
                        {
                            "system": "icd10cm",
                            "code": "R05.9",
                            "decision": "rejected",
                            "reason": "integral to J18.9",
                        }
                    ],
                    "seconds_spent": 95,
                    "comment": "",
                    "acknowledge_warnings": True,
                }
            ]
        },
    )

    run_id: int = Field(description="The run the coder reviewed (the encounter's `run.id`)")
    codes: Annotated[list[FinalCodeIn], Field(max_length=MAX_CODES)] = Field(
        description="The final codes in sequence order"
    )
    decisions: Annotated[list[DecisionIn], Field(max_length=MAX_CODES * 5)] = []
    seconds_spent: Annotated[int | None, Field(ge=0, le=7 * 24 * 3600)] = None
    comment: Annotated[StrictStr, Field(max_length=MAX_COMMENT_CHARS)] = ""
    acknowledge_warnings: StrictBool = Field(
        default=False, description="The coder has read the claim edits' warnings"
    )


class SubmitOut(BaseModel):
    review_id: int
    version: int = Field(description="The encounter's new version")
    next_encounter_id: int | None = Field(
        description="The next `new` encounter in queue order that nobody else has claimed"
    )


# --- analytics -----------------------------------------------------------------------------


class CodeAcceptance(BaseModel):
    system: str
    code: str
    description: str
    recommended: int
    accepted: int
    rejected: int
    acceptance_rate: float | None


class ModelAcceptance(BaseModel):
    model_version: str
    reviews: int
    recommended: int
    accepted: int
    rejected: int
    added: int
    acceptance_rate: float | None


class RankAcceptance(BaseModel):
    rank: int
    suggested: int
    accepted: int
    acceptance_rate: float | None


class MissedCode(BaseModel):
    system: str
    code: str
    description: str
    added: int
    suggested_not_recommended: int


class ReasonCount(BaseModel):
    reason: str
    count: int


class RejectedCode(BaseModel):
    system: str
    code: str
    description: str
    recommended: int
    rejected: int
    rejection_rate: float | None
    reasons: list[ReasonCount]


class CoderFigures(BaseModel):
    coder: str
    reviews: int
    median_seconds: float | None
    p90_seconds: float | None
    active_hours: float = Field(description="Sum of seconds_spent, in hours")
    reviews_per_hour: float | None = Field(description="Reviews per hour of active time")


class DayCount(BaseModel):
    date: date
    reviews: int


class Band(BaseModel):
    from_seconds: int
    to_seconds: int
    reviews: int


class TimePerEncounter(BaseModel):
    median_seconds: float | None
    mean_seconds: float | None
    p90_seconds: float | None
    histogram: list[Band]


class AnalyticsWindow(BaseModel):
    submitted_from: date
    submitted_to: date
    model_version: str | None
    coder: str | None


class AnalyticsOut(BaseModel):
    generated_at: datetime
    window: AnalyticsWindow
    reviews: int
    by_code: list[CodeAcceptance]
    by_model_version: list[ModelAcceptance]
    by_rank: list[RankAcceptance]
    missed: list[MissedCode]
    most_rejected: list[RejectedCode]
    coders: list[CoderFigures]
    throughput: list[DayCount]
    time_per_encounter: TimePerEncounter


# --- from the database's rows --------------------------------------------------------------


def queue_item_out(item: RepoQueueItem) -> QueueItem:
    encounter, run = item.encounter, item.run
    return QueueItem(
        id=encounter.id,
        external_id=encounter.external_id,
        setting=encounter.setting,
        status=encounter.status,
        received_at=encounter.received_at,
        model_version=run.model_version,
        top_score=run.top_score,
        recommended=run.recommended_count,
        claimed_by=item.claimed_by_name if encounter.claimed(utcnow()) else None,
        claimed_until=encounter.claimed_until if encounter.claimed(utcnow()) else None,
        version=encounter.version,
    )


def encounter_out(
    encounter: Encounter, run: SuggestionRun, reviews: list[Review], audit: list[AuditEntry]
) -> EncounterOut:
    claimed = encounter.claimed(utcnow())
    return EncounterOut(
        id=encounter.id,
        external_id=encounter.external_id,
        setting=encounter.setting,
        status=encounter.status,
        version=encounter.version,
        received_at=encounter.received_at,
        text=encounter.note_text,
        purged_at=encounter.purged_at,
        claimed_by=encounter.claimant.name if claimed and encounter.claimant else None,
        claimed_until=encounter.claimed_until if claimed else None,
        run=RunOut(
            id=run.id,
            model_version=run.model_version,
            conventions=run.conventions,
            created_at=run.created_at,
            suggestions=list(run.suggestions),
        ),
        reviews=[
            ReviewOut(
                id=r.id,
                coder=r.coder.name,
                submitted_at=r.submitted_at,
                seconds_spent=r.seconds_spent,
                comment=r.comment,
                run_id=r.run_id,
                encounter_version=r.encounter_version,
                codes=[
                    ReviewCodeOut(
                        sequence=c.sequence, system=c.system, code=c.code, source=c.source
                    )
                    for c in r.codes
                ],
                decisions=[
                    ReviewDecisionOut(
                        system=d.system, code=d.code, decision=d.decision, reason=d.reason
                    )
                    for d in r.decisions
                ],
            )
            for r in reviews
        ],
        audit=[
            AuditOut(at=a.at, actor=a.actor_name, action=a.action, version=a.encounter_version)
            for a in audit
        ],
    )
