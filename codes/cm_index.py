"""The ICD-10-CM Alphabetic Index as a term tree, and what the catalog learns from it.

Readers for the index CSV (a row per index entry, with its nesting level) and for the CDC
index XML files (External-cause index, Drug and Neoplasm tables) build the same tree of
`IndexEntry` rows; `IndexCodes` turns the index's code spellings ("S72.00-", "W11") into
catalog codes; `with_combinations` lists the "with" subterms that name combination codes
(guideline I.A.15: "Diabetes, type 2, with, foot ulcer" is E11.621).

The note reader (nlp/cm_index_aliases.py) turns the same tree into phrases.
"""

import csv
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from codes.errors import SourceFileError
from codes.xml_files import parse_xml

IsCode = Callable[[str], bool]


# --- Reading the sources ----------------------------------------------------------------


@dataclass(slots=True, eq=False)
class IndexEntry:
    """One index row: a main term or a subterm."""

    title: str  # without non-essential modifiers
    codes: dict[int, str]  # raw code by table column; index rows use column 0
    see: str = ""
    # "Toxic - see also condition": the index marks adjectives that only qualify a condition.
    adjective: bool = False
    # The source lost part of the title (see _WORD_PIECE): the row cannot be phrased.
    cut: bool = False
    children: list["IndexEntry"] = field(default_factory=list)


# A non-essential modifier that continues the word before it: "May(-Hegglin)" is the
# eponym "May-Hegglin", not the word "may".
_EPONYM_TAIL = re.compile(r"\(-\s*([^)]+)\)")
# The CSV keeps only the title text before a modifier, so "Cancer(o)phobia" arrives as
# "Cancer" and "Fanconi('s) anemia" as "Fanconi". A modifier inside a word means the title
# was cut. Plurals ("(s)", "(es)") end the word, and short words ("(of)") are modifiers.
_WORD_PIECE = re.compile(r"\((?!(?:s|es|of|to|in|on|by|at|as|or)\))[a-z]{1,2}\)|\('s\)")
_CSV_COLUMNS = ("Level", "Term", "See", "SeeAlso", "NonEssModif", "Code")


def _eponym_tail(nemod: str) -> str:
    match = _EPONYM_TAIL.match(nemod.strip())
    return f"-{match.group(1).strip()}" if match else ""


def read_index_csv(path: Path) -> list[IndexEntry]:
    """The term tree of the flat index CSV (RowID,Letter,Level,Term,See,SeeAlso,NonEssModif,Code).

    A row's parent is the nearest earlier row one level up.
    """
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            return _csv_tree(path, csv.DictReader(handle))
    except OSError as error:
        raise SourceFileError(f"cannot read {path}: {error}") from error


