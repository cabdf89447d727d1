"""Notes built to be slow: each repeats a shape that once made some step of reading
quadratic (comma cues, inline headers, one sentence without full stops, negations, header
lines, a long cue over many short ones, many headers or full stops on one line), beside
real text (CodiEsp notes joined). The benchmark times them; the bad-input corpus sends
them to the service at the length limit."""

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest


def repeat(unit: str, length: int) -> str:
    return (unit * (length // len(unit) + 1))[:length]


@dataclass(frozen=True)
class Shape:
    name: str
    make: Callable[[int], str]  # a note of the given length
    held_to_limit: bool = True  # False: reported, not asserted (see its note)
    note: str = ""


def shapes(codiesp: str) -> list[Shape]:
    one_sentence = re.sub(r"[.!?;\r\n]+", " ", codiesp)
    return [
        Shape("commas", lambda n: repeat("pneumonia, ", n)),
        Shape("inline headers", lambda n: repeat("HPI: x\n", n)),
        Shape("one sentence (CodiEsp)", lambda n: one_sentence[:n]),
        Shape("one sentence (and)", lambda n: repeat("fever and cough with pneumonia and ", n)),
        Shape("negations", lambda n: repeat("no fever no cough no pneumonia ", n)),
        Shape("header lines", lambda n: repeat("Assessment:\n", n)),
        Shape("unknown header lines", lambda n: repeat("Xyz:\n", n)),
        Shape("headers on one line", lambda n: repeat("HPI: x. ", n)),
        Shape("full stops on one line", lambda n: repeat("Fever. ", n)),
        Shape("long cue", lambda n: ("no " + "prior " * (n // 6 - 5) + "history of x").ljust(n)),
        Shape("CodiEsp notes joined", lambda n: codiesp[:n]),
        Shape(
            "dense abbreviations",
            lambda n: repeat("HTN, DM2, CAD, CHF, AKI and COPD. ", n),
            held_to_limit=False,
            note="linear, but every sentence names dozens of codes: the cost is per mention",
        ),
    ]


def joined_codiesp(data_dir: Path, length: int) -> str:
    """CodiEsp notes of the data folder, joined until there are `length` characters."""
    notes = sorted((data_dir / "codiesp").glob("*/text_files_en/*.txt"))
    if not notes:
        pytest.skip("no CodiEsp notes in the data folder")
    joined, total = [], 0
    for path in notes:
        joined.append(path.read_text("utf-8"))
        total += len(joined[-1]) + 2
        if total > length:
            break
    return "\n\n".join(joined)
