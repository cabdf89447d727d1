"""The reader's memory stays flat over a long stream of distinct notes.

spaCy keeps every string it reads for its Language's life; the reader renews its pipeline
to let them go (nlp/pipeline.py). Short notes keep this around a minute.
"""

import logging
from pathlib import Path

import pytest

from nlp.pcs_statement import word_stem
from nlp.pipeline import NoteReader, build_language
from tests.soak.notes import case_report_sentences, distinct_notes, rss_mib

NOTES = 20_000
# Well below the default, so that the stream sees a renewal every ~800 notes.
RENEW_AFTER = 10_000
EVERY = 1_000
# Compared: the highest RSS over notes 6,000 to 9,000 (after the first renewals, once the
# process has held a full pipeline and a new one at once) and over the last 3,000. A reader
# that never renewed grew by 40 MiB between them (its string store by ~140,000 strings); a
# renewing one by 0 to 2.
EARLY, LATE = range(6_000, 9_001, EVERY), range(17_000, NOTES + 1, EVERY)
RSS_TOLERANCE_MIB = 15


def test_memory_stays_flat_over_20000_distinct_notes(
    reader: NoteReader, data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    own = NoteReader(
        build_language(reader.terms, reader.composer),
        reader.linker,
        reader.linking,
        reader.provenance,
        reader.composer,
        renew_after=RENEW_AFTER,
    )
    own.renew()  # a pipeline as the reader builds them
    fresh = len(own.nlp.vocab.strings)
    # A bounded cache of note words fills up over exactly this stream: filled first, it
    # stays the same size, and what grows is only what nothing bounds.
    for i in range(word_stem.cache_info().maxsize or 0):
        word_stem(f"filler{i}")
    sentences = case_report_sentences(data_dir)
    most_strings = 0
    rss: dict[int, float] = {}
    with caplog.at_level(logging.INFO):
        caplog.clear()
        before = own.renewals
        for number, text in enumerate(distinct_notes(sentences, NOTES), 1):
            own.read(text)
            most_strings = max(most_strings, len(own.nlp.vocab.strings))
            if number % EVERY == 0:
                rss[number] = rss_mib()
        with own._renewing:  # a renewal under way logs once it is done
            pass

    logging.getLogger(__name__).info(
        "strings at most %d (fresh %d); RSS MiB by notes read: %s",
        most_strings,
        fresh,
        {n: round(mib) for n, mib in rss.items()},
    )
    # One renewal per ~800 notes when builds are quick; fewer on a loaded machine, where
    # reads go on for longer on the full pipeline while the next one builds.
    assert own.renewals - before >= 10
    # Reads go on while the next pipeline is built, but wait for it at twice the bound.
    assert most_strings < fresh + 2 * RENEW_AFTER + 200
    # Each window holds renewals, so its highest point holds a pipeline being built too.
    early, late = max(rss[n] for n in EARLY), max(rss[n] for n in LATE)
    assert late - early < RSS_TOLERANCE_MIB, {n: round(mib) for n, mib in rss.items()}
    renewals = [r.getMessage() for r in caplog.records if "renewed" in r.getMessage()]
    assert len(renewals) == own.renewals - before
    assert not any("Mr." in message or "MRN" in message for message in renewals)
