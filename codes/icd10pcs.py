"""Read the CMS ICD-10-PCS XML files (tables, definitions, index) into catalog records.

The tables are the only source of valid codes: every `pcsRow` is expanded into the cartesian
product of its axis 4-7 values. The definitions file adds root-operation notes and the body
part / device / substance keys; the index adds the words coders look procedures up by.

Output, all deterministic:
- one record per 3-character table, per 4-character table + body part, and per 7-character code;
- index terms on the record of the code or prefix the index points at;
- axis synonyms ("Abdominal aortic plexus" is the body part "Abdominal Sympathetic Nerve"),
  kept apart from the records so that 79,115 codes do not each carry the same long lists.

The files are trusted CMS releases, read with xml.etree: its expat parser does not fetch
external entities or DTDs, so nothing outside the file is ever read.
"""

import itertools
import logging
import re
import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from codes.errors import SourceFileError
from codes.records import CodeNote, CodeRecord
from codes.systems import CodeSystem
from codes.xml_files import parse_xml

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PcsAxisSynonym:
    """Another name for one value of a PCS axis, e.g. a body part or a device."""

    section: str  # section character, e.g. "0"
    axis: str  # snake-case axis title, e.g. "body_part", "device", "substance"
    value_label: str  # the table label it maps to, e.g. "Abdominal Sympathetic Nerve"
    synonym: str  # e.g. "Abdominal aortic plexus"
    source: str  # "index" (an index <use>) or "definitions" (a key's <includes>)


@dataclass(frozen=True, slots=True)
class PcsSource:
    """Everything read from one ICD-10-PCS release folder."""

    records: list[CodeRecord]  # sorted by code
    axis_synonyms: list[PcsAxisSynonym]  # sorted, de-duplicated
    version: str  # the tables' <version>, e.g. "2026"
    # One entry per index reference to a code or prefix missing from the tables (codes
    # deleted since the index was published), sorted; these add no term.
    unresolved_index_codes: tuple[str, ...] = ()


def read_icd10pcs(folder: Path) -> PcsSource:
    """Read `icd10pcs_{tables,definitions,index}_YYYY.xml` from `folder` (newest year of each).

    The tables are required; the definitions and the index are used when present.
    Raises SourceFileError when the folder or the tables are missing, or a file is not
    ICD-10-PCS XML of the expected kind.
    """
    if not folder.is_dir():
        raise SourceFileError(f"ICD-10-PCS folder {folder} does not exist")
    tables_path = _newest_file(folder, "tables")
    if tables_path is None:
        raise SourceFileError(f"no icd10pcs_tables_YYYY.xml file in {folder}")
    definitions_path = _newest_file(folder, "definitions")
    index_path = _newest_file(folder, "index")

    catalog = _parse_tables(tables_path)
    definitions = _parse_definitions(definitions_path) if definitions_path else _Definitions()
    index = _parse_index(index_path, catalog.version) if index_path else _Index()

    terms, unresolved = _index_terms(catalog, index.code_references)
    records = [
        *_table_records(catalog, definitions, terms),
        *_body_part_records(catalog, terms),
        *_code_records(catalog, terms),
    ]
    records.sort(key=lambda record: record.code)
    synonyms = _axis_synonyms(catalog, definitions, index.uses)
    logger.info(
        "ICD-10-PCS %s: %d records, %d axis synonyms, %d index references to missing codes",
        catalog.version,
        len(records),
        len(synonyms),
        len(unresolved),
    )
    return PcsSource(
        records=records,
        axis_synonyms=synonyms,
        version=catalog.version,
        unresolved_index_codes=unresolved,
    )


# --- Finding and loading the files ------------------------------------------------------

_FILE_NAME = re.compile(r"icd10pcs_(?:tables|definitions|index)_(?P<year>\d{4})\.xml")
_ROOT_TAGS = {
    "tables": "ICD10PCS.tabular",
    "definitions": "ICD10PCS.definitions",
    "index": "ICD10PCS.index",
}


