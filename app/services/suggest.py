"""The suggest use case: a note in, ranked codes with evidence out. No FastAPI here."""

import logging
import threading
from dataclasses import dataclass

from app.errors import ServiceError
from app.services.models import ModelSwitchboard
from codes.catalog import Catalog
from codes.systems import CodeSystem
from models.guidelines import Setting
from models.profiles import Profile
from models.suggester import Suggester
from models.suggestions import ScoredCode
from nlp.mentions import Mention
from nlp.pipeline import NoteReader

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SuggestResult:
    model_version: str
    conventions: Profile
    suggestions: list[ScoredCode]


@dataclass(frozen=True)
class AnnotateResult:
    model_version: str
    mentions: list[Mention]


class SuggestService:
    def __init__(
        self,
        catalog: Catalog,
        reader: NoteReader,
        models: ModelSwitchboard,
        suggester: Suggester | None = None,
        conventions: Profile = Profile.US,
        readers: int = 1,
    ) -> None:
        self.catalog = catalog
        self.reader = reader
        self.models = models
        self.suggester = suggester or Suggester.open(catalog)
        self.conventions = conventions
        # Notes are read `readers` at a time, the others waiting their turn in arrival
        # order. Reading holds the interpreter lock, so more at once only share one
        # processor: every request in flight slows down, and a long note, sharing it the
        # longest, waited up to 33 s behind 31 others where its turn comes within seconds.
        self._turns = threading.Semaphore(readers)

    @property
    def model_version(self) -> str:
        return self.models.active.version

    def systems_for(self, requested: list[CodeSystem] | None) -> tuple[CodeSystem, ...]:
        if requested is None:
            return self.catalog.systems
        missing = [s for s in requested if not self.catalog.has(s)]
        if missing:
            raise ServiceError(
                422,
                "system_not_loaded",
                f"{', '.join(s.value for s in missing)} not loaded in this service"
                + (
                    "; CPT needs a licensed file: `medcode codes import --cpt FILE`"
                    if CodeSystem.CPT in missing
                    else ""
                ),
            )
        return tuple(requested)

    def annotate(self, text: str) -> AnnotateResult:
        with self._turns:
            active = self.models.active  # one model for the whole request, even mid-switch
            return AnnotateResult(active.version, active.model.read(self.reader, text))

    def suggest(
        self,
        text: str,
        systems: list[CodeSystem] | None,
        limit: int,
        setting: Setting,
        conventions: str | None = None,
    ) -> SuggestResult:
        chosen = self.systems_for(systems)
        profile = Profile(conventions) if conventions else self.conventions
        with self._turns:
            active = self.models.active
            suggestions = self.suggester.suggest(
                active.model, self.reader, text, chosen, setting, profile, limit
            )
        return SuggestResult(active.version, profile, suggestions)
