"""The engine-free core of back-coding: notes in, the /suggest answer per note out.

Every engine (worker processes, Spark executors) builds one `NoteCoder` per process and
feeds it plain records; nothing spaCy-made crosses a process boundary. A note is judged
as `POST /suggest` judges it: the same request validation, the same reading budget, the
same suggestion path; so a batch result equals what the service would have answered.

A record is a dict of plain values (OUTPUT_FIELDS). A note the service would refuse gets
a record too, with `error` set and no suggestions: a batch never stops on one bad note,
and a rerun does not try it again.
"""

import dataclasses
import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from app.config import Settings
from app.errors import ServiceError
from app.log_hygiene import where
from app.schemas import SuggestRequest, suggestion_out
from app.services.suggest import SuggestService
from codes.errors import MedcodeError
from codes.systems import CodeSystem
from nlp import budget

# The input a note may carry besides its text; anything else in an input record is ignored.
INPUT_FIELDS = ("note_id", "text", "setting")
logger = logging.getLogger(__name__)
OUTPUT_FIELDS = ("note_id", "model_version", "conventions", "suggestions", "error")


@dataclass(frozen=True)
class BatchOptions:
    """What every note of a run is suggested with, as a /suggest body would say it.

    model_version: None means the promoted model; a driver resolves it once (see
        `pinned`) so that every process of a run answers with the same model.
    """

    systems: tuple[CodeSystem, ...] | None = None
    limit: int = 30
    conventions: str | None = None
    model_version: str | None = None

    def pinned(self, settings: Settings) -> "BatchOptions":
        """These options with the model version fixed: the promoted one if none is named."""
        if self.model_version is not None:
            return self
        from models.artifacts import ArtifactStore

        promoted = ArtifactStore(settings.models_dir).get("promoted")
        return dataclasses.replace(self, model_version=promoted.version)


class NoteCoder:
    """Suggests codes for one note at a time; built once per process."""

    def __init__(self, service: SuggestService, options: BatchOptions, seconds: float) -> None:
        self.service = service
        self.options = options
        self.seconds = seconds

    @classmethod
    def open(cls, settings: Settings, options: BatchOptions) -> "NoteCoder":
        from app.main import build_suggest_service

        pinned = options.pinned(settings)
        service = build_suggest_service(settings, pinned.model_version)
        return cls(service, pinned, settings.request_seconds)

    def code(self, note: Mapping[str, Any]) -> dict[str, Any]:
        """The record of one note: its suggestions, or the error /suggest would answer."""
        note_id = note.get("note_id")
        try:
            request = self._request(note)
            with budget.limit(self.seconds):
                result = self.service.suggest(
                    request.text,
                    request.systems,
                    request.limit,
                    request.setting,
                    request.conventions,
                )
        except ValidationError as exc:
            return self._failed(note_id, "invalid_request", _validation_detail(exc))
        except (ServiceError, MedcodeError) as exc:
            return self._failed(note_id, getattr(exc, "error", "error"), str(exc.detail))
        except Exception as exc:
            # One note that breaks the reader must not stop a run (nor, on Spark, fail its
            # task and then the job) at every resume: it gets an error record like the
            # others. Logged by note id, type and place, never by message: it may quote
            # the note.
            logger.error("note %s: unexpected %s at %s", note_id, type(exc).__name__, where(exc))
            return self._failed(note_id, "internal_error", type(exc).__name__)
        return {
            "note_id": note_id,
            "model_version": result.model_version,
            "conventions": result.conventions.value,
            "suggestions": [suggestion_out(s).model_dump(mode="json") for s in result.suggestions],
            "error": None,
        }

    def code_many(self, notes: Iterable[Mapping[str, Any]]) -> Iterator[dict[str, Any]]:
        for note in notes:
            yield self.code(note)

    def _request(self, note: Mapping[str, Any]) -> SuggestRequest:
        options = self.options
        return SuggestRequest.model_validate(
            {
                "text": note.get("text"),
                "note_id": note.get("note_id"),
                "setting": note.get("setting"),
                "systems": list(options.systems) if options.systems else None,
                "limit": options.limit,
                "conventions": options.conventions,
            }
        )

    def _failed(self, note_id: Any, error: str, detail: str) -> dict[str, Any]:
        return {
            "note_id": note_id,
            "model_version": self.options.model_version,
            "conventions": self.options.conventions or self.service.conventions.value,
            "suggestions": [],
            "error": {"error": error, "detail": detail},
        }


def _validation_detail(exc: ValidationError) -> str:
    """Which fields are wrong and why, never their values (a note's text is patient data)."""
    return "; ".join(
        f"{'.'.join(str(part) for part in error['loc']) or 'note'}: {error['msg']}"
        for error in exc.errors(include_input=False, include_url=False)
    )
