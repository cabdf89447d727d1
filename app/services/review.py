"""The review use cases: the queue, one encounter, claims, claim edits and submitting.

Each call works inside the caller's transaction (one per request) and writes its audit
rows there, so a change and its record commit together or not at all. No FastAPI here:
failures are `ServiceError`s carrying their status, rendered by the app's one handler.
Note text never goes into an error or the audit log.
"""

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy.orm import Session

from app.db.repository import (
    Actor,
    ClaimConflictError,
    CodeDecision,
    FinalCode,
    QueueItem,
    ReviewRepository,
    StaleVersionError,
)
from app.db.tables import (
    AuditEntry,
    CodeSource,
    Encounter,
    EncounterStatus,
    Review,
    Setting,
    SuggestionRun,
    utcnow,
)
from app.errors import ServiceError
from codes.catalog import Catalog, Validity
from codes.errors import SystemNotLoadedError
from codes.systems import CodeSystem
from models.conventions.edits import ClaimCode, ClaimEdit, Severity, claim_edits
from models.conventions.knowledge import CodingKnowledge

logger = logging.getLogger(__name__)

_ETAG = re.compile(r'^\s*(?:W/)?"?(\d{1,18})"?\s*$')


# --- values in and out -------------------------------------------------------------------


@dataclass(frozen=True)
class QueueFilters:
    status: EncounterStatus | None = None
    setting: Setting | None = None
    received_from: date | None = None  # inclusive, UTC days
    received_to: date | None = None  # inclusive
    model_version: str | None = None
    assigned_to: str | None = None
    sort: str = "received"
    page: int = 1
    page_size: int = 50


@dataclass(frozen=True)
class Queue:
    items: list[QueueItem]
    total: int
    counts: dict[EncounterStatus, int]


@dataclass(frozen=True)
class EncounterView:
    """An encounter as a coder sees it: the latest run, earlier reviews, the audit trail."""

    encounter: Encounter
    run: SuggestionRun
    reviews: list[Review]
    audit: list[AuditEntry]


@dataclass(frozen=True)
class InvalidCode:
    system: str
    code: str
    reason: str


@dataclass(frozen=True)
class EditsResult:
    invalid: list[InvalidCode]
    edits: list[ClaimEdit]


@dataclass(frozen=True)
class Submission:
    run_id: int
    codes: list[FinalCode]
    decisions: list[CodeDecision]
    seconds_spent: int | None = None
    comment: str = ""
    acknowledge_warnings: bool = False


@dataclass(frozen=True)
class Submitted:
    review_id: int
    version: int
    next_encounter_id: int | None


@dataclass(frozen=True)
class Stale:
    """The encounter moved on: what it is now, for the coder to review again."""

    current: EncounterView


def parse_if_match(header: str | None) -> int:
    """The version an If-Match header names; 428 without one, 400 if it names none."""
    if header is None or not header.strip():
        raise ServiceError(
            428,
            "precondition_required",
            'send If-Match: "<version>" with the ETag of the encounter you reviewed',
        )
    found = _ETAG.match(header)
    if found is None:
        raise ServiceError(400, "bad_if_match", 'If-Match must be a version: "<version>"')
    return int(found.group(1))


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def day_end(day: date) -> datetime:
    """Where a UTC day ends, as an exclusive bound: the next day's start, or for the
    calendar's last day (a date a client may send) the last instant there is."""
    if day == date.max:
        return datetime.max.replace(tzinfo=UTC)
    return _day_start(day + timedelta(days=1))


