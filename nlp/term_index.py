"""The term matcher's index of phrases by their two rarest stems, as integer arrays.

A phrase is looked up by its rarest stem, then by its second rarest (see TermMatcher).
Held as Python dicts of lists of frozensets, the lexicon's index was some two million
objects to build at every start, to keep, and for the garbage collector to walk. Here it
is five arrays and the list of stems, saved at build time and read back as they are: a
stem's `Bucket` of Python objects is made the first time a note holds that stem (and kept),
and a pair's group the first time a sentence holds both: only what notes use costs objects.

Ids: a stem's id is its place in the sorted stems; a phrase's is its place in the
phrase order given to `build`.
"""

import itertools
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray


class Rows:
    """Rows of integers end to end: row i is values[starts[i]:starts[i + 1]]."""

    def __init__(self, starts: NDArray[Any], values: NDArray[Any]) -> None:
        if len(starts) == 0 or int(starts[0]) != 0 or int(starts[-1]) != len(values):
            raise ValueError("rows: starts must begin at 0 and end at the number of values")
        self.starts = starts
        self.values = values
        # Read through memoryviews: an item is a Python int at a third of numpy's cost,
        # which counts while a new server makes the buckets of the first notes' words.
        self._starts = np.ascontiguousarray(starts).data
        self._values = np.ascontiguousarray(values).data

    @classmethod
    def of(cls, rows: Sequence[Sequence[int]]) -> "Rows":
        starts = np.zeros(len(rows) + 1, dtype=np.int32)
        np.cumsum([len(r) for r in rows], out=starts[1:])
        values = np.array(list(itertools.chain.from_iterable(rows)), dtype=np.int32)
        return cls(starts, values)

    def __len__(self) -> int:
        return len(self.starts) - 1

    def span(self, i: int) -> range:
        """Where row i lies in `values`."""
        return range(self._starts[i], self._starts[i + 1])

    def __getitem__(self, i: int) -> list[int]:
        values: list[int] = self._values[self._starts[i] : self._starts[i + 1]].tolist()
        return values


@dataclass(frozen=True, slots=True)
class Bucket:
    """The phrases whose rarest stem is one word: those of that stem alone, and the
    others by their second rarest stem, as the id of their group (`TermIndex.group`)."""

    singles: tuple[int, ...]  # phrase ids
    seconds: dict[str, int]


class TermIndex:
    ROWS = (
        "phrase_stems",
        "singles",
        "seconds",
        "pairs",
    )  # the saved arrays: NAME.starts, NAME.values

    def __init__(
        self, stems: Sequence[str], phrase_stems: Rows, singles: Rows, seconds: Rows, pairs: Rows
    ) -> None:
        """`phrase_stems`: per phrase, its stem ids in the phrase's order. Per stem id,
        `singles`: the phrases of that stem alone; `seconds`: the second rarest stems of
        the phrases it is the rarest stem of, in first-seen order, each with a row of
        `pairs`, the phrases of that pair (rows of `pairs` follow the values of `seconds`)."""
        if not len(singles) == len(seconds) == len(stems) or len(pairs) != len(seconds.values):
            raise ValueError("the term index arrays do not belong together")
        self.stems = stems
        self.phrase_stems = phrase_stems
        self.singles = singles
        self.seconds = seconds
        self.pairs = pairs
        self.stem_ids = {stem: i for i, stem in enumerate(stems)}

    @classmethod
    def build(cls, phrase_stems: Sequence[Sequence[str]]) -> "TermIndex":
        """The index of phrases given by their stems, in that order (their ids)."""
        frequency = Counter(s for stems in phrase_stems for s in stems)
        stems = sorted(frequency)
        ids = {stem: i for i, stem in enumerate(stems)}
        singles: list[list[int]] = [[] for _ in stems]
        pairs: dict[int, dict[int, list[int]]] = {}
        for phrase, own in enumerate(phrase_stems):
            rarest = sorted(own, key=lambda s: (frequency[s], s))
            if len(rarest) == 1:
                singles[ids[rarest[0]]].append(phrase)
            else:
                seconds = pairs.setdefault(ids[rarest[0]], {})
                seconds.setdefault(ids[rarest[1]], []).append(phrase)
        by_stem = [pairs.get(i, {}) for i in range(len(stems))]
        return cls(
            stems,
            Rows.of([[ids[s] for s in own] for own in phrase_stems]),
            Rows.of(singles),
            Rows.of([list(seconds) for seconds in by_stem]),
            Rows.of([phrases for seconds in by_stem for phrases in seconds.values()]),
        )

    @property
    def phrase_count(self) -> int:
        return len(self.phrase_stems)

    def arrays(self) -> dict[str, NDArray[Any]]:
        arrays = {}
        for name in self.ROWS:
            rows: Rows = getattr(self, name)
            arrays[f"{name}.starts"], arrays[f"{name}.values"] = rows.starts, rows.values
        return arrays

    @classmethod
    def from_arrays(cls, stems: Sequence[str], arrays: Mapping[str, NDArray[Any]]) -> "TermIndex":
        """Back from `arrays()` and the stems."""
        rows = [Rows(arrays[f"{name}.starts"], arrays[f"{name}.values"]) for name in cls.ROWS]
        return cls(stems, *rows)

    def bucket(self, word: str) -> Bucket | None:
        """The phrases whose rarest stem is `word`; None if no phrase holds it."""
        stem_id = self.stem_ids.get(word)
        if stem_id is None:
            return None
        seconds = [self.stems[second] for second in self.seconds[stem_id]]
        groups = self.seconds.span(stem_id)
        return Bucket(tuple(self.singles[stem_id]), dict(zip(seconds, groups, strict=True)))

    def group(self, group: int) -> list[tuple[frozenset[str], int]]:
        """The phrases of one (rarest, second rarest) pair, each with all its stems. Made
        apart from the bucket: a sentence holds the second stem of few of them."""
        stem = self.stems.__getitem__
        return [
            (frozenset(map(stem, self.phrase_stems[phrase])), phrase)
            for phrase in self.pairs[group]
        ]

    def stems_of(self, phrase: int) -> tuple[str, ...]:
        return tuple(map(self.stems.__getitem__, self.phrase_stems[phrase]))
