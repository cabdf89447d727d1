"""English titles of ICD-10-PCS codes and prefixes, composed from their axis labels.

CMS publishes long titles only in the order file, which is not among our sources, so titles
are composed from the axis labels in the style of those long titles:
  0DTJ4ZZ  Resection of Appendix, Percutaneous Endoscopic Approach
  0016070  Bypass Cerebral Ventricle to Nasopharynx with Autologous Tissue Substitute,
           Open Approach
Each section words its axes its own way (imaging has a contrast, radiation an isotope, ...).
"""

from collections.abc import Sequence
from dataclasses import dataclass

# Labels that mean "nothing on this axis"; titles leave them out.
EMPTY_LABELS = frozenset({"No Device", "No Qualifier", "None"})
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
    present = [side_first(label) if label not in EMPTY_LABELS else None for label in labels]
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


def side_first(label: str) -> str:
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


def _title_of(parts: _TitleParts) -> str:
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


def code_title(section: str, labels: Sequence[str]) -> str:
    """The title of a code or prefix from the labels of its positions 1..n (n >= 3)."""
    return _title_of(_title_parts(section, labels))