class ReviewService:
    """Built once per process: the catalog and coding knowledge it checks codes with."""

    def __init__(
        self,
        catalog: Catalog,
        knowledge: CodingKnowledge,
        claim_minutes: int = 15,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.catalog = catalog
        self.knowledge = knowledge
        self.claim_minutes = claim_minutes
        self.clock = clock

    # --- reading ---------------------------------------------------------------------------

    def queue(self, session: Session, filters: QueueFilters) -> Queue:
        repo = ReviewRepository(session)
        try:
            items, total = repo.queue(
                status=filters.status,
                setting=filters.setting,
                received_from=_day_start(filters.received_from) if filters.received_from else None,
                received_to=day_end(filters.received_to) if filters.received_to else None,
                model_version=filters.model_version,
                assigned_to=filters.assigned_to,
                sort=filters.sort,
                page=filters.page,
                page_size=filters.page_size,
            )
        except ValueError as exc:
            raise ServiceError(422, "invalid_request", str(exc)) from exc
        return Queue(items, total, repo.status_counts())

    def read(self, session: Session, encounter_id: int, actor: Actor) -> EncounterView:
        """The encounter, recording that `actor` read it (at its current version)."""
        repo = ReviewRepository(session)
        encounter = repo.encounter(encounter_id)
        repo.audit(actor, "encounter.read", encounter.id, encounter.version, now=self.clock())
        return self._view(repo, encounter)

    def _view(self, repo: ReviewRepository, encounter: Encounter) -> EncounterView:
        return EncounterView(
            encounter=encounter,
            run=repo.latest_run(encounter.id),
            reviews=repo.reviews(encounter.id),
            audit=repo.audit_timeline(encounter.id),
        )

    # --- claiming --------------------------------------------------------------------------

    def claim(self, session: Session, encounter_id: int, actor: Actor) -> Encounter:
        repo = ReviewRepository(session)
        try:
            return repo.claim(encounter_id, actor, self.clock(), self.claim_minutes)
        except ClaimConflictError as exc:
            raise ServiceError(
                409,
                "claimed",
                {
                    "message": f"encounter {encounter_id} is being reviewed by {exc.holder}",
                    "claimed_by": exc.holder,
                    "claimed_until": exc.until.isoformat().replace("+00:00", "Z"),
                },
            ) from exc

    def release(self, session: Session, encounter_id: int, actor: Actor) -> Encounter:
        return ReviewRepository(session).release(encounter_id, actor, self.clock())

    # --- checking codes --------------------------------------------------------------------

    def edits(
        self, session: Session, encounter_id: int, codes: Sequence[tuple[str, str]]
    ) -> EditsResult:
        """Codes the catalog does not know, and the claim edits of the rest, in claim order."""
        ReviewRepository(session).encounter(encounter_id)  # 404 for an unknown encounter
        invalid, known, _ = self._check_codes(codes)
        return EditsResult(invalid, claim_edits(self.knowledge, known))

    def _check_codes(
        self, codes: Sequence[tuple[str, str]]
    ) -> tuple[list[InvalidCode], list[ClaimCode], list[InvalidCode]]:
        """(unknown codes, the known ones canonical, the known ones not billable)."""
        invalid: list[InvalidCode] = []
        not_billable: list[InvalidCode] = []
        known: list[ClaimCode] = []
        for system_name, raw in codes:
            system = CodeSystem(system_name)
            try:
                checked = self.catalog.validate(system, raw)
            except SystemNotLoadedError as exc:
                invalid.append(InvalidCode(system.value, raw, exc.detail))
                continue
            if checked.validity in (Validity.INVALID, Validity.MALFORMED) or checked.code is None:
                invalid.append(InvalidCode(system.value, raw, checked.reason))
                continue
            known.append(ClaimCode(system, checked.code))
            if checked.validity is Validity.NOT_BILLABLE:
                not_billable.append(InvalidCode(system.value, checked.code, checked.reason))
        return invalid, known, not_billable

    # --- submitting ------------------------------------------------------------------------

    def submit(
        self, session: Session, encounter_id: int, actor: Actor, version: int, given: Submission
    ) -> Submitted | Stale:
        """Record the review of the encounter at `version`; Stale if it moved on.

        The version is checked first (a coder who reviewed an old version must look
        again before anything else matters), then the codes, then the claim edits; the
        repository's conditional UPDATE settles a race between two coders.
        """
        repo = ReviewRepository(session)
        now = self.clock()
        encounter = repo.encounter(encounter_id)
        if encounter.version != version:
            return self._stale(repo, encounter, actor, version, now)

        invalid, known, not_billable = self._check_codes([(c.system, c.code) for c in given.codes])
        if invalid or not_billable:
            raise ServiceError(
                422, "invalid_codes", [_invalid_out(c) for c in [*invalid, *not_billable]]
            )
        edits = claim_edits(self.knowledge, known)
        hard_stops = [e for e in edits if e.severity is Severity.HARD_STOP]
        if hard_stops:
            raise ServiceError(422, "hard_stops", [edit_out(e) for e in hard_stops])
        warnings = [e for e in edits if e.severity is Severity.WARNING]
        if warnings and not given.acknowledge_warnings:
            raise ServiceError(422, "unacknowledged_warnings", [edit_out(e) for e in warnings])

        codes = [
            FinalCode(k.system.value, k.code, CodeSource(c.source))
            for k, c in zip(known, given.codes, strict=True)
        ]
        try:
            review = repo.submit_review(
                encounter_id,
                version,
                actor,
                given.run_id,
                codes,
                given.decisions,
                given.seconds_spent,
                given.comment,
                now,
            )
        except StaleVersionError:
            return self._stale(repo, repo.encounter(encounter_id), actor, version, now)
        if warnings:
            repo.audit(
                actor,
                "review.warnings_acknowledged",
                encounter_id,
                version + 1,
                {"review_id": review.id, "edits": [e.kind for e in warnings]},
                now,
            )
        next_id = repo.next_new_encounter(encounter_id, actor, now)
        return Submitted(review.id, version + 1, next_id)

    def _stale(
        self,
        repo: ReviewRepository,
        encounter: Encounter,
        actor: Actor,
        based_on: int,
        now: datetime,
    ) -> Stale:
        repo.audit(
            actor,
            "review.refused",
            encounter.id,
            encounter.version,
            {"reason": "stale_version", "based_on_version": based_on},
            now,
        )
        repo.audit(actor, "encounter.read", encounter.id, encounter.version, now=now)
        return Stale(self._view(repo, encounter))


def edit_out(edit: ClaimEdit) -> dict[str, Any]:
    return {
        "kind": edit.kind,
        "severity": edit.severity.value,
        "codes": list(edit.codes),
        "message": edit.message,
        "guideline": edit.guideline,
    }


def _invalid_out(code: InvalidCode) -> dict[str, str]:
    return {"system": code.system, "code": code.code, "reason": code.reason}