def _newest_file(folder: Path, kind: str) -> Path | None:
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
class _Axis:
    position: int  # 1-7
    key: str  # snake-case title
    values: tuple[tuple[str, str], ...]  # (character, label)


@dataclass(frozen=True, slots=True)
class _Table:
    prefix: str  # the 3 characters of axes 1-3
    header: tuple[_Axis, _Axis, _Axis]  # axes 1-3, one value each
    definition: str  # the operation's definition as printed on the table; may be ""
    rows: tuple[tuple[_Axis, _Axis, _Axis, _Axis], ...]  # axes 4-7 of each pcsRow

    @property
    def section(self) -> str:
        return self.prefix[0]


@dataclass(frozen=True, slots=True)
class _Catalog:
    version: str
    tables: tuple[_Table, ...]
    codes: frozenset[str]
    code_prefixes: frozenset[str]  # the 3- to 6-character prefixes of every code

    def has(self, code_or_prefix: str) -> bool:
        """Whether the tables hold this code, or codes starting with this 3-6 character prefix."""
        if len(code_or_prefix) == 7:
            return code_or_prefix in self.codes
        return code_or_prefix in self.code_prefixes


def _parse_tables(path: Path) -> _Catalog:
    root = _load_root(path, "tables")
    tables = tuple(_parse_table(element, path) for element in root.iter("pcsTable"))
    if not tables:
        raise SourceFileError(f"{path} holds no <pcsTable>")
    codes = frozenset(code for table in tables for code, _ in _expand(table))
    prefixes = frozenset(code[:length] for code in codes for length in (3, 4, 5, 6))
    return _Catalog(_text(root.find("version")), tables, codes, prefixes)


def _parse_table(element: ET.Element, path: Path) -> _Table:
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
    return _Table(
        prefix="".join(axis.values[0][0] for axis in header),
        header=(first, second, third),
        definition=_text(element.find("axis[@pos='3']/definition")),
        rows=tuple((row[0], row[1], row[2], row[3]) for row in rows),
    )


def _parse_axis(element: ET.Element, path: Path) -> _Axis:
    try:
        position = int(element.get("pos", ""))
    except ValueError as error:
        raise SourceFileError(f"{path}: an <axis> has no numeric pos attribute") from error
    values = tuple((label.get("code", ""), _text(label)) for label in element.findall("label"))
    if not values or any(len(character) != 1 or not text for character, text in values):
        raise SourceFileError(f"{path}: axis {position} has a label without a code or text")
    return _Axis(position, _axis_key(_text(element.find("title"))), values)


def _expand(table: _Table) -> Iterator[tuple[str, tuple[tuple[str, str], ...]]]:
    """Each code of the table with its seven (axis key, label) pairs."""
    header = [(axis.key, axis.values[0][1]) for axis in table.header]
    for row in table.rows:
        choices = [
            [(character, (axis.key, label)) for character, label in axis.values] for axis in row
        ]
        for combination in itertools.product(*choices):
            code = table.prefix + "".join(character for character, _ in combination)
            yield code, (*header, *(pair for _, pair in combination))


# --- Titles -------------------------------------------------------------------------------
#
# CMS publishes long titles only in the order file, which is not among our sources, so titles
# are composed from the axis labels in the style of those long titles:
#   0DTJ4ZZ  Resection of Appendix, Percutaneous Endoscopic Approach
#   0016070  Bypass Cerebral Ventricle to Nasopharynx with Autologous Tissue Substitute,
#            Open Approach
# Each section words its axes its own way (imaging has a contrast, radiation an isotope, ...).

