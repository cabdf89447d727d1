"""Every query of the review database.

`Repository(session)` reads and writes inside the caller's transaction and never commits:
the unit of work (`Database.session_scope()`, one per request or command) does. Writes
that two coders could race (claiming, submitting) are single conditional UPDATEs, so the
database, not Python, decides who wins, on SQLite and on PostgreSQL alike.

Note text is patient data: it goes into `encounters` and `suggestion_runs` only, never
into the audit log or an error message.
"""

import hashlib
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, case, delete, func, or_, select, update
from sqlalchemy.orm import Session

from app.db.tables import (
    ApiToken,
    AuditEntry,
    CodeSource,
    Decision,
    Encounter,
    EncounterStatus,
    Review,
    ReviewCode,
    ReviewDecision,
    Role,
    Setting,
    SuggestionRun,
    User,
    WebSession,
    utcnow,
)
from codes.errors import MedcodeError

TOKEN_BYTES = 32


# --- errors: each carries the HTTP status a route answers with --------------------------


class NotFoundError(MedcodeError):
    status_code = 404
    error = "not_found"


class AlreadyExistsError(MedcodeError):
    status_code = 409
    error = "already_exists"


class ClaimConflictError(MedcodeError):
    """Another coder holds an unexpired claim on the encounter."""

    status_code = 409
    error = "claimed"

    def __init__(self, encounter_id: int, holder: str, until: datetime) -> None:
        super().__init__(
            f"encounter {encounter_id} is claimed by {holder} until {until.isoformat()}"
        )
        self.encounter_id = encounter_id
        self.holder = holder
        self.until = until


class StaleVersionError(MedcodeError):
    """The encounter moved on since the version the caller based its change on."""

    status_code = 409
    error = "stale_version"

    def __init__(self, encounter_id: int, expected: int, current: int) -> None:
        super().__init__(
            f"encounter {encounter_id} is at version {current}, not {expected}:"
            " reload it and review again"
        )
        self.encounter_id = encounter_id
        self.expected = expected
        self.current = current


class InvalidReviewError(MedcodeError):
    status_code = 422
    error = "invalid_review"


# --- values in and out -------------------------------------------------------------------


@dataclass(frozen=True)
class Actor:
    """Who acts: a user, or the service itself (the admin token, the command line)."""

    user_id: int | None
    name: str
    role: Role

    @classmethod
    def of(cls, user: User) -> "Actor":
        return cls(user_id=user.id, name=user.name, role=user.role)


@dataclass(frozen=True)
class FinalCode:
    """A code of a submitted review, in claim order."""

    system: str
    code: str
    source: CodeSource = CodeSource.SUGGESTED


@dataclass(frozen=True)
class CodeDecision:
    system: str
    code: str
    decision: Decision
    reason: str | None = None


@dataclass(frozen=True)
class QueueItem:
    encounter: Encounter
    run: SuggestionRun

    @property
    def claimed_by_name(self) -> str | None:
        return self.encounter.claimant.name if self.encounter.claimant else None


@dataclass(frozen=True)
class ReviewedEncounter:
    """The latest review of a reviewed encounter, with the text the coder read."""

    encounter_id: int
    external_id: str | None
    setting: Setting | None
    note_text: str
    review_id: int
    run_id: int
    model_version: str
    submitted_at: datetime
    codes: list[FinalCode] = field(default_factory=list)


