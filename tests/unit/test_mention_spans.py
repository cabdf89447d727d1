"""The mention windows kept beside doc.spans["medcode_mentions"] follow the span group."""

import spacy
from spacy.tokens import Span

from nlp.mention_spans import MENTIONS_KEY, mention_windows, set_mention_spans


def test_windows_are_those_of_the_spans_set() -> None:
    doc = spacy.blank("en")("Chest pain and a fever since Monday.")
    set_mention_spans(doc, [Span(doc, 0, 2), Span(doc, 4, 5)])
    assert mention_windows(doc) == [(0, 2), (4, 5)]
    assert [(s.start, s.end) for s in doc.spans[MENTIONS_KEY]] == [(0, 2), (4, 5)]


def test_mentions_set_otherwise_are_read_from_their_spans() -> None:
    doc = spacy.blank("en")("Chest pain and a fever since Monday.")
    assert mention_windows(doc) == []
    set_mention_spans(doc, [Span(doc, 0, 2)])
    doc.spans[MENTIONS_KEY] = [Span(doc, 1, 2), Span(doc, 4, 5)]  # as a test or tool may
    assert mention_windows(doc) == [(1, 2), (4, 5)]
    doc.spans[MENTIONS_KEY].append(Span(doc, 5, 6))
    assert mention_windows(doc) == [(1, 2), (4, 5), (5, 6)]