# Labels that mean "nothing on this axis"; titles leave them out.
_EMPTY_LABELS = frozenset({"No Device", "No Qualifier", "None"})
_SIDES = ("Left", "Right", "Bilateral", "Unilateral")
# The one body system that names what a procedure without a body part is done on
# ("Irrigation of Indwelling Device"); the others are classes ("Physiological Systems").
_BODY_SYSTEMS_NAMING_A_SITE = frozenset({"Indwelling Device"})


@dataclass(frozen=True, slots=True)
class _TitleParts:
    """The labels of one code or prefix, empty ones as None, sides moved to the front.

    Positions 4-7 are named after the Medical and Surgical axes; other sections keep their
    own axes in the same slots (Imaging's contrast is `axis5`, Radiation's isotope `axis6`).
    None also stands for an axis a prefix does not reach.
    """

    section: str
    section_label: str
    body_system: str | None
    operation: str
    body_part: str | None = None
    axis5: str | None = None
    axis6: str | None = None
    axis7: str | None = None

    @property
    def site(self) -> str | None:
        """What the procedure is done on: the body part, else a body system naming a site."""
        if self.body_part is None and self.body_system in _BODY_SYSTEMS_NAMING_A_SITE:
            return self.body_system
        return self.body_part


def _title_parts(section: str, labels: Sequence[str]) -> _TitleParts:
    """Parts from the labels of positions 1..n (n >= 3) of a code or prefix."""
    present = [_side_first(label) if label not in _EMPTY_LABELS else None for label in labels]
    present += [None] * (7 - len(present))
    return _TitleParts(
        section=section,
        section_label=labels[0],
        body_system=present[1],
        operation=labels[2],
        body_part=present[3],
        axis5=present[4],
        axis6=present[5],
        axis7=present[6],
    )


def _side_first(label: str) -> str:
    """'Kidney, Left' -> 'Left Kidney', the order of the CMS long titles."""
    head, comma, last = label.rpartition(", ")
    return f"{last} {head}" if comma and last in _SIDES else label


def _phrase(lead: str, *links: tuple[str, str | None]) -> str:
    """The lead words and each (connector, object) link whose object is known.

    _phrase("Insertion", ("of", "Drainage Device"), ("into", "Brain")) reads
    "Insertion of Drainage Device into Brain"; with the device unknown, "Insertion into Brain".
    """
    words = [lead]
    for connector, obj in links:
        if obj:
            words.append(f"{connector} {obj}" if connector else obj)
    return " ".join(words)


def _segments(*segments: str | None) -> str:
    return ", ".join(segment for segment in segments if segment)


def _approach(approach: str | None) -> str | None:
    # CMS writes "Open Approach" but "Via Natural or Artificial Opening" without "Approach".
    if approach is None or approach.startswith("Via "):
        return approach
    return f"{approach} Approach"


def _code_title(parts: _TitleParts) -> str:
    builder = _SECTION_TITLES.get(parts.section, _generic_title)
    return builder(parts)


# Medical and Surgical (0), Obstetrics (1), New Technology (X): root operations.

# Operations whose title names the device before the body part: (device link, body part link).
_DEVICE_FIRST = {
    "Change": ("", "in"),
    "Insertion": ("of", "into"),
    "Introduction": ("of", "into"),
    "Removal": ("of", "from"),
    "Revision": ("of", "in"),
    "Transfusion": ("of", "into"),
}
# Operations not worded "<operation> of <body part>": (lead words, body part link).
_BODY_PART_WORDING = {
    "Bypass": ("Bypass", ""),
    "Control": ("Control Bleeding", "in"),
    "Detachment": ("Detachment", "at"),
    "Extirpation": ("Extirpation of Matter", "from"),
    "Fragmentation": ("Fragmentation", "in"),
    "Map": ("Map", ""),
    "Release": ("Release", ""),
    "Repair": ("Repair", ""),
    "Reposition": ("Reposition", ""),
    "Supplement": ("Supplement", ""),
    "Transfer": ("Transfer", ""),
}
# Operations whose qualifier is the thing created, repaired or drained:
# (section, operation) -> (lead words, qualifier link, body part link).
_QUALIFIER_FIRST = {
    ("0", "Creation"): ("Creation", "of", "in"),
    ("1", "Drainage"): ("Drainage", "of", "from"),
    ("1", "Repair"): ("Repair", "", "in"),
    ("1", "Transplantation"): ("Transplantation", "of", "into"),
}
# New Technology operations whose axis 6 is a technology used rather than a device left in.
_TECHNOLOGY_OPERATIONS = frozenset(
    {
        "Assistance",
        "Destruction",
        "Division",
        "Extirpation",
        "Inspection",
        "Irrigation",
        "Measurement",
        "Monitoring",
        "Other Procedures",
    }
)


