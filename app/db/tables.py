"""The review database: SQLAlchemy 2 typed tables.

Every timestamp is timezone-aware UTC in Python, whatever the database keeps. Choices are
stored as short strings with a CHECK constraint, so SQLite and PostgreSQL agree and a
migration never has to alter a native enum type.
"""

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    DateTime,
    Dialect,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Constraint names are part of the schema: migrations refer to them by name.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Role(StrEnum):
    CODER = "coder"
    ADMIN = "admin"
    EHR = "ehr"


class EncounterStatus(StrEnum):
    NEW = "new"
    IN_REVIEW = "in_review"
    REVIEWED = "reviewed"


class Setting(StrEnum):
    INPATIENT = "inpatient"
    OUTPATIENT = "outpatient"


class CodeSource(StrEnum):
    SUGGESTED = "suggested"
    ADDED = "added"


class Decision(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out: SQLite keeps no zone, so store UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass an aware one (datetime.now(UTC))")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def _choice(enum: type[StrEnum], name: str) -> Enum:
    return Enum(
        enum,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=16,
        values_callable=lambda members: [m.value for m in members],
    )


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
        list[Any]: JSON(),
    }


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[Role] = mapped_column(_choice(Role, "role"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    active: Mapped[bool] = mapped_column(default=True)

    def __repr__(self) -> str:
        return f"User(id={self.id}, name={self.name!r}, role={self.role})"


class ApiToken(Base):
    """A bearer token: only its SHA-256 hash is kept; the token is shown once, at creation."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(200), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(lazy="joined")

    def usable(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


class Encounter(Base):
    """One encounter of the EHR; `note_text` and `version` are those of its latest run."""

    __tablename__ = "encounters"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Unique when present: both databases allow any number of NULLs under a unique constraint.
    external_id: Mapped[str | None] = mapped_column(String(200), unique=True)
    setting: Mapped[Setting | None] = mapped_column(_choice(Setting, "setting"))
    note_text: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    status: Mapped[EncounterStatus] = mapped_column(
        _choice(EncounterStatus, "status"), default=EncounterStatus.NEW, index=True
    )
    # Optimistic concurrency (the ETag): every change a coder must not miss adds one.
    version: Mapped[int] = mapped_column(default=1)
    claimed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    claimed_until: Mapped[datetime | None]
    # When the retention limit purged the note text (its codes and decisions stay).
    purged_at: Mapped[datetime | None]

    claimant: Mapped[User | None] = relationship(lazy="joined")

    def claimed(self, now: datetime) -> bool:
        return self.claimed_by is not None and (
            self.claimed_until is not None and self.claimed_until > now
        )


class SuggestionRun(Base):
    """What medcode suggested for one version of an encounter's note."""

    __tablename__ = "suggestion_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    encounter_id: Mapped[int] = mapped_column(ForeignKey("encounters.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    model_version: Mapped[str] = mapped_column(String(100), index=True)
    conventions: Mapped[str] = mapped_column(String(20))
    note_text: Mapped[str] = mapped_column(Text)
    # The ranked suggestions exactly as /suggest returns them (system, code, description,
    # score, recommended, billable, evidence, notes).
    suggestions: Mapped[list[Any]]
    top_score: Mapped[float] = mapped_column(Float, default=0.0)

    @property
    def recommended_count(self) -> int:
        return sum(1 for s in self.suggestions if s.get("recommended"))


class Review(Base):
    __tablename__ = "reviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    encounter_id: Mapped[int] = mapped_column(ForeignKey("encounters.id"), index=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("suggestion_runs.id"), index=True)
    coder_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    seconds_spent: Mapped[int | None] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text, default="")
    encounter_version: Mapped[int]

    coder: Mapped[User] = relationship(lazy="joined")
    codes: Mapped[list["ReviewCode"]] = relationship(
        order_by="ReviewCode.sequence", cascade="all, delete-orphan", lazy="selectin"
    )
    decisions: Mapped[list["ReviewDecision"]] = relationship(
        order_by="[ReviewDecision.system, ReviewDecision.code]",
        cascade="all, delete-orphan",
        lazy="selectin",
    )


class ReviewCode(Base):
    """A final code of a review; sequence 1 is the principal (first-listed) diagnosis."""

    __tablename__ = "review_codes"

    review_id: Mapped[int] = mapped_column(
        ForeignKey("reviews.id", ondelete="CASCADE"), primary_key=True
    )
    sequence: Mapped[int] = mapped_column(primary_key=True)
    system: Mapped[str] = mapped_column(String(16))
    code: Mapped[str] = mapped_column(String(16))
    source: Mapped[CodeSource] = mapped_column(_choice(CodeSource, "source"))


class ReviewDecision(Base):
    """What the coder decided about one suggested code, and why."""

    __tablename__ = "review_decisions"

    review_id: Mapped[int] = mapped_column(
        ForeignKey("reviews.id", ondelete="CASCADE"), primary_key=True
    )
    system: Mapped[str] = mapped_column(String(16), primary_key=True)
    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    decision: Mapped[Decision] = mapped_column(_choice(Decision, "decision"))
    reason: Mapped[str | None] = mapped_column(Text)


class AuditEntry(Base):
    """Who did what to which encounter version. Append-only (a trigger rejects UPDATE and
    DELETE); `detail` never holds note text."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_encounter_id_at", "encounter_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_name: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(64), index=True)
    encounter_id: Mapped[int | None] = mapped_column(ForeignKey("encounters.id"))
    encounter_version: Mapped[int | None]
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


# --- browser sessions of the review pages (app/web_session.py) ---------------------------


class WebSession(Base):
    """A signed-in browser. Only the SHA-256 of the session id (the cookie) is kept; the
    CSRF token is no credential by itself (every page carries it), so it is kept as is.
    Signing out deletes the row; deleting a user's rows revokes their sessions."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]

    user: Mapped[User] = relationship(lazy="joined")

    def usable(self, now: datetime) -> bool:
        return self.expires_at > now and self.user.active
