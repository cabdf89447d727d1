"""A first ranker with no training: scores codes by how well and how often their catalog
terms were found in the note. The learned ranker replaces it; it stays as a baseline."""

from collections.abc import Sequence

from codes.catalog import Catalog
from codes.systems import CodeSystem
from models.guidelines import Setting, support_weight
from models.suggestions import EvidenceSpan, ScoredCode
from nlp.mentions import CandidateCode, Mention

# Two content words found together (0.67) is a sure enough match to recommend.
DEFAULT_THRESHOLD = 0.6
# Weaker candidates (mined phrases of low precision, loose near matches) are for the
# learned ranker to weigh; added up here they would drown the sure ones.
MIN_SIMILARITY = 0.3
# A heading (category, PCS prefix) ranks below an assignable code with the same evidence.
NOT_BILLABLE_FACTOR = 0.8


class KnowledgeRanker:
    def __init__(
        self, catalog: Catalog, version: str, threshold: float = DEFAULT_THRESHOLD
    ) -> None:
        self.catalog = catalog
        self.version = version
        self.threshold = threshold

    def rank(
        self,
        mentions: Sequence[Mention],
        systems: Sequence[CodeSystem],
        limit: int,
        setting: Setting = None,
    ) -> list[ScoredCode]:
        wanted = set(systems)
        miss: dict[tuple[CodeSystem, str], float] = {}  # product of (1 - support) per code
        evidence: dict[tuple[CodeSystem, str], list[EvidenceSpan]] = {}
        for mention in mentions:
            span = EvidenceSpan(
                mention.start, mention.end, mention.text, mention.section, mention.assertion
            )
            for candidate in self._with_default_codes(mention.candidates):
                if candidate.system not in wanted or candidate.similarity < MIN_SIMILARITY:
                    continue
                key = (candidate.system, candidate.code)
                weight = support_weight(
                    mention.assertion, candidate.system, candidate.code, setting
                )
                miss[key] = miss.get(key, 1.0) * (1.0 - candidate.similarity * weight)
                evidence.setdefault(key, []).append(span)
        scored = []
        for (system, code), missed in miss.items():
            summary = self.catalog.get(system, code)
            if summary is None:
                continue
            factor = 1.0 if summary.billable else NOT_BILLABLE_FACTOR
            score = round((1.0 - missed) * factor, 6)
            if score <= 0.0:
                continue
            scored.append(
                ScoredCode(
                    system=system,
                    code=code,
                    description=summary.description,
                    score=score,
                    recommended=summary.billable and score >= self.threshold,
                    billable=summary.billable,
                    evidence=tuple(sorted(set(evidence[(system, code)]), key=_span_order)),
                )
            )
        scored.sort(key=lambda s: (-s.score, s.system.value, s.code))
        return scored[:limit]

    def _with_default_codes(self, candidates: Sequence[CandidateCode]) -> list[CandidateCode]:
        """A heading matched in the note also proposes the code a coder assigns when the
        note says no more ("Type 2 diabetes mellitus" -> E11.9), a little less surely."""
        expanded = list(candidates)
        for candidate in candidates:
            default = self.catalog.default_code(candidate.system, candidate.code)
            if default is not None:
                expanded.append(
                    candidate._replace(code=default, similarity=candidate.similarity * 0.95)
                )
        return expanded


def _span_order(span: EvidenceSpan) -> tuple[int, int]:
    return (span.start, span.end)