def _is_trailing_qualifier(qualifier: str) -> bool:
    """Qualifiers CMS puts after the approach ("..., Open Approach, Diagnostic")."""
    return qualifier == "Diagnostic" or qualifier.startswith("New Technology Group")


def _procedure_title(parts: _TitleParts) -> str:
    operation, site, device = parts.operation, parts.site, parts.axis6
    qualifier = parts.axis7
    trailing = qualifier if qualifier and _is_trailing_qualifier(qualifier) else None
    if trailing:
        qualifier = None
    device_link = "with"
    if parts.section == "X" and operation in _TECHNOLOGY_OPERATIONS:
        device_link = "using"

    if (parts.section, operation) in _QUALIFIER_FIRST and qualifier:
        lead, qualifier_link, site_link = _QUALIFIER_FIRST[parts.section, operation]
        head = _phrase(lead, (qualifier_link, qualifier), (site_link, site), (device_link, device))
        qualifier = None
    elif operation in _DEVICE_FIRST:
        of_device, site_link = _DEVICE_FIRST[operation]
        head = _phrase(operation, (of_device, device), (site_link, site))
    elif operation == "Bypass" and parts.section == "0":
        head = _phrase("Bypass", ("", site), ("to", qualifier), ("with", device))
        qualifier = None
    else:
        lead, site_link = _BODY_PART_WORDING.get(operation, (operation, "of"))
        head = _phrase(lead, (site_link, site), (device_link, device))
    return _segments(head, qualifier, _approach(parts.axis5), trailing)


def _placement_title(parts: _TitleParts) -> str:
    # Placement is always External, so the approach adds nothing and CMS leaves it out.
    operation, site, device = parts.operation, parts.site, parts.axis6
    if operation == "Change":
        head = _phrase("Change", ("", device), ("on", site))
    elif operation == "Removal":
        head = _phrase("Removal", ("of", device), ("from", site))
    else:
        head = _phrase(operation, ("of", site), ("using", device))
    return _segments(head, parts.axis7)


def _administration_title(parts: _TitleParts) -> str:
    operation, site, substance = parts.operation, parts.site, parts.axis6
    if operation == "Irrigation":
        head = _phrase("Irrigation", ("of", site), ("using", substance))
    else:
        head = _phrase(operation, ("of", substance), ("into", site))
    return _segments(head, _approach(parts.axis5), parts.axis7)


def _measurement_title(parts: _TitleParts) -> str:
    # "Measurement of Respiratory Capacity": the body system reads as an adjective.
    measured = " ".join(label for label in (parts.site, parts.axis6) if label)
    head = _phrase(parts.operation, ("of", measured))
    return _segments(head, parts.axis7, _approach(parts.axis5))


def _assistance_title(parts: _TitleParts) -> str:
    function = " ".join(label for label in (parts.site, parts.axis6) if label)
    link = "with" if parts.operation == "Assistance" else "of"
    head = _phrase(parts.operation, (link, function))
    return _segments(head, parts.axis7, parts.axis5)


def _extracorporeal_therapy_title(parts: _TitleParts) -> str:
    # The second qualifier names what is treated ("Pheresis of Leukocytes") when present.
    head = _phrase(parts.operation, ("of", parts.axis7 or parts.site))
    return _segments(head, parts.axis6, parts.axis5)