def hash_token(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


class Repository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # --- users and tokens ------------------------------------------------------------------

    def add_user(self, name: str, role: Role, actor: Actor | None = None) -> User:
        name = name.strip()
        if not name:
            raise ValueError("a user needs a name")
        if self.user_by_name(name) is not None:
            raise AlreadyExistsError(f"a user named {name!r} already exists")
        user = User(name=name, role=Role(role))
        self.session.add(user)
        self.session.flush()
        if actor is not None:
            self.audit(actor, "user.create", detail={"user": name, "role": user.role.value})
        return user

    def users(self) -> list[User]:
        return list(self.session.scalars(select(User).order_by(User.name)))

    def user_by_name(self, name: str) -> User | None:
        return self.session.scalar(select(User).where(User.name == name))

    def create_token(
        self,
        user: User,
        label: str = "",
        expires_at: datetime | None = None,
        actor: Actor | None = None,
    ) -> tuple[ApiToken, str]:
        """A new token for `user`: the row, and the token itself, which is kept nowhere."""
        plaintext = secrets.token_urlsafe(TOKEN_BYTES)
        token = ApiToken(
            user_id=user.id, label=label, token_hash=hash_token(plaintext), expires_at=expires_at
        )
        self.session.add(token)
        self.session.flush()
        self.audit(
            actor or Actor.of(user),
            "token.create",
            detail={"token_id": token.id, "user": user.name, "label": label},
        )
        return token, plaintext

    def tokens(self, user: User | None = None) -> list[ApiToken]:
        query = select(ApiToken).order_by(ApiToken.id)
        if user is not None:
            query = query.where(ApiToken.user_id == user.id)
        return list(self.session.scalars(query))

    def revoke_token(
        self, token_id: int, now: datetime | None = None, actor: Actor | None = None
    ) -> ApiToken:
        token = self.session.get(ApiToken, token_id)
        if token is None:
            raise NotFoundError(f"no token with id {token_id}")
        if token.revoked_at is None:
            token.revoked_at = now or utcnow()
            self.session.flush()
            # A browser session is not tied to the token that opened it: revoking any of a
            # user's tokens ends all their sessions, so a leaked token's session ends too.
            ended = self.revoke_web_sessions(token.user_id)
            self.audit(
                actor or Actor.of(token.user),
                "token.revoke",
                detail={"token_id": token.id, "user": token.user.name, "sessions_ended": ended},
            )
        return token

    def revoke_web_sessions(self, user_id: int) -> int:
        """Sign the user out everywhere; how many sessions ended."""
        result = self.session.execute(delete(WebSession).where(WebSession.user_id == user_id))
        return _rowcount(result)

    def set_active(self, user: User, active: bool, actor: Actor) -> int:
        """Enable or disable a user (a disabled user's tokens are refused); disabling ends
        their browser sessions. How many sessions ended."""
        ended = 0
        if user.active != active:
            user.active = active
            if not active:
                ended = self.revoke_web_sessions(user.id)
            self.session.flush()
            self.audit(
                actor,
                "user.enable" if active else "user.disable",
                detail={"user": user.name, "sessions_ended": ended},
            )
        return ended

    def user_for_token(self, plaintext: str, now: datetime | None = None) -> User | None:
        """The active user a usable token belongs to (recording its use), or None."""
        found = self.token_grant(plaintext, now)
        return None if found is None else found[0]

    def token_grant(
        self, plaintext: str, now: datetime | None = None
    ) -> tuple[User, datetime | None] | None:
        """The active user a usable token belongs to and the token's expiry (recording its
        use), or None."""
        now = now or utcnow()
        token = self.session.scalar(
            select(ApiToken).where(ApiToken.token_hash == hash_token(plaintext))
        )
        if token is None or not token.usable(now) or not token.user.active:
            return None
        token.last_used_at = now
        return token.user, token.expires_at

    # --- encounters and suggestion runs ----------------------------------------------------

    def store_suggestions(
        self,
        external_id: str | None,
        setting: Setting | str | None,
        text: str,
        model_version: str,
        conventions: str,
        suggestions: Sequence[Mapping[str, Any]],
        actor: Actor,
        now: datetime | None = None,
    ) -> tuple[Encounter, SuggestionRun]:
        """A new encounter, or a new version of the one with `external_id`: its note text
        is replaced and its version goes up, and the run keeps this version's text. No run
        is ever overwritten.

        A repost of what the latest run already holds (same text, setting, model,
        conventions and suggestions) changes nothing and returns that run: an EHR that
        retries after an answer it never got, though the store was committed, must not
        make a new version for coders to review again."""
        now = now or utcnow()
        setting = Setting(setting) if setting is not None else None
        encounter = (
            self.session.scalar(select(Encounter).where(Encounter.external_id == external_id))
            if external_id is not None
            else None
        )
        if encounter is not None and setting in (None, encounter.setting):
            latest = self.latest_run(encounter.id)
            if (latest.note_text, latest.model_version, latest.conventions) == (
                text,
                model_version,
                conventions,
            ) and latest.suggestions == [dict(s) for s in suggestions]:
                return encounter, latest
        if encounter is None:
            encounter = Encounter(
                external_id=external_id, setting=setting, note_text=text, received_at=now
            )
            self.session.add(encounter)
            self.session.flush()
        else:
            # In SQL, so a concurrent claim or review is not undone by a stale Python value.
            self.session.execute(
                update(Encounter)
                .where(Encounter.id == encounter.id)
                .values(
                    note_text=text,
                    setting=setting if setting is not None else Encounter.setting,
                    version=Encounter.version + 1,
                    # Plain values: an Enum literal in CASE would be bound by member name.
                    status=case(
                        (Encounter.status == EncounterStatus.REVIEWED, EncounterStatus.NEW.value),
                        else_=Encounter.status,
                    ),
                )
            )
            self.session.refresh(encounter)
        run = SuggestionRun(
            encounter_id=encounter.id,
            created_at=now,
            model_version=model_version,
            conventions=conventions,
            note_text=text,
            suggestions=[dict(s) for s in suggestions],
            top_score=max((float(s["score"]) for s in suggestions), default=0.0),
        )
        self.session.add(run)
        self.session.flush()
        self.audit(
            actor,
            "encounter.store",
            encounter.id,
            encounter.version,
            {
                "run_id": run.id,
                "model_version": model_version,
                "conventions": conventions,
                "suggestions": len(run.suggestions),
            },
            now,
        )
        return encounter, run

    def encounter(self, encounter_id: int) -> Encounter:
        found = self.session.get(Encounter, encounter_id, populate_existing=True)
        if found is None:
            raise NotFoundError(f"no encounter with id {encounter_id}")
        return found

    def latest_run(self, encounter_id: int) -> SuggestionRun:
        run = self.session.scalar(
            select(SuggestionRun)
            .where(SuggestionRun.encounter_id == encounter_id)
            .order_by(SuggestionRun.id.desc())
            .limit(1)
        )
        if run is None:
            raise NotFoundError(f"no suggestion run for encounter {encounter_id}")
        return run

    def runs(self, encounter_id: int) -> list[SuggestionRun]:
        return list(
            self.session.scalars(
                select(SuggestionRun)
                .where(SuggestionRun.encounter_id == encounter_id)
                .order_by(SuggestionRun.id)
            )
        )

    def queue(
        self,
        status: EncounterStatus | None = None,
        setting: Setting | None = None,
        received_from: datetime | None = None,
        received_to: datetime | None = None,
        model_version: str | None = None,
        assigned_to: str | None = None,
        sort: str = "received",
        page: int = 1,
        page_size: int = 50,
    ) -> tuple[list[QueueItem], int]:
        """One page of encounters with their latest run, and how many match in all.

        `received_to` is exclusive; `sort` is `received` (oldest first) or `confidence`
        (lowest top score first, the ones the model is least sure of); ties by id.
        """
        if sort not in ("received", "confidence"):
            raise ValueError(f"sort is 'received' or 'confidence', not {sort!r}")
        if page < 1 or page_size < 1:
            raise ValueError("page and page_size start at 1")
        latest = (
            select(func.max(SuggestionRun.id))
            .where(SuggestionRun.encounter_id == Encounter.id)
            .correlate(Encounter)
            .scalar_subquery()
        )
        query: Select[Encounter, SuggestionRun] = select(Encounter, SuggestionRun).join(
            SuggestionRun, SuggestionRun.id == latest
        )
        if status is not None:
            query = query.where(Encounter.status == status)
        if setting is not None:
            query = query.where(Encounter.setting == setting)
        if received_from is not None:
            query = query.where(Encounter.received_at >= received_from)
        if received_to is not None:
            query = query.where(Encounter.received_at < received_to)
        if model_version is not None:
            query = query.where(SuggestionRun.model_version == model_version)
        if assigned_to is not None:
            query = query.join(User, User.id == Encounter.claimed_by).where(
                User.name == assigned_to
            )
        total = self.session.scalar(select(func.count()).select_from(query.subquery())) or 0
        order = (
            (Encounter.received_at, Encounter.id)
            if sort == "received"
            else (SuggestionRun.top_score, Encounter.id)
        )
        rows = self.session.execute(
            query.order_by(*order).offset((page - 1) * page_size).limit(page_size)
        ).all()
        return [QueueItem(encounter, run) for encounter, run in rows], total

    def status_counts(self) -> dict[EncounterStatus, int]:
        counts = dict.fromkeys(EncounterStatus, 0)
        for status, count in self.session.execute(
            select(Encounter.status, func.count()).group_by(Encounter.status)
        ):
            counts[EncounterStatus(status)] = count
        return counts

    # --- claims ----------------------------------------------------------------------------

    def claim(self, encounter_id: int, user: Actor, now: datetime, minutes: int) -> Encounter:
        """Hold the encounter for `minutes`; claiming again extends one's own claim."""
        holder_id = _user_id(user)
        until = now + timedelta(minutes=minutes)
        result = self.session.execute(
            update(Encounter)
            .where(
                Encounter.id == encounter_id,
                or_(
                    Encounter.claimed_by.is_(None),
                    Encounter.claimed_by == holder_id,
                    Encounter.claimed_until.is_(None),
                    Encounter.claimed_until <= now,
                ),
            )
            .values(
                claimed_by=holder_id,
                claimed_until=until,
                status=case(
                    (Encounter.status == EncounterStatus.NEW, EncounterStatus.IN_REVIEW.value),
                    else_=Encounter.status,
                ),
            )
            .execution_options(synchronize_session=False)
        )
        encounter = self.encounter(encounter_id)
        if _rowcount(result) == 0:
            holder = encounter.claimant.name if encounter.claimant else "another user"
            assert encounter.claimed_until is not None
            raise ClaimConflictError(encounter_id, holder, encounter.claimed_until)
        self.audit(
            user,
            "encounter.claim",
            encounter_id,
            encounter.version,
            {"until": until.isoformat()},
            now,
        )
        return encounter

    def release(self, encounter_id: int, user: Actor, now: datetime | None = None) -> Encounter:
        """Give up one's claim (an admin may release anyone's); unreviewed work goes back
        to `new`."""
        now = now or utcnow()
        condition = Encounter.id == encounter_id
        if user.role is not Role.ADMIN:
            condition = and_(condition, Encounter.claimed_by == _user_id(user))
        result = self.session.execute(
            update(Encounter)
            .where(condition, Encounter.claimed_by.is_not(None))
            .values(
                claimed_by=None,
                claimed_until=None,
                status=case(
                    (Encounter.status == EncounterStatus.IN_REVIEW, EncounterStatus.NEW.value),
                    else_=Encounter.status,
                ),
            )
            .execution_options(synchronize_session=False)
        )
        encounter = self.encounter(encounter_id)
        if _rowcount(result):
            self.audit(user, "encounter.release", encounter_id, encounter.version, {}, now)
        return encounter

    # --- retention -------------------------------------------------------------------------

    def purge_note_text(
        self, received_before: datetime, actor: Actor, now: datetime | None = None, batch: int = 200
    ) -> int:
        """Blank the note text of encounters last received before `received_before`: the
        encounter's, every run's, and the evidence quotes in the runs' suggestions (their
        offsets stay). Codes, decisions and the audit log stay. How many were purged; one
        audit row each. Works in batches so memory stays bounded."""
        now = now or utcnow()
        purged = 0
        while True:
            ids = list(
                self.session.scalars(
                    select(Encounter.id)
                    .where(Encounter.received_at < received_before, Encounter.purged_at.is_(None))
                    .order_by(Encounter.id)
                    .limit(batch)
                )
            )
            if not ids:
                return purged
            for run in self.session.scalars(
                select(SuggestionRun).where(SuggestionRun.encounter_id.in_(ids))
            ):
                run.note_text = ""
                run.suggestions = [_without_quotes(s) for s in run.suggestions]
            self.session.execute(
                update(Encounter)
                .where(Encounter.id.in_(ids))
                .values(note_text="", purged_at=now)
                .execution_options(synchronize_session=False)
            )
            self.audit_each(actor, "encounter.purge", ids, now)
            purged += len(ids)

    # --- reviews ---------------------------------------------------------------------------

    def submit_review(
        self,
        encounter_id: int,
        expected_version: int,
        coder: Actor,
        run_id: int,
        codes: Sequence[FinalCode],
        decisions: Iterable[CodeDecision] = (),
        seconds_spent: int | None = None,
        comment: str = "",
        now: datetime | None = None,
    ) -> Review:
        """Record a review of the encounter as it was at `expected_version`.

        The version check and the increment are one UPDATE: of two coders submitting the
        same version at once, exactly one changes a row; the other gets StaleVersionError
        carrying the current version.
        """
        now = now or utcnow()
        coder_id = _user_id(coder)
        decisions = list(decisions)
        _check_review(codes, decisions)
        result = self.session.execute(
            update(Encounter)
            .where(Encounter.id == encounter_id, Encounter.version == expected_version)
            .values(
                version=Encounter.version + 1,
                status=EncounterStatus.REVIEWED,
                claimed_by=None,
                claimed_until=None,
            )
            .execution_options(synchronize_session=False)
        )
        encounter = self.encounter(encounter_id)  # raises NotFoundError for an unknown id
        if _rowcount(result) == 0:
            raise StaleVersionError(encounter_id, expected_version, encounter.version)
        run = self.session.get(SuggestionRun, run_id)
        if run is None or run.encounter_id != encounter_id:
            raise InvalidReviewError(f"run {run_id} is not a run of encounter {encounter_id}")
        review = Review(
            encounter_id=encounter_id,
            run_id=run_id,
            coder_id=coder_id,
            submitted_at=now,
            seconds_spent=seconds_spent,
            comment=comment,
            encounter_version=expected_version,
            codes=[
                ReviewCode(sequence=n, system=c.system, code=c.code, source=CodeSource(c.source))
                for n, c in enumerate(codes, start=1)
            ],
            decisions=[
                ReviewDecision(
                    system=d.system, code=d.code, decision=Decision(d.decision), reason=d.reason
                )
                for d in decisions
            ],
        )
        self.session.add(review)
        self.session.flush()
        self.audit(
            coder,
            "review.submit",
            encounter_id,
            encounter.version,
            {
                "review_id": review.id,
                "run_id": run_id,
                "based_on_version": expected_version,
                "codes": [f"{c.system}:{c.code}" for c in codes],
            },
            now,
        )
        return review

    def reviews(self, encounter_id: int) -> list[Review]:
        return list(
            self.session.scalars(
                select(Review).where(Review.encounter_id == encounter_id).order_by(Review.id)
            )
        )

    def reviewed_encounters(self) -> list[ReviewedEncounter]:
        """The latest review of each reviewed encounter whose note is kept, with the text
        of the run it reviewed and its final codes in sequence: labelled data for training
        and export."""
        latest = (
            select(func.max(Review.id))
            .where(Review.encounter_id == Encounter.id)
            .correlate(Encounter)
            .scalar_subquery()
        )
        rows = self.session.execute(
            select(Encounter, Review, SuggestionRun)
            .join(Review, Review.id == latest)
            .join(SuggestionRun, SuggestionRun.id == Review.run_id)
            # A purged note has no text left to learn from.
            .where(Encounter.status == EncounterStatus.REVIEWED, Encounter.purged_at.is_(None))
            .order_by(Encounter.id)
        ).all()
        return [
            ReviewedEncounter(
                encounter_id=encounter.id,
                external_id=encounter.external_id,
                setting=encounter.setting,
                note_text=run.note_text,
                review_id=review.id,
                run_id=run.id,
                model_version=run.model_version,
                submitted_at=review.submitted_at,
                codes=[FinalCode(c.system, c.code, c.source) for c in review.codes],
            )
            for encounter, review, run in rows
        ]

    # --- audit log: append and read, nothing else -----------------------------------------

    def audit(
        self,
        actor: Actor,
        action: str,
        encounter_id: int | None = None,
        version: int | None = None,
        detail: Mapping[str, Any] | None = None,
        now: datetime | None = None,
    ) -> AuditEntry:
        """Append one entry. `detail` must never hold note text."""
        entry = AuditEntry(
            at=now or utcnow(),
            actor_id=actor.user_id,
            actor_name=actor.name,
            action=action,
            encounter_id=encounter_id,
            encounter_version=version,
            detail=dict(detail or {}),
        )
        self.session.add(entry)
        self.session.flush()
        return entry

    def audit_each(
        self,
        actor: Actor,
        action: str,
        encounter_ids: Iterable[int],
        now: datetime | None = None,
    ) -> None:
        """One audit row per encounter touched in bulk (an export, a training run, a
        purge), added in one flush."""
        at = now or utcnow()
        self.session.add_all(
            AuditEntry(
                at=at,
                actor_id=actor.user_id,
                actor_name=actor.name,
                action=action,
                encounter_id=encounter_id,
                encounter_version=None,
                detail={},
            )
            for encounter_id in encounter_ids
        )
        self.session.flush()

    def audit_timeline(self, encounter_id: int) -> list[AuditEntry]:
        return list(
            self.session.scalars(
                select(AuditEntry)
                .where(AuditEntry.encounter_id == encounter_id)
                .order_by(AuditEntry.at, AuditEntry.id)
            )
        )


# --- the review API and its browser sessions (app/services/review.py, app/web_session.py) --


@dataclass(frozen=True)
class ReviewFact:
    """One submitted review with what it was judged against, for the analytics."""

    review_id: int
    coder: str
    submitted_at: datetime
    seconds_spent: int | None
    model_version: str
    suggestions: list[dict[str, Any]]  # the run's list, in its (score) order
    codes: list[FinalCode]
    decisions: list[CodeDecision]


class ReviewRepository(Repository):
    """The queries of the review API and of browser sessions."""

    def next_new_encounter(self, after_id: int, user: Actor, now: datetime) -> int | None:
        """The first `new` encounter in queue order (received, then id) other than
        `after_id` that nobody else holds an unexpired claim on."""
        holder_id = user.user_id
        free = or_(
            Encounter.claimed_by.is_(None),
            Encounter.claimed_until.is_(None),
            Encounter.claimed_until <= now,
        )
        if holder_id is not None:
            free = or_(free, Encounter.claimed_by == holder_id)
        return self.session.scalar(
            select(Encounter.id)
            .where(Encounter.status == EncounterStatus.NEW, Encounter.id != after_id, free)
            .order_by(Encounter.received_at, Encounter.id)
            .limit(1)
        )

    def review_facts(
        self,
        since: datetime,
        until: datetime,
        model_version: str | None = None,
        coder: str | None = None,
    ) -> list[ReviewFact]:
        """The reviews submitted in [since, until), of one model version or one coder if
        named, with their run's suggestions, oldest first."""
        query = (
            select(Review, SuggestionRun)
            .join(SuggestionRun, SuggestionRun.id == Review.run_id)
            .where(Review.submitted_at >= since, Review.submitted_at < until)
            .order_by(Review.submitted_at, Review.id)
        )
        if model_version is not None:
            query = query.where(SuggestionRun.model_version == model_version)
        if coder is not None:
            query = query.join(User, User.id == Review.coder_id).where(User.name == coder)
        rows = self.session.execute(query).all()
        return [
            ReviewFact(
                review_id=review.id,
                coder=review.coder.name,
                submitted_at=review.submitted_at,
                seconds_spent=review.seconds_spent,
                model_version=run.model_version,
                suggestions=list(run.suggestions),
                codes=[FinalCode(c.system, c.code, c.source) for c in review.codes],
                decisions=[
                    CodeDecision(d.system, d.code, d.decision, d.reason) for d in review.decisions
                ],
            )
            for review, run in rows
        ]

    # --- browser sessions: the cookie holds a random id, the table its SHA-256 -----------

    def create_web_session(
        self, user_id: int, now: datetime, lifetime: timedelta
    ) -> tuple[WebSession, str]:
        """A new session for the user: the row, and the session id, which is kept nowhere.
        The user's expired sessions are cleared on the way."""
        self.session.execute(
            delete(WebSession).where(WebSession.user_id == user_id, WebSession.expires_at <= now)
        )
        session_id = secrets.token_urlsafe(TOKEN_BYTES)
        row = WebSession(
            session_hash=hash_token(session_id),
            user_id=user_id,
            csrf_token=secrets.token_urlsafe(TOKEN_BYTES),
            created_at=now,
            expires_at=now + lifetime,
        )
        self.session.add(row)
        self.session.flush()
        return row, session_id

    def web_session(self, session_id: str, now: datetime) -> WebSession | None:
        """The usable session a cookie names (unexpired, its user active), or None."""
        row = self.session.scalar(
            select(WebSession).where(WebSession.session_hash == hash_token(session_id))
        )
        return row if row is not None and row.usable(now) else None

    def end_web_session(self, session_id: str) -> WebSession | None:
        """Delete the session a cookie names; the deleted row, or None if there was none."""
        row = self.session.scalar(
            select(WebSession).where(WebSession.session_hash == hash_token(session_id))
        )
        if row is not None:
            self.session.delete(row)
            self.session.flush()
        return row


def _user_id(actor: Actor) -> int:
    if actor.user_id is None:
        raise InvalidReviewError(
            f"{actor.name} is not a user: claims and reviews need a user's own token"
        )
    return actor.user_id


def _without_quotes(suggestion: Mapping[str, Any]) -> dict[str, Any]:
    evidence = [{**e, "text": ""} for e in suggestion.get("evidence", [])]
    return {**suggestion, "evidence": evidence}


def _rowcount(result: Any) -> int:
    return int(result.rowcount)


def _check_review(codes: Sequence[FinalCode], decisions: Sequence[CodeDecision]) -> None:
    seen: set[tuple[str, str]] = set()
    for c in codes:
        if (c.system, c.code) in seen:
            raise InvalidReviewError(f"{c.system} {c.code} is listed twice")
        seen.add((c.system, c.code))
    decided = [(d.system, d.code) for d in decisions]
    if len(set(decided)) != len(decided):
        raise InvalidReviewError("a code has more than one decision")
