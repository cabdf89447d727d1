"""The note's mentions as spaCy spans, and as plain token windows beside them.

doc.spans["medcode_mentions"] holds the mentions (the mention matcher sets them, the PCS
operation marker adds to them, ConText and the reader read them). Each span read from a
span group is a new spaCy object (~0.6 µs); with hundreds of mentions per note and several
readers, that was a measurable share of reading. So whoever sets the mentions sets them
with `set_mention_spans`, which keeps their (first token, end token) windows beside them,
and `mention_windows` reads those, or the spans if someone else set the group since.
"""

from collections.abc import Sequence

from spacy.tokens import Doc, Span

MENTIONS_KEY = "medcode_mentions"
Window = tuple[int, int]  # (first token, end token) of a mention
# doc.user_data[f"{_WINDOWS_KEY}:{span key}"]: (the span group, the windows of its spans)
_WINDOWS_KEY = "medcode_mention_windows"


def set_mention_spans(doc: Doc, spans: Sequence[Span], key: str = MENTIONS_KEY) -> None:
    """Makes `spans` the note's mentions, doc.spans[key]."""
    doc.spans[key] = list(spans)
    doc.user_data[f"{_WINDOWS_KEY}:{key}"] = (doc.spans[key], [(s.start, s.end) for s in spans])


def mention_windows(doc: Doc, key: str = MENTIONS_KEY) -> list[Window]:
    """The window of each span in doc.spans[key], in the group's order."""
    group = doc.spans.get(key)
    if group is None:
        return []
    kept = doc.user_data.get(f"{_WINDOWS_KEY}:{key}")
    if kept is not None and kept[0] is group and len(kept[1]) == len(group):
        windows: list[Window] = kept[1]
        return windows
    return [(s.start, s.end) for s in group]