def _manual_therapy_title(parts: _TitleParts) -> str:
    # Osteopathic and Chiropractic: always External, so no approach, as in CMS titles.
    lead = f"{parts.section_label} {parts.operation}"
    head = _phrase(lead, ("of", parts.site), ("using", parts.axis6))
    return _segments(head, parts.axis7)


def _other_procedures_title(parts: _TitleParts) -> str:
    # The operation is always "Other Procedures"; the method says what was done.
    head = _phrase(parts.axis6 or parts.operation, ("of", parts.site))
    return _segments(head, parts.axis7, _approach(parts.axis5))


def _imaging_title(parts: _TitleParts) -> str:
    contrast = parts.axis5
    if contrast and not contrast.endswith(("Contrast", "Agent")):
        contrast = f"{contrast} Contrast"
    head = _phrase(parts.operation, ("of", parts.site), ("using", contrast))
    return _segments(head, parts.axis6, parts.axis7)


def _nuclear_medicine_title(parts: _TitleParts) -> str:
    head = _phrase(parts.operation, ("of", parts.site), ("using", parts.axis5))
    return _segments(head, parts.axis6, parts.axis7)


def _radiation_title(parts: _TitleParts) -> str:
    modality, modality_qualifier, isotope = parts.operation, parts.axis5, parts.axis6
    if modality == "Beam Radiation":
        # "Beam Radiation of Lung using Photons 1 - 10 MeV"
        head = _phrase(modality, ("of", parts.site), ("using", modality_qualifier))
        return _segments(head, isotope, parts.axis7)
    if modality == "Brachytherapy" and modality_qualifier:
        lead = f"{modality_qualifier} Brachytherapy"  # "High Dose Rate (HDR) Brachytherapy"
    else:
        # Radiosurgery and other radiation: the qualifier names the treatment itself.
        lead = modality_qualifier or modality
    head = _phrase(lead, ("of", parts.site), ("using", isotope))
    return _segments(head, parts.axis7)


def _rehabilitation_title(parts: _TitleParts) -> str:
    # "Motor Treatment of Neurological System - Whole Body, Therapeutic Exercise using
    # Mechanical Equipment": the type qualifier says what is done, axis 6 with what.
    equipment = parts.axis6
    if equipment and not equipment.endswith("Equipment"):
        equipment = f"{equipment} Equipment"
    head = _phrase(parts.operation, ("of", parts.site))
    if parts.axis5:
        return _segments(head, _phrase(parts.axis5, ("using", equipment)), parts.axis7)
    return _segments(_phrase(head, ("using", equipment)), parts.axis7)


def _mental_health_title(parts: _TitleParts) -> str:
    # The qualifiers sit in positions 4-7; position 4 is the only one with values.
    return _segments(parts.operation, parts.body_part, parts.axis5, parts.axis6, parts.axis7)


def _substance_abuse_title(parts: _TitleParts) -> str:
    # Named after the section, so that e.g. "Individual Psychotherapy, Cognitive" in
    # Mental Health and in Substance Abuse Treatment keep different titles.
    lead = f"{parts.operation} for {parts.section_label}"
    return _segments(lead, parts.body_part, parts.axis5, parts.axis6, parts.axis7)


def _generic_title(parts: _TitleParts) -> str:
    head = _phrase(parts.operation, ("of", parts.site))
    return _segments(head, parts.axis6, parts.axis7, parts.axis5)


_SECTION_TITLES = {
    "0": _procedure_title,
    "1": _procedure_title,
    "2": _placement_title,
    "3": _administration_title,
    "4": _measurement_title,
    "5": _assistance_title,
    "6": _extracorporeal_therapy_title,
    "7": _manual_therapy_title,
    "8": _other_procedures_title,
    "9": _manual_therapy_title,
    "B": _imaging_title,
    "C": _nuclear_medicine_title,
    "D": _radiation_title,
    "F": _rehabilitation_title,
    "G": _mental_health_title,
    "H": _substance_abuse_title,
    "X": _procedure_title,
}


