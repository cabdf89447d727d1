import numpy as np
import spacy

from nlp.guarded_tokenizer import GuardedTokenizer, regex_doc


def test_ordinary_text_keeps_spacys_tokens() -> None:
    nlp = spacy.blank("en")
    guarded = GuardedTokenizer(nlp.tokenizer)
    text = "Pt. denies chest pain (since Monday).\r\n\tBP 120/80."
    assert [t.text for t in guarded(text)] == [t.text for t in nlp.tokenizer(text)]


def test_line_breaks_and_tabs_keep_spacys_tokens_and_attributes() -> None:
    # Without spaCy's rules for a lone "\n" and "\t" (which stopped its cache): the same
    # tokens, attributes and text, also when read again from the cache.
    stock = spacy.blank("en").tokenizer
    guarded = GuardedTokenizer(spacy.blank("en").tokenizer)
    attrs: list[int | str] = [
        "ORTH",
        "NORM",
        "LOWER",
        "SHAPE",
        "LENGTH",
        "IDX",
        "SPACY",
        "IS_SPACE",
        "SENT_START",
    ]
    texts = [
        "HPI:\n\tDenies chest pain.\nDr. Smith saw her at 3 a.m.\n\nBP 120/80\t(e.g. :))",
        "\n",
        "\t\n \n\r\n\xa0x\n  y\t\tz's don't\n",
        "U.S. \n\\n\\t mg/dl\t\n",
    ]
    for _ in range(2):
        for text in texts:
            ours, theirs = guarded(text), stock(text)
            assert [t.text_with_ws for t in ours] == [t.text_with_ws for t in theirs]
            assert np.array_equal(ours.to_array(attrs), theirs.to_array(attrs))


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
