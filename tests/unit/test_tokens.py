from nlp.tokens import tokenize


def test_token_offsets_index_the_original_text_with_unicode() -> None:
    text = "Ménière’s disease — señor's\tCRLF\r\nend 😀 x"
    for token in tokenize(text):
        assert text[token.start : token.end] == token.text
    assert [t.norm for t in tokenize("Ménière")] == ["meniere"]


def test_a_slice_keeps_offsets_into_the_whole_text() -> None:
    text = "Fever. Cough and rash."
    tokens = tokenize(text, 7, len(text))
    assert [t.text for t in tokens] == ["Cough", "and", "rash", "."]
    assert tokens[0].start == 7