# --- The definitions ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _OperationText:
    definition: str
    explanation: str
    includes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _KeyEntry:
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
class _Definitions:
    # Root operations (or Types, outside Medical and Surgical) by (section, label).
    operations: dict[tuple[str, str], _OperationText] = field(default_factory=dict)
    keys: tuple[_KeyEntry, ...] = ()

    def operation(self, section: str, label: str) -> _OperationText | None:
        return self.operations.get((section, label))


def _parse_definitions(path: Path) -> _Definitions:
    root = _load_root(path, "definitions")
    operations: dict[tuple[str, str], _OperationText] = {}
    keys: list[_KeyEntry] = []
    for section in root.iter("section"):
        code = section.get("code", "")
        for axis in section.findall("axis"):
            position = int(axis.get("pos", "0"))
            for terms in axis.findall("terms"):
                titles = tuple(_text(title) for title in terms.findall("title"))
                includes = tuple(_text(element) for element in terms.findall("includes"))
                if position == 3:
                    text = _OperationText(
                        _text(terms.find("definition")), _text(terms.find("explanation")), includes
                    )
                    operations.update({(code, title): text for title in titles})
                elif _text(axis.find("title")) in _KEY_AXIS_TITLES and includes:
                    keys.append(_KeyEntry(code, position, titles, includes))
    return _Definitions(operations, tuple(keys))


# --- The index ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _CodeReference:
    term: str  # "Abortion, Products of Conception"
    code: str  # a code or a prefix of 3-7 characters


@dataclass(frozen=True, slots=True)
class _Use:
    term: str  # "Abdominal aortic plexus"
    target: str  # "Abdominal Sympathetic Nerve", or "Liner in Lower Joints"
    table: str | None  # when the index names the table ("... in <tab>0JH</tab>")


@dataclass(frozen=True, slots=True)
class _Index:
    code_references: tuple[_CodeReference, ...] = ()
    uses: tuple[_Use, ...] = ()


_CODE_TAGS = frozenset({"code", "codes", "tab"})


def _parse_index(path: Path, tables_version: str) -> _Index:
    root = _load_root(path, "index")
    version = _text(root.find("version"))
    if version != tables_version:
        logger.info("using the FY%s PCS index with the FY%s tables", version, tables_version)
    references: list[_CodeReference] = []
    uses: list[_Use] = []
    for main_term in root.iter("mainTerm"):
        for item in _walk_term(main_term, ()):
            if isinstance(item, _CodeReference):
                references.append(item)
            else:
                uses.append(item)
    return _Index(tuple(references), tuple(uses))


def _walk_term(element: ET.Element, titles: tuple[str, ...]) -> Iterator[_CodeReference | _Use]:
    """The code references and <use> entries of a main term or sub-term, depth first.

    A term's words are its title and those of the terms it is nested in, joined by commas;
    a <see> or <use> cross-reference adds nothing to them.
    """
    title = _text(element.find("title"))
    path = (*titles, title) if title else titles
    term = ", ".join(path)
    for child in element:
        if child.tag in _CODE_TAGS:
            yield _CodeReference(term, _text(child))
        elif child.tag == "see":
            yield from (_CodeReference(term, _text(ref)) for ref in child if ref.tag in _CODE_TAGS)
        elif child.tag == "use":
            table = child.find("tab")
            if table is not None:
                yield _CodeReference(term, _text(table))
            # "Stimulator Generator, Multiple Array in <tab>0JH</tab>": drop the dangling "in".
            target = re.sub(r"\s+in$", "", _text(child)) if table is not None else _text(child)
            yield _Use(term, target, _text(table) or None)
        elif child.tag == "term":
            yield from _walk_term(child, path)


