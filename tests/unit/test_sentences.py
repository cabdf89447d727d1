import pytest
import spacy
from spacy.language import Language

import nlp.sentences  # noqa: F401  (registers medcode_sentences)


@pytest.fixture(scope="module")
def splitter() -> Language:
    pipeline = spacy.blank("en")
    pipeline.add_pipe("medcode_sentences")
    return pipeline


def sentences(splitter: Language, text: str) -> list[str]:
    return [s.text.strip() for s in splitter(text).sents if s.text.strip()]


def test_splits_at_full_stops_question_marks_and_line_breaks(splitter: Language) -> None:
    text = "Fever for 3 days. Any cough? Yes!\r\nNo rash.\nStable (afebrile). [Seen] today"
    assert sentences(splitter, text) == [
        "Fever for 3 days.",
        "Any cough?",
        "Yes!",
        "No rash.",
        "Stable (afebrile).",
        "[Seen] today",
    ]


def test_does_not_split_after_doses_titles_abbreviations_initials_or_decimals(
    splitter: Language,
) -> None:
    text = (
        "Aspirin 81 mg. Daily. Seen by Dr. Smith and J. Doe today. "
        "Viral causes, e.g. EBV, vs. CMV were tested. Creatinine 2.5 today."
    )
    assert sentences(splitter, text) == [
        "Aspirin 81 mg. Daily.",
        "Seen by Dr. Smith and J. Doe today.",
        "Viral causes, e.g. EBV, vs. CMV were tested.",
        "Creatinine 2.5 today.",
    ]


def test_splits_after_a_letter_that_closes_a_word_and_after_size_units(
    splitter: Language,
) -> None:
    text = "Negative for influenza A. Positive for RSV. Nodule of 2 cm. No change."
    assert sentences(splitter, text) == [
        "Negative for influenza A.",
        "Positive for RSV.",
        "Nodule of 2 cm.",
        "No change.",
    ]


def test_a_header_line_and_list_numbers(splitter: Language) -> None:
    text = "Assessment:\n1. Pneumonia. 2. Sepsis.\nPlan: antibiotics"
    assert sentences(splitter, text) == [
        "Assessment:",
        "1. Pneumonia.",
        "2. Sepsis.",
        "Plan: antibiotics",
    ]


def test_a_lower_case_word_or_a_spaced_question_mark_does_not_start_a_sentence(
    splitter: Language,
) -> None:
    text = "Temp 38.2 in the E.R. then improved. CXR ? Pneumonia in the left base."
    assert sentences(splitter, text) == [
        "Temp 38.2 in the E.R. then improved.",
        "CXR ? Pneumonia in the left base.",
    ]


def test_every_token_is_annotated_and_empty_text_is_fine(splitter: Language) -> None:
    doc = splitter("No fever.\n\n  Cough since Monday.")
    assert all(t.is_sent_start is not None for t in doc)
    assert doc[0].is_sent_start
    assert len(splitter("")) == 0
    assert sentences(splitter, "\n\n  \n") == []
