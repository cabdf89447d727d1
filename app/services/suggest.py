"""The suggest use case: a note in, ranked codes with evidence out. No FastAPI here."""

import logging
from dataclasses import dataclass

from app.errors import ServiceError
from codes.catalog import Catalog
from codes.systems import CodeSystem
from models.guidelines import Setting
from models.knowledge_ranker import KnowledgeRanker
from models.suggestions import ScoredCode
from nlp.mentions import Mention
from nlp.pipeline import NoteReader

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SuggestResult:
    model_version: str
    suggestions: list[ScoredCode]


class SuggestService:
    def __init__(self, catalog: Catalog, reader: NoteReader, ranker: KnowledgeRanker) -> None:
        self.catalog = catalog
        self.reader = reader
        self.ranker = ranker

    @classmethod
    def build(cls, catalog: Catalog, reader: NoteReader) -> "SuggestService":
        version = f"knowledge-1+catalog-{catalog.manifest['built_at']}"
        return cls(catalog, reader, KnowledgeRanker(catalog, version))

    @property
    def model_version(self) -> str:
        return self.ranker.version

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

    def annotate(self, text: str) -> list[Mention]:
        return self.reader.read(text)

    def suggest(
        self,
        text: str,
        systems: list[CodeSystem] | None,
        limit: int,
        setting: Setting,
    ) -> SuggestResult:
        chosen = self.systems_for(systems)
        mentions = self.reader.read(text)
        return SuggestResult(self.model_version, self.ranker.rank(mentions, chosen, limit, setting))