def _index_terms(
    catalog: _Catalog, references: Iterable[_CodeReference]
) -> tuple[dict[str, list[str]], tuple[str, ...]]:
    """Index terms by the record they belong to, and the references that match no record."""
    terms: dict[str, list[str]] = defaultdict(list)
    unresolved: list[str] = []
    for reference in references:
        code = reference.code
        if not catalog.has(code):
            unresolved.append(code)
            continue
        # A 5- or 6-character reference narrows a body part; its record is the 4-character one.
        owner = code[:4] if len(code) in (5, 6) else code
        terms[owner].append(reference.term)
    return terms, tuple(sorted(unresolved))


def _unique_terms(terms: Iterable[str]) -> tuple[str, ...]:
    """One spelling per case-insensitive term (the index's first), sorted case-insensitively."""
    unique: dict[str, str] = {}
    for term in terms:
        unique.setdefault(term.casefold(), term)
    return tuple(sorted(unique.values(), key=lambda term: (term.casefold(), term)))


# --- Records ----------------------------------------------------------------------------


def _table_records(
    catalog: _Catalog, definitions: _Definitions, terms: dict[str, list[str]]
) -> Iterator[CodeRecord]:
    for table in catalog.tables:
        labels = [axis.values[0][1] for axis in table.header]
        yield CodeRecord(
            system=CodeSystem.ICD10PCS,
            code=table.prefix,
            description=", ".join(label for label in labels if label not in _EMPTY_LABELS),
            billable=False,
            kind="table",
            parent=None,
            terms=_unique_terms(terms.get(table.prefix, ())),
            notes=_table_notes(table, definitions.operation(table.section, labels[2])),
            attributes=tuple((axis.key, axis.values[0][1]) for axis in table.header),
        )


def _table_notes(table: _Table, text: _OperationText | None) -> tuple[CodeNote, ...]:
    definition = table.definition or (text.definition if text else "")
    notes = [CodeNote("definition", definition)] if definition else []
    if text and text.explanation:
        notes.append(CodeNote("explanation", text.explanation))
    if text:
        notes.extend(CodeNote("includes", included) for included in text.includes)
    return tuple(notes)


def _body_part_records(catalog: _Catalog, terms: dict[str, list[str]]) -> Iterator[CodeRecord]:
    for table in catalog.tables:
        header = [axis.values[0][1] for axis in table.header]
        for character, body_parts in _body_parts(table).items():
            code = table.prefix + character
            # A few tables reuse a character for two body parts (FY2026 XNS4 is "Thoracic
            # Vertebra" and "Humeral Shaft, Right"); the prefix record names both.
            either = " or ".join(_side_first(part) for part in body_parts)
            body_part_key = table.rows[0][0].key
            yield CodeRecord(
                system=CodeSystem.ICD10PCS,
                code=code,
                description=_code_title(_title_parts(table.section, [*header, either])),
                billable=False,
                kind="body_part",
                parent=table.prefix,
                terms=_unique_terms(terms.get(code, ())),
                attributes=(
                    *((axis.key, axis.values[0][1]) for axis in table.header),
                    *((body_part_key, part) for part in body_parts),
                ),
            )


def _body_parts(table: _Table) -> dict[str, list[str]]:
    """Axis-4 labels by character, in table order."""
    labels: dict[str, list[str]] = defaultdict(list)
    for row in table.rows:
        for character, label in row[0].values:
            if label not in labels[character]:
                labels[character].append(label)
    return labels


def _code_records(catalog: _Catalog, terms: dict[str, list[str]]) -> Iterator[CodeRecord]:
    for table in catalog.tables:
        for code, attributes in _expand(table):
            labels = [label for _, label in attributes]
            yield CodeRecord(
                system=CodeSystem.ICD10PCS,
                code=code,
                description=_code_title(_title_parts(table.section, labels)),
                billable=True,
                kind="code",
                parent=code[:4],
                terms=_unique_terms(terms.get(code, ())),
                attributes=attributes,
            )


