"""medspaCy's pruning of overlapping matches, with its result, in linear time.

medspaCy 1.3.1's `prune_overlapping_matches` (which its matcher runs for ConText's cues
and the Sectionizer's headers) walks the matches in (start, end) order, pairing each match
with the next when they overlap and keeping the longer (the first on a tie), then runs
again on what it kept until a pass keeps everything. Each pass pops from the front of a
list, so a pass costs the square of the matches (100,000 cues in a 200,000-character note
took seconds), and each pass is a recursive call, so a long cue holding many short ones
("no prior prior prior ... history of") needs one pass per short cue: quadratic passes,
and a RecursionError past a thousand.

A pass only changes the matches that overlap their next one, and after it only the matches
it kept (or the ones just before them) have a new next. So `prune_overlaps` runs the same
passes on a linked list, visiting in each pass only the matches that overlap their next:
every visit removes a match, and the work is linear in the matches (n log n with the
sorts). The passes are medspaCy's, one for one, so the result is too.
"""

from collections.abc import Sequence

from medspacy.common.medspacy_matcher import MedspacyMatcher
from spacy.language import Language
from spacy.tokens import Doc

Match = tuple[int, int, int]  # (match id, start token, end token)


class PruningMatcher(MedspacyMatcher):  # type: ignore[misc]  # medspaCy is untyped
    """medspaCy's matcher, pruning overlapping matches with `prune_overlaps`."""

    def __init__(
        self,
        nlp: Language,
        name: str = "medspacy_matcher",
        phrase_matcher_attr: str = "LOWER",
        prune: bool = True,
    ) -> None:
        super().__init__(nlp, name=name, phrase_matcher_attr=phrase_matcher_attr, prune=False)
        self.prune_overlaps = prune

    def __call__(self, doc: Doc) -> list[Match]:
        matches: list[Match] = super().__call__(doc)
        return prune_overlaps(matches) if self.prune_overlaps else matches


def prune_overlaps(matches: Sequence[Match]) -> list[Match]:
    """What medspaCy's `prune_overlapping_matches(matches)` returns, in linear time
    (after the sort): no two matches kept overlap."""
    ordered = sorted(matches, key=lambda m: (m[1], m[2]))
    count = len(ordered)
    following = list(range(1, count + 1))  # linked list; `count` ends it
    preceding = list(range(-1, count - 1))  # -1 starts it
    removed = [False] * count

    def overlaps_next(i: int) -> bool:
        j = following[i]
        return j < count and _overlap(ordered[i], ordered[j])

    # The matches that overlap the next one, at the start of a pass.
    overlapping = {i for i in range(count) if overlaps_next(i)}
    while overlapping:
        # medspaCy's pass, at the matches that overlap their next: each pairs with its next
        # unless its previous took it as a partner; the longer of a pair stays (the first
        # on a tie). Every other match stays as it is.
        partners: set[int] = set()
        kept = []
        for current in sorted(overlapping):
            if current in partners:
                continue
            partner = following[current]
            partners.add(partner)
            if _length(ordered[partner]) > _length(ordered[current]):
                winner, loser = partner, current
            else:
                winner, loser = current, partner
            _unlink(loser, following, preceding, count)
            removed[loser] = True
            kept.append(winner)
        # Only a kept match, or the one now before it, has a new next.
        touched = set(kept) | {preceding[i] for i in kept if preceding[i] >= 0}
        overlapping = {i for i in touched if overlaps_next(i)}
    return [m for m, gone in zip(ordered, removed, strict=True) if not gone]


def _overlap(first: Match, then: Match) -> bool:
    """medspaCy's `overlaps`: it also counts an empty match at the end of another."""
    _, start, end = first
    _, then_start, then_end = then
    return start <= then_start < end or start < then_end <= end


def _length(match: Match) -> int:
    return match[2] - match[1]


def _unlink(i: int, following: list[int], preceding: list[int], count: int) -> None:
    before, after = preceding[i], following[i]
    if before >= 0:
        following[before] = after
    if after < count:
        preceding[after] = before
