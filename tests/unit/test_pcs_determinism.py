"""Composed PCS codes do not depend on the process: string hashing, and so the order of a
set of strings, changes from one process to the next, and ties between body part phrases
were once broken by it (the same code, explained by other words)."""

import json
import os
import subprocess
import sys
from pathlib import Path

STATEMENT = "Laparotomy was performed with en bloc resection of the abdominal wall."
COMPOSE = """
import json, sys
from pathlib import Path
from nlp.pcs_composer import PcsComposer
composer = PcsComposer.find(Path(sys.argv[1]))
print(json.dumps([[c.code, c.similarity, c.reason] for c in composer.compose_text(sys.argv[2])]))
"""


def composed_in_a_process(reader_dir: Path, hash_seed: int) -> list[list[object]]:
    env = dict(os.environ, PYTHONHASHSEED=str(hash_seed))
    run = subprocess.run(
        [sys.executable, "-c", COMPOSE, str(reader_dir), STATEMENT],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parents[2],
    )
    found: list[list[object]] = json.loads(run.stdout)
    return found


def test_composed_codes_and_their_reasons_are_the_same_in_every_process(
    reader_dir: Path,
) -> None:
    first = composed_in_a_process(reader_dir, 1)
    assert first  # the statement composes codes
    for seed in range(2, 9):
        assert composed_in_a_process(reader_dir, seed) == first