# --- Axis synonyms ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Place:
    """Where a label is a value: section, position and axis key."""

    section: str
    position: int
    axis: str


class _LabelLocator:
    """Finds the axis a label belongs to, within all tables or some of them."""

    def __init__(self, tables: Sequence[_Table]) -> None:
        self._places: dict[str, dict[str, set[_Place]]] = defaultdict(lambda: defaultdict(set))
        self._tables_of: dict[str, set[str]] = defaultdict(set)  # axis 1-3 label -> tables
        for table in tables:
            for axis in table.header:
                self._tables_of[axis.values[0][1]].add(table.prefix)
            for row in table.rows:
                for axis in row:
                    place = _Place(table.section, axis.position, axis.key)
                    for _, label in axis.values:
                        self._places[label][table.prefix].add(place)
        self._all_tables = frozenset(table.prefix for table in tables)

    def locate(
        self, target: str, tables: frozenset[str] | None = None, preferred: int | None = None
    ) -> list[tuple[_Place, str]]:
        """Each section's place of `target` in `tables`, with the label as the tables spell it.

        Keys and index entries may add where the value applies: "Liner in Lower Joints",
        "Cardiac Lead, Pacemaker for Insertion in Heart and Great Vessels", "... in New
        Technology". Those words (a body system, operation or section label) narrow the
        search. Within a section a label may sit on two axes: body parts are also the
        qualifier of Bypass. Then the `preferred` position wins, else the lowest, which
        makes a body part a body part rather than a bypass destination.
        """
        scope = tables if tables is not None else self._all_tables
        for separator in (" in ", " for "):
            if target not in self._places and separator in target:
                head, _, where = target.rpartition(separator)
                if where in self._tables_of:
                    target, scope = head, scope & self._tables_of[where]
        by_section: dict[str, set[_Place]] = defaultdict(set)
        for table, places in self._places.get(target, {}).items():
            if table in scope:
                for place in places:
                    by_section[place.section].add(place)
        found = []
        for section in sorted(by_section):
            ordered = sorted(by_section[section], key=lambda place: place.position)
            chosen = next((p for p in ordered if p.position == preferred), ordered[0])
            found.append((chosen, target))
        return found


def _axis_synonyms(
    catalog: _Catalog, definitions: _Definitions, uses: Sequence[_Use]
) -> list[PcsAxisSynonym]:
    locator = _LabelLocator(catalog.tables)
    synonyms: set[PcsAxisSynonym] = set()
    unplaced: set[str] = set()
    for use in uses:
        tables = frozenset({use.table}) if use.table else None
        places = locator.locate(use.target, tables)
        if not places:
            unplaced.add(use.target)
        for place, label in places:
            synonyms.add(PcsAxisSynonym(place.section, place.axis, label, use.term, "index"))
    tables_by_section: dict[str, set[str]] = defaultdict(set)
    for table in catalog.tables:
        tables_by_section[table.section].add(table.prefix)
    for entry in definitions.keys:
        section_tables = frozenset(tables_by_section[entry.section])
        for title in entry.titles:
            places = locator.locate(title, section_tables, preferred=entry.position)
            if not places:
                unplaced.add(title)
            for place, label in places:
                synonyms.update(
                    PcsAxisSynonym(place.section, place.axis, label, included, "definitions")
                    for included in entry.includes
                )
    if unplaced:
        # Values deleted since the index or key was published; nothing to attach them to.
        logger.info("%d PCS index/key values are not in the tables, skipped", len(unplaced))
        logger.debug("PCS values not in the tables: %s", sorted(unplaced))
    return sorted(
        synonyms,
        key=lambda s: (s.section, s.axis, s.value_label, s.synonym, s.source),
    )
