"""Loading the note reader that `medcode codes import` saved, quickly enough for start-up.

`NoteReader.load` reads the lexicon's phrases one by one and builds the term matcher from
them: 300,000 phrases, over a million long-lived objects and seconds of work (and the one
garbage collection after loading walks them all). `load_reader` reads the term matcher's
saved index instead (`load_terms`): a few arrays, each phrase made only when a note first
matches it. The reader is otherwise the same, and reads every note the same.
"""

from pathlib import Path

from nlp.lexicon import LINKER_FOLDER, load_terms
from nlp.linker import ApproximateLinker
from nlp.pcs_composer import PcsComposer
from nlp.pipeline import RENEW_AFTER_STRINGS, LinkingSettings, NoteReader, build_language


def load_reader(
    lexicon_dir: Path,
    linking: LinkingSettings | None = None,
    renew_after: int = RENEW_AFTER_STRINGS,
) -> NoteReader:
    """The reader saved in `lexicon_dir`, as NoteReader.load makes it.

    Call it with the garbage collector paused (app.main.collector_paused), as a service
    starts: the spaCy build makes garbage that a collection during loading would keep.
    """
    linking = linking or LinkingSettings()
    terms, provenance = load_terms(lexicon_dir)
    linker = ApproximateLinker.load(lexicon_dir / LINKER_FOLDER, linking.ef_search)
    composer = PcsComposer.find(lexicon_dir)
    language = build_language(terms, composer)
    return NoteReader(language, linker, linking, provenance, composer, renew_after)
