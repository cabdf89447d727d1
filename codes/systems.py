"""The code systems medcode knows, and the shape of a code in each."""

import re
from enum import StrEnum


class CodeSystem(StrEnum):
    ICD10CM = "icd10cm"
    ICD10PCS = "icd10pcs"
    HCPCS = "hcpcs"
    CPT = "cpt"

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    CodeSystem.ICD10CM: "ICD-10-CM",
    CodeSystem.ICD10PCS: "ICD-10-PCS",
    CodeSystem.HCPCS: "HCPCS Level II",
    CodeSystem.CPT: "CPT",
}

# What a canonical code looks like in each system (after normalisation).
CANONICAL_PATTERNS: dict[CodeSystem, re.Pattern[str]] = {
    # A category (I21), a dotted subcode (I21.9, S72.001A), a block (I20-I25) or a chapter (9).
    CodeSystem.ICD10CM: re.compile(
        r"[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?|[A-Z][0-9][0-9A-Z]-[A-Z][0-9][0-9A-Z]|[1-9][0-9]?"
    ),
    # PCS uses digits and letters except I and O; tables are 3 characters, codes 7.
    CodeSystem.ICD10PCS: re.compile(r"[0-9A-HJ-NP-Z]{3,7}"),
    CodeSystem.HCPCS: re.compile(r"[A-V][0-9]{4}"),
    # Category I (99213), II (1234F), III (0503T) and PLA (0001U) codes.
    CodeSystem.CPT: re.compile(r"[0-9]{4}[0-9A-Z]"),
}
