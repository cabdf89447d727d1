"""The CMS ICD-10-PCS XML files (tables, definitions, index) as plain typed values.

Nothing here decides what goes into the catalog: `codes.icd10pcs` turns these values into
records, `codes.pcs_synonyms` into axis synonyms, `codes.pcs_operations` into the index
terms that name a root operation.

The files are trusted CMS releases, read with xml.etree: its expat parser does not fetch
external entities or DTDs, so nothing outside the file is ever read.
"""

import itertools
import logging
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from codes.errors import SourceFileError
from codes.xml_files import parse_xml

logger = logging.getLogger(__name__)


# --- Finding and loading the files ------------------------------------------------------

_FILE_NAME = re.compile(r"icd10pcs_(?:tables|definitions|index)_(?P<year>\d{4})\.xml")
_ROOT_TAGS = {
    "tables": "ICD10PCS.tabular",
    "definitions": "ICD10PCS.definitions",
    "index": "ICD10PCS.index",
}


def newest_file(folder: Path, kind: str) -> Path | None:
    dated = [
        (int(match["year"]), path)
        for path in folder.glob(f"icd10pcs_{kind}_*.xml")
        if (match := _FILE_NAME.fullmatch(path.name))
    ]
    return max(dated)[1] if dated else None


def _load_root(path: Path, kind: str) -> ET.Element:
    root = parse_xml(path)
    if root.tag != _ROOT_TAGS[kind]:
        raise SourceFileError(
            f"{path} is not an ICD-10-PCS {kind} file: its root element is <{root.tag}>, "
            f"expected <{_ROOT_TAGS[kind]}>"
        )
    return root


def _text(element: ET.Element | None) -> str:
    """The element's text with whitespace runs collapsed; "" for a missing element."""
    if element is None or element.text is None:
        return ""
    return " ".join(element.text.split())


def _axis_key(title: str) -> str:
    """'Body System / Region' -> 'body_system_region'."""
    return re.sub(r"[^a-z0-9]+", "_", title.lower()).strip("_")


# --- The tables -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PcsAxis:
    position: int  # 1-7
    key: str  # snake-case title
    values: tuple[tuple[str, str], ...]  # (character, label)


@dataclass(frozen=True, slots=True)
class PcsTable:
    prefix: str  # the 3 characters of axes 1-3
    header: tuple[PcsAxis, PcsAxis, PcsAxis]  # axes 1-3, one value each
    definition: str  # the operation's definition as printed on the table; may be ""
    rows: tuple[tuple[PcsAxis, PcsAxis, PcsAxis, PcsAxis], ...]  # axes 4-7 of each pcsRow

    @property
    def section(self) -> str:
        return self.prefix[0]


@dataclass(frozen=True, slots=True)
class PcsTables:
    version: str
    tables: tuple[PcsTable, ...]
    codes: frozenset[str]
    code_prefixes: frozenset[str]  # the 3- to 6-character prefixes of every code

    def has(self, code_or_prefix: str) -> bool:
        """Whether the tables hold this code, or codes starting with this 3-6 character prefix."""
        if len(code_or_prefix) == 7:
            return code_or_prefix in self.codes
        return code_or_prefix in self.code_prefixes


def parse_tables(path: Path) -> PcsTables:
    root = _load_root(path, "tables")
    tables = tuple(_parse_table(element, path) for element in root.iter("pcsTable"))
    if not tables:
        raise SourceFileError(f"{path} holds no <pcsTable>")
    codes = frozenset(code for table in tables for code, _ in expand_table(table))
    prefixes = frozenset(code[:length] for code in codes for length in (3, 4, 5, 6))
    return PcsTables(_text(root.find("version")), tables, codes, prefixes)


def _parse_table(element: ET.Element, path: Path) -> PcsTable:
    header = tuple(_parse_axis(axis, path) for axis in element.findall("axis"))
    rows = tuple(
        tuple(_parse_axis(axis, path) for axis in row.findall("axis"))
        for row in element.findall("pcsRow")
    )
    if [axis.position for axis in header] != [1, 2, 3] or any(
        [axis.position for axis in row] != [4, 5, 6, 7] for row in rows
    ):
        raise SourceFileError(f"{path}: a <pcsTable> does not have axes 1-3 and rows of axes 4-7")
    if any(len(axis.values) != 1 for axis in header):
        raise SourceFileError(f"{path}: a <pcsTable> has more than one value on axes 1-3")
    first, second, third = header
    return PcsTable(
        prefix="".join(axis.values[0][0] for axis in header),
        header=(first, second, third),
        definition=_text(element.find("axis[@pos='3']/definition")),
        rows=tuple((row[0], row[1], row[2], row[3]) for row in rows),
    )


def _parse_axis(element: ET.Element, path: Path) -> PcsAxis:
    try:
        position = int(element.get("pos", ""))
    except ValueError as error:
        raise SourceFileError(f"{path}: an <axis> has no numeric pos attribute") from error
    values = tuple((label.get("code", ""), _text(label)) for label in element.findall("label"))
    if not values or any(len(character) != 1 or not text for character, text in values):
        raise SourceFileError(f"{path}: axis {position} has a label without a code or text")
    return PcsAxis(position, _axis_key(_text(element.find("title"))), values)


