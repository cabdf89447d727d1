"""The lexicon's phrases as columns, each Phrase made the first time a note matches it.

Made all at once at start-up, the lexicon's 300,000 phrases and their aliases were over
a million long-lived objects, most of which no note ever matches. Here they are a few
arrays; `phrase(id)` makes one phrase with its aliases, and keeps it, so that the same
phrase is the same object each time (matching keys some work on it).
"""

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from codes.systems import CodeSystem
from nlp.aliases import Alias
from nlp.packed_strings import PackedStrings
from nlp.term_index import TermIndex
from nlp.term_matcher import Phrase


class SavedPhrases:
    """Phrase ids are the index's; aliases are stored phrase after phrase."""

    def __init__(
        self,
        index: TermIndex,
        alias_starts: NDArray[Any],
        columns: Mapping[str, NDArray[Any]],
        code: PackedStrings,
        text: PackedStrings,
        systems: Sequence[str],
        sources: Sequence[str],
    ) -> None:
        """Phrase i's aliases are alias_starts[i] up to alias_starts[i + 1]. `columns`: per
        alias, its "system" and "source" (places in `systems` and `sources`), its "weight"."""
        count = len(text)
        if (
            len(alias_starts) != index.phrase_count + 1
            or int(alias_starts[0]) != 0
            or int(alias_starts[-1]) != count
            or len(code) != count
            or not all(len(c) == count for c in columns.values())
        ):
            raise ValueError("the lexicon's phrase columns do not belong together")
        self.index = index
        self.alias_starts = alias_starts
        self.columns = dict(columns)
        self.code = code
        self.text = text
        self.systems = [CodeSystem(s) for s in systems]
        self.sources = list(sources)
        self._made: dict[int, Phrase] = {}

    @classmethod
    def of(cls, phrases: Sequence[Phrase]) -> "SavedPhrases":
        """The columns of phrases in memory, to save them."""
        flat = [a for p in phrases for a in p.aliases]
        systems = [s.value for s in CodeSystem]
        sources = sorted({a.source for a in flat})
        starts = np.cumsum([0, *(len(p.aliases) for p in phrases)], dtype=np.int32)
        columns: dict[str, NDArray[Any]] = {
            "system": np.array([systems.index(a.system.value) for a in flat], dtype=np.uint8),
            "source": np.array([sources.index(a.source) for a in flat], dtype=np.uint8),
            "weight": np.array([a.weight for a in flat], dtype=np.float64),
        }
        return cls(
            TermIndex.build([p.stems for p in phrases]),
            starts,
            columns,
            PackedStrings.pack(a.code for a in flat),
            PackedStrings.pack(a.text for a in flat),
            systems,
            sources,
        )

    @property
    def alias_count(self) -> int:
        return len(self.text)

    def arrays(self) -> dict[str, NDArray[Any]]:
        """Everything but the names of systems and sources, and the stems, as arrays."""
        arrays = self.index.arrays()
        arrays["alias_starts"] = self.alias_starts
        for name, column in self.columns.items():
            arrays[f"alias.{name}"] = column
        for name, packed in (("code", self.code), ("text", self.text)):
            arrays[f"alias.{name}.data"], arrays[f"alias.{name}.ends"] = packed.arrays()
        return arrays

    @classmethod
    def from_arrays(
        cls,
        stems: Sequence[str],
        systems: Sequence[str],
        sources: Sequence[str],
        arrays: Mapping[str, NDArray[Any]],
    ) -> "SavedPhrases":
        """Back from `arrays()`, the stems and the names."""

        def packed(name: str) -> PackedStrings:
            return PackedStrings.from_arrays(arrays[f"{name}.data"], arrays[f"{name}.ends"])

        return cls(
            TermIndex.from_arrays(stems, arrays),
            arrays["alias_starts"],
            {name: arrays[f"alias.{name}"] for name in ("system", "source", "weight")},
            packed("alias.code"),
            packed("alias.text"),
            systems,
            sources,
        )

    def phrase(self, phrase_id: int) -> Phrase:
        made = self._made.get(phrase_id)
        if made is None:
            # setdefault: two reads making one phrase at once both get the one kept.
            made = self._made.setdefault(phrase_id, self._make(phrase_id))
        return made

    def _make(self, phrase_id: int) -> Phrase:
        first, end = int(self.alias_starts[phrase_id]), int(self.alias_starts[phrase_id + 1])
        system, source, weight = (
            self.columns[name][first:end].tolist() for name in ("system", "source", "weight")
        )
        stems = self.index.stems_of(phrase_id)
        aliases = tuple(
            Alias(self.systems[s], self.code[a], self.text[a], self.sources[o], w, stems)
            for a, s, o, w in zip(range(first, end), system, source, weight, strict=True)
        )
        return Phrase(stems, aliases)
