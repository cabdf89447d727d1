"""Many strings as one bytes object (their UTF-8 end to end) and an array of where each ends.

A list of a few hundred thousand Python strings costs as many objects to load, to keep
and for the garbage collector to walk; this costs two. A string is decoded when asked
for, which the lexicon and the linker do only for the few entries a note matches.
"""

from collections.abc import Iterable
from typing import Any

import numpy as np
from numpy.typing import NDArray


class PackedStrings:
    """An immutable sequence of strings, indexed from 0 (no negative indexes)."""

    def __init__(self, data: bytes, ends: NDArray[Any]) -> None:
        if ends.ndim != 1 or (len(ends) and int(ends[-1]) != len(data)):
            raise ValueError("packed strings: the last end must be the length of the bytes")
        self._data = data
        self._ends = ends
        self._end = np.ascontiguousarray(ends).data  # a memoryview: items as Python ints, quickly

    @classmethod
    def pack(cls, strings: Iterable[str]) -> "PackedStrings":
        encoded = [s.encode("utf-8") for s in strings]
        return cls(b"".join(encoded), np.cumsum([len(e) for e in encoded], dtype=np.int64))

    @classmethod
    def from_arrays(cls, data: NDArray[Any], ends: NDArray[Any]) -> "PackedStrings":
        """Back from `arrays()`, as saved with numpy."""
        if data.dtype != np.uint8:
            raise ValueError(f"packed strings are bytes, not {data.dtype}")
        return cls(data.tobytes(), ends)

    def arrays(self) -> tuple[NDArray[Any], NDArray[Any]]:
        """The bytes as a uint8 array, and the ends: what numpy can save."""
        return np.frombuffer(self._data, dtype=np.uint8), self._ends

    def __len__(self) -> int:
        return len(self._ends)

    def __getitem__(self, i: int) -> str:
        start = self._end[i - 1] if i > 0 else 0
        return self._data[start : self._end[i]].decode("utf-8")
