import spacy

from nlp.guarded_tokenizer import GuardedTokenizer, regex_doc


def test_ordinary_text_keeps_spacys_tokens() -> None:
    nlp = spacy.blank("en")
    guarded = GuardedTokenizer(nlp.tokenizer)
    text = "Pt. denies chest pain (since Monday).\r\n\tBP 120/80."
    assert [t.text for t in guarded(text)] == [t.text for t in nlp.tokenizer(text)]


def test_a_long_chunk_without_spaces_falls_back_to_regex_tokens() -> None:
    nlp = spacy.blank("en")
    text = "(" * 5000 + " fever\n\n  and cough) " + "x" * 300
    doc = GuardedTokenizer(nlp.tokenizer)(text)
    assert doc.text == text
    assert len(doc) > 5000
    assert "fever" in [t.text for t in doc]


def test_regex_tokens_rebuild_the_exact_text_and_offsets() -> None:
    vocab = spacy.blank("en").vocab
    for text in ["a  b", " lead", "tail ", "x\r\n y", "😀 ß_under-score", "", "   ", "a\tb c"]:
        doc = regex_doc(vocab, text)
        assert doc.text == text
        for token in doc:
            assert text[token.idx : token.idx + len(token.text)] == token.text
