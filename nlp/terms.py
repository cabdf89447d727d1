"""Term normalisation shared by the lexicon and the note side, so both fold the same way."""

import re

from codes.text import words

# Words that carry no meaning for matching a term in a note: coders' boilerplate
# ("unspecified", "NOS") and function words.
STOPWORDS = frozenset(
    """a an and as at by for from in into is of on or the to with without due other
    unspecified nos specified not elsewhere classified site part organism""".split()
)
# Non-essential modifiers in ICD text: "(acute)", "[AIDS]". A note need not repeat them.
_NONESSENTIAL = re.compile(r"\([^)]*\)|\[[^\]]*\]")


def stem(word: str) -> str:
    """A light plural strip: 'fractures' -> 'fracture', 'ribs' -> 'rib', not 'diagnosis'.

    A possessive goes too ("crohn's" -> "crohn"), as words() splits it off in phrases.
    """
    if word.endswith(("'s", "’s")):
        word = word[:-2]
    if len(word) > 3 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def content_stems(text: str, drop_nonessential: bool = True) -> tuple[str, ...]:
    """The stems a note must contain for `text` to count as mentioned, in first-seen order."""
    if drop_nonessential:
        text = _NONESSENTIAL.sub(" ", text)
    # A lone "s" is what words() leaves of a possessive ("Crohn's" -> "crohn", "s").
    stems = (stem(w) for w in words(text) if w not in STOPWORDS and w != "s")
    return tuple(dict.fromkeys(stems))