def _csv_tree(path: Path, reader: "csv.DictReader[str]") -> list[IndexEntry]:
    missing = [c for c in _CSV_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise SourceFileError(f"{path} is not an ICD-10-CM index CSV: no {', '.join(missing)}")
    roots: list[IndexEntry] = []
    path_to_row: list[IndexEntry] = []  # [main term, level-1 subterm, ...] of the current row
    for row in reader:
        nemod = (row["NonEssModif"] or "").strip()
        entry = IndexEntry(
            title=(row["Term"] or "").strip() + _eponym_tail(nemod),
            codes={0: row["Code"].strip()} if row["Code"] else {},
            see=(row["See"] or "").strip(),
            adjective=(row["SeeAlso"] or "").strip().lower() == "condition",
            cut=bool(_WORD_PIECE.match(nemod)),
        )
        level = _level(path, reader.line_num, row["Level"])
        del path_to_row[level:]
        (path_to_row[-1].children if path_to_row else roots).append(entry)
        path_to_row.append(entry)
    return roots


def _level(path: Path, line: int, value: str | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        raise SourceFileError(f"{path}:{line}: Level {value!r} is not a number") from None


def read_index_xml(path: Path, first_heading: str | None) -> list[IndexEntry]:
    """The main terms of a CDC index XML (external-cause index, drug or neoplasm table).

    `first_heading` is the first column heading a table must have ("Substance",
    "Neoplasm"); None for the external-cause index, which has no columns.
    """
    root = parse_xml(path)
    heading = (root.findtext("indexHeading/head") or "").strip()
    if root.tag != "ICD10CM.index" or (first_heading and not heading.startswith(first_heading)):
        expected = f"the {first_heading} table" if first_heading else "the external-cause index"
        raise SourceFileError(f"{path} is not {expected} of ICD-10-CM")
    return [_xml_entry(element) for element in root.iter("mainTerm")]


def _xml_entry(element: ET.Element) -> IndexEntry:
    codes = {int(c.get("col", "0")): (c.text or "").strip() for c in element.findall("cell")}
    if (code := element.findtext("code")) is not None:
        codes[0] = code.strip()
    see = element.find("see")
    return IndexEntry(
        title=_xml_title(element.find("title")),
        codes=codes,
        see=" ".join("".join(see.itertext()).split()) if see is not None else "",
        adjective=(element.findtext("seeAlso") or "").strip().lower() == "condition",
        children=[_xml_entry(term) for term in element.findall("term")],
    )


def _xml_title(title: ET.Element | None) -> str:
    """The title's own words: the text around <nemod>, without the modifier itself."""
    if title is None:
        return ""
    pieces = [title.text or ""]
    for child in title:
        if child.tag == "nemod":
            pieces.append(_eponym_tail(child.text or ""))
        else:
            pieces.append("".join(child.itertext()))
        pieces.append(child.tail or "")
    return " ".join("".join(pieces).split())


# --- Codes ----------------------------------------------------------------------------

CODE_SHAPE = re.compile(r"[A-Z][0-9][0-9A-Z][0-9A-Z]{0,4}")


class IndexCodes:
    """Turns a table or index code into a catalog code, remembering the answers."""

    def __init__(self, is_code: IsCode) -> None:
        self._is_code = is_code
        self._known: dict[str, str | None] = {}
        self.invalid: set[str] = set()

    def complete(self, raw: str) -> str | None:
        """'T39.1X1' -> 'T39.1X1A'; 'I21.-' -> 'I21'; 'W11' -> 'W11.XXXA'; '--' -> None."""
        if raw not in self._known:
            self._known[raw] = self._complete(raw)
        return self._known[raw]

    def _complete(self, raw: str) -> str | None:
        compact = raw.strip().rstrip("-.").replace(".", "").upper()
        if not CODE_SHAPE.fullmatch(compact):
            return None  # "-", "--": no code in this column
        # Injury, poisoning and external-cause codes need a 7th character; the index
        # stops before it (and before its "X" placeholders). "A", the initial encounter,
        # is the one a note about the event means. The catalog decides whether it exists.
        if len(compact) < 7:
            initial = _dotted(compact.ljust(6, "X") + "A")
            if self._is_code(initial):
                return initial
        code = _dotted(compact)
        if self._is_code(code):
            return code
        self.invalid.add(raw)
        return None


def _dotted(compact: str) -> str:
    return f"{compact[:3]}.{compact[3:]}" if len(compact) > 3 else compact


# --- Finding the files ------------------------------------------------------------------

# What find_cm_tables looks for under <folder>/cms, by key.
_TABLE_FILES = {
    "index": re.compile(r"icd10cm_\d{4}_index\.csv", re.IGNORECASE),
    "drug": re.compile(r"icd10cm[-_]drug[-_].*\.xml", re.IGNORECASE),
    "neoplasm": re.compile(r"icd10cm[-_]neoplasm[-_].*\.xml", re.IGNORECASE),
    "eindex": re.compile(r"icd10cm[-_]eindex[-_].*\.xml", re.IGNORECASE),
}
_YEAR = re.compile(r"(?<!\d)(20\d\d)(?!\d)")
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


def find_cm_tables(folder: Path) -> dict[str, Path]:
    """The newest index CSV and drug / neoplasm / external-cause XML under `folder`/cms.

    Keys: "index", "drug", "neoplasm", "eindex"; a kind with no file is absent. Newest
    means the highest fiscal year in the name, and within a year a mid-year update
    ("icd10cm-drug-April-1-2026-XML.xml") over the October release.
    """
    found: dict[str, tuple[tuple[int, int, str], Path]] = {}
    cms = folder / "cms"
    candidates = sorted(cms.rglob("*")) if cms.is_dir() else []
    for path in candidates:
        for kind, pattern in _TABLE_FILES.items():
            if path.is_file() and pattern.fullmatch(path.name):
                rank = _release_rank(path.name)
                if kind not in found or found[kind][0] < rank:
                    found[kind] = (rank, path)
    return {kind: path for kind, (_, path) in sorted(found.items())}


def _release_rank(name: str) -> tuple[int, int, str]:
    years = _YEAR.findall(name)
    lowered = name.lower()
    month = next((i + 1 for i, m in enumerate(_MONTHS) if re.search(rf"\b{m}", lowered)), 0)
    return (int(years[-1]) if years else 0, month, name)


# --- Combination codes ------------------------------------------------------------------

# Subterms that link a condition to another it is coded together with (I.A.15: "with" and
# "in" presume a causal relationship in the index, and the code names both conditions).
_CONNECTOR_TITLES = frozenset({"with", "in"})
_CONNECTOR_PREFIX = re.compile(r"^(?:with|in)\s+", re.IGNORECASE)
_NOT_A_CONDITION = re.compile(r"\bNEC\b|\bspecified\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Combination:
    """A condition indexed "with" another: the two are one code.

    base: the code of the index row the "with" hangs under (E11.9 for "Diabetes, type 2");
    partner: the subterm's words below the connector ("foot ulcer");
    code: the combination code (E11.621); path: the index path, for coders' notes.
    """

    base: str
    partner: str
    code: str
    path: str


def with_combinations(roots: Iterable[IndexEntry], is_code: IsCode) -> list[Combination]:
    """Every "with"/"in" subterm row that carries a code, under a coded row, sorted."""
    codes = IndexCodes(is_code)
    found: set[Combination] = set()
    for root in roots:
        _combinations_below(root, [root.title], codes, found)
    # The same combination is often indexed under several main terms: keep one path.
    unique: dict[tuple[str, str, str], Combination] = {}
    for combination in sorted(found, key=lambda c: (c.base, c.code, c.partner, c.path)):
        unique.setdefault(
            (combination.base, combination.partner.lower(), combination.code), combination
        )
    return list(unique.values())


def _combinations_below(
    entry: IndexEntry, path: list[str], codes: IndexCodes, found: set[Combination]
) -> None:
    # The base is the code of the row the connector hangs under: a row without a code of
    # its own ("Hypertension, pancreatic duct - code to underlying condition") has none.
    base = codes.complete(entry.codes.get(0, "")) if entry.codes.get(0) else None
    for child in entry.children:
        title = child.title.strip()
        # A connector row with a code of its own names a condition ("Gout, in (due to)
        # renal impairment" is M10.30): its subterms are sites, not partner conditions.
        connector = not child.codes.get(0)
        if base is not None and connector and title.lower() in _CONNECTOR_TITLES:
            for words, code, row_path in _coded_rows(child, [], codes):
                _add(found, base, words, code, [*path, title, *row_path])
        elif base is not None and _CONNECTOR_PREFIX.match(title):
            partner = _CONNECTOR_PREFIX.sub("", title)
            for words, code, row_path in _coded_rows(child, [partner], codes, first=True):
                _add(found, base, words, code, [*path, title, *row_path[1:]])
        _combinations_below(child, [*path, title], codes, found)


def _coded_rows(
    entry: IndexEntry, words: list[str], codes: IndexCodes, first: bool = False
) -> Iterator[tuple[list[str], str, list[str]]]:
    """Below a connector row: each coded row with the words of its path from the connector."""
    rows = [entry] if first else entry.children
    for row in rows:
        if row.cut or _NOT_A_CONDITION.search(row.title):
            continue
        title = row.title.strip()
        path_words = words if first else [*words, title]
        code = codes.complete(row.codes.get(0, "")) if row.codes.get(0) else None
        if code is not None:
            yield path_words, code, [title]
        for deeper, deeper_code, deeper_path in _coded_rows(row, path_words, codes):
            yield deeper, deeper_code, [title, *deeper_path]


def _add(found: set[Combination], base: str, words: list[str], code: str, path: list[str]) -> None:
    partner = " ".join(" ".join(words).split())
    if partner and code != base:
        found.add(Combination(base, partner, code, ", ".join(path)))
