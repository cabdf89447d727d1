"""One suggestion path for the service and for evaluation: read, rank, apply conventions.

`medcode evaluate` scores exactly what `/suggest` returns because both call this.
"""

from collections.abc import Sequence

from codes.catalog import Catalog
from codes.systems import CodeSystem
from models.conventions import Conventions
from models.guidelines import Setting
from models.profiles import Profile
from models.ranker_model import RankerModel, catalog_facts
from models.suggestions import ScoredCode
from nlp import budget
from nlp.pipeline import NoteReader


class Suggester:
    """Built once per catalog (it caches catalog lookups); safe to share across threads."""

    def __init__(self, catalog: Catalog, conventions: Conventions) -> None:
        self.catalog = catalog
        self.facts = catalog_facts(catalog)
        self.conventions = conventions

    @classmethod
    def open(cls, catalog: Catalog) -> "Suggester":
        return cls(catalog, Conventions.open(catalog))

    def suggest(
        self,
        model: RankerModel,
        reader: NoteReader,
        text: str,
        systems: Sequence[CodeSystem],
        setting: Setting,
        profile: Profile,
        limit: int | None = None,
    ) -> list[ScoredCode]:
        """Every ranked code of the wanted systems (or the best `limit`), best first."""
        mentions = model.read(reader, text)
        # The reading budget of the request (nlp.budget) covers ranking and conventions too.
        budget.check()
        ranked = model.rank(text, mentions, self.facts, [s.value for s in systems])
        budget.check()
        scored = self.conventions.apply(profile, ranked, model.decisions, text, mentions, setting)
        budget.check()
        return scored if limit is None else scored[:limit]
