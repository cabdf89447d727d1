"""Distinct synthetic notes for the reader's memory tests, and the process's memory.

Each note is a sentence of a CodiEsp case report with made-up words mixed in (names, a
record number, a dose, a date, a telephone number, words no dictionary has, the note's
number): every note brings some ten strings the reader has never seen, as a stream of real
patients' notes would.
"""

import random
import re
from collections.abc import Iterator
from pathlib import Path

_SYLLABLES = "ka vo ri tex mul zan dor pi que lo ster ba nix fen gu ral ya th om ek".split()
_SENTENCE_END = re.compile(r"(?<=[.;])\s+")


def case_report_sentences(data_dir: Path, files: int = 200) -> list[str]:
    """Sentences of 40 to 200 characters from the first CodiEsp training notes."""
    folder = data_dir / "codiesp" / "train" / "text_files_en"
    found = []
    for path in sorted(folder.glob("*.txt"))[:files]:
        for sentence in _SENTENCE_END.split(path.read_text("utf-8")):
            if 40 <= len(sentence) <= 200:
                found.append(sentence.strip())
    return found


def distinct_notes(sentences: list[str], count: int, seed: int = 0) -> Iterator[str]:
    rng = random.Random(seed)
    for number in range(count):
        words = rng.choice(sentences).split()
        for new in (
            f"Mr. {_made_up(rng).capitalize()}",
            f"MRN {rng.randint(10**6, 10**7 - 1)}",
            f"{rng.randint(1, 999)}.{rng.randint(0, 99)} mg",
            f"on {rng.randint(1, 28)}/{rng.randint(1, 12)}/{rng.randint(1950, 2024)}",
            f"Dr. {_made_up(rng).capitalize()}",
            f"tel. {rng.randint(200, 999)}-{rng.randint(1000, 9999)}",
            _made_up(rng),
            _made_up(rng),
            f"n{number}",
        ):
            words.insert(rng.randrange(len(words) + 1), new)
        yield " ".join(words)


def _made_up(rng: random.Random) -> str:
    return "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4)))


def rss_mib() -> float:
    """The process's resident memory, in MiB."""
    try:
        import psutil
    except ImportError:  # Linux without psutil
        status = Path("/proc/self/status").read_text()
        kib = next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:"))
        return int(kib) / 1024
    return float(psutil.Process().memory_info().rss) / 2**20
