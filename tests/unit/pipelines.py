"""Small pipelines on spacy.blank("en") shared by the component tests."""

import spacy
from spacy.language import Language

import nlp.context
import nlp.sections
import nlp.sentences  # noqa: F401


def assertion_pipeline() -> Language:
    """Sentences, sections and ConText: what an assertion needs, without the lexicon."""
    pipeline = spacy.blank("en")
    pipeline.add_pipe("medcode_sentences")
    pipeline.add_pipe("medcode_sections")
    pipeline.add_pipe("medcode_context")
    return pipeline
