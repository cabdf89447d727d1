"""How much a mention's assertion lets it support a code, per the official guidelines."""

from typing import Literal

from codes.systems import CodeSystem
from nlp.mentions import Assertion

Setting = Literal["inpatient", "outpatient"] | None

# Family evidence supports only "family history of" codes.
_FAMILY_HISTORY_CATEGORIES = ("Z80", "Z81", "Z82", "Z83", "Z84")


def support_weight(assertion: Assertion, system: CodeSystem, code: str, setting: Setting) -> float:
    """0 (no support) to 1 (full support)."""
    if assertion in (Assertion.NEGATED, Assertion.HYPOTHETICAL):
        return 0.0
    if assertion is Assertion.FAMILY:
        family_code = system is CodeSystem.ICD10CM and code.startswith(_FAMILY_HISTORY_CATEGORIES)
        return 1.0 if family_code else 0.0
    if assertion is Assertion.POSSIBLE and system is CodeSystem.ICD10CM:
        # Uncertain diagnoses are coded as if established for inpatients (guideline II.H),
        # never for outpatients (IV.H); with no setting given they count for less.
        return {"inpatient": 1.0, "outpatient": 0.0}.get(setting or "", 0.5)
    if assertion is Assertion.HISTORICAL:
        return 0.5
    return 1.0
