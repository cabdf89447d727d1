"""Word folding shared by catalog search and, later, note matching."""

import re
import unicodedata

_WORD = re.compile(r"[a-z0-9]+")


def fold(text: str) -> str:
    """Lower case without accents: 'Ménière' and 'meniere' compare equal."""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def words(text: str) -> list[str]:
    """The folded alphanumeric words of `text`, in order."""
    return _WORD.findall(fold(text))
