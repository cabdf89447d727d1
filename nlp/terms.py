"""Term normalisation shared by the lexicon and the note side, so both fold the same way."""

import functools
import json
import re
from importlib import resources

from codes.text import words

# Words that carry no meaning for matching a term in a note: coders' boilerplate
# ("unspecified", "NOS") and function words.
STOPWORDS = frozenset(
    """a an and as at by for from in into is of on or the to with without due other
    unspecified nos specified not elsewhere classified site part organism plain""".split()
)
# Non-essential modifiers in ICD text: "(acute)", "[AIDS]". A note need not repeat them.
_NONESSENTIAL = re.compile(r"\([^)]*\)|\[[^\]]*\]")


@functools.cache
def _variants() -> dict[str, str]:
    rules = resources.files("nlp.rules").joinpath("word_variants.json").read_text("utf-8")
    variants: dict[str, str] = json.loads(rules)["variants"]
    return variants


def stem(word: str) -> str:
    """A light plural strip: 'fractures' -> 'fracture', 'ribs' -> 'rib', not 'diagnosis';
    then one form for words that name the same thing (rules/word_variants.json):
    'renal' -> 'kidney', 'tumours' -> 'tumor'.

    A possessive goes too ("crohn's" -> "crohn"), as words() splits it off in phrases.
    """
    if word.endswith(("'s", "’s")):
        word = word[:-2]
    if len(word) > 3 and word.endswith("ies"):
        word = word[:-3] + "y"
    elif len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    return _variants().get(word, word)


def content_stems(text: str, drop_nonessential: bool = True) -> tuple[str, ...]:
    """The stems a note must contain for `text` to count as mentioned, in first-seen order."""
    if drop_nonessential:
        text = _NONESSENTIAL.sub(" ", text)
    # A lone "s" is what words() leaves of a possessive ("Crohn's" -> "crohn", "s").
    stems = (stem(w) for w in words(text) if w not in STOPWORDS and w != "s")
    return tuple(dict.fromkeys(stems))
