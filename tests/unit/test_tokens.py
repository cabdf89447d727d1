from nlp.tokens import split_sentences, tokenize


def sentence_texts(text: str) -> list[str]:
    return [text[s.start : s.end] for s in split_sentences(text)]


def test_sentences_split_at_full_stops_and_line_breaks() -> None:
    text = "Fever for 3 days. Cough.\r\nNo rash!\tStable"
    assert sentence_texts(text) == ["Fever for 3 days.", "Cough.", "No rash!", "Stable"]


def test_sentences_do_not_split_after_doses_titles_or_initials() -> None:
    text = "Given 500 mg. Daily dose. Seen by Dr. Smith and J. Doe today."
    assert sentence_texts(text) == [
        "Given 500 mg. Daily dose.",
        "Seen by Dr. Smith and J. Doe today.",
    ]


def test_token_offsets_index_the_original_text_with_unicode() -> None:
    text = "Ménière’s disease — señor's\tCRLF\r\nend"
    for token in tokenize(text):
        assert text[token.start : token.end] == token.text
    assert [t.norm for t in tokenize("Ménière")] == ["meniere"]


def test_blank_lines_make_no_sentences() -> None:
    assert sentence_texts("\n\n  \nA.\n\n") == ["A."]