def expand_table(table: PcsTable) -> Iterator[tuple[str, tuple[tuple[str, str], ...]]]:
    """Each code of the table with its seven (axis key, label) pairs."""
    header = [(axis.key, axis.values[0][1]) for axis in table.header]
    for row in table.rows:
        choices = [
            [(character, (axis.key, label)) for character, label in axis.values] for axis in row
        ]
        for combination in itertools.product(*choices):
            code = table.prefix + "".join(character for character, _ in combination)
            yield code, (*header, *(pair for _, pair in combination))


# --- The definitions ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OperationText:
    definition: str
    explanation: str
    includes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class KeyEntry:
    """One entry of a body part, device or substance key: value titles and what they include."""

    section: str
    position: int
    titles: tuple[str, ...]
    includes: tuple[str, ...]


# The definitions axes whose <includes> are other names for the value; on the other axes
# they are examples ("Face lift, breast augmentation") or sentences ("Includes ...").
_KEY_AXIS_TITLES = frozenset(
    {"Body Part", "Device", "Substance", "Device / Substance / Technology"}
)


@dataclass(frozen=True, slots=True)
class Definitions:
    # Root operations (or Types, outside Medical and Surgical) by (section, label).
    operations: dict[tuple[str, str], OperationText] = field(default_factory=dict)
    keys: tuple[KeyEntry, ...] = ()

    def operation(self, section: str, label: str) -> OperationText | None:
        return self.operations.get((section, label))


def parse_definitions(path: Path) -> Definitions:
    root = _load_root(path, "definitions")
    operations: dict[tuple[str, str], OperationText] = {}
    keys: list[KeyEntry] = []
    for section in root.iter("section"):
        code = section.get("code", "")
        for axis in section.findall("axis"):
            position = int(axis.get("pos", "0"))
            for terms in axis.findall("terms"):
                titles = tuple(_text(title) for title in terms.findall("title"))
                includes = tuple(_text(element) for element in terms.findall("includes"))
                if position == 3:
                    text = OperationText(
                        _text(terms.find("definition")), _text(terms.find("explanation")), includes
                    )
                    operations.update({(code, title): text for title in titles})
                elif _text(axis.find("title")) in _KEY_AXIS_TITLES and includes:
                    keys.append(KeyEntry(code, position, titles, includes))
    return Definitions(operations, tuple(keys))


# --- The index ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CodeReference:
    term: str  # "Abortion, Products of Conception"
    code: str  # a code or a prefix of 3-7 characters
    # From a <use> naming a table: the term is a device or substance, not a procedure.
    from_use: bool = False


@dataclass(frozen=True, slots=True)
class IndexUse:
    term: str  # "Abdominal aortic plexus"
    target: str  # "Abdominal Sympathetic Nerve", or "Liner in Lower Joints"
    table: str | None  # when the index names the table ("... in <tab>0JH</tab>")


@dataclass(frozen=True, slots=True)
class IndexSee:
    """A <see> cross-reference that names no code: what the term is coded as, in words."""

    term: str  # "Biopsy"
    target: str  # "Excision with qualifier Diagnostic", "Reposition", "Fragmentation, Vein"


@dataclass(frozen=True, slots=True)
class Index:
    code_references: tuple[CodeReference, ...] = ()
    uses: tuple[IndexUse, ...] = ()
    sees: tuple[IndexSee, ...] = ()


_CODE_TAGS = frozenset({"code", "codes", "tab"})


def parse_index(path: Path, tables_version: str) -> Index:
    root = _load_root(path, "index")
    version = _text(root.find("version"))
    if version != tables_version:
        logger.info("using the FY%s PCS index with the FY%s tables", version, tables_version)
    references: list[CodeReference] = []
    uses: list[IndexUse] = []
    sees: list[IndexSee] = []
    for main_term in root.iter("mainTerm"):
        for item in _walk_term(main_term, ()):
            if isinstance(item, CodeReference):
                references.append(item)
            elif isinstance(item, IndexUse):
                uses.append(item)
            else:
                sees.append(item)
    return Index(tuple(references), tuple(uses), tuple(sees))


def _walk_term(
    element: ET.Element, titles: tuple[str, ...]
) -> Iterator[CodeReference | IndexUse | IndexSee]:
    """The code references, <use> entries and code-less <see> of a term, depth first.

    A term's words are its title and those of the terms it is nested in, joined by commas;
    a <see> or <use> cross-reference adds nothing to them.
    """
    title = _text(element.find("title"))
    path = (*titles, title) if title else titles
    term = ", ".join(path)
    for child in element:
        if child.tag in _CODE_TAGS:
            yield CodeReference(term, _text(child))
        elif child.tag == "see":
            codes = [CodeReference(term, _text(ref)) for ref in child if ref.tag in _CODE_TAGS]
            yield from codes
            if not codes and _text(child):
                # "Biopsy: see Excision with qualifier Diagnostic" names a root operation only.
                yield IndexSee(term, _text(child))
        elif child.tag == "use":
            table = child.find("tab")
            if table is not None:
                yield CodeReference(term, _text(table), from_use=True)
            # "Stimulator Generator, Multiple Array in <tab>0JH</tab>": drop the dangling "in".
            target = re.sub(r"\s+in$", "", _text(child)) if table is not None else _text(child)
            yield IndexUse(term, target, _text(table) or None)
        elif child.tag == "term":
            yield from _walk_term(child, path)
