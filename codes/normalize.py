"""Turn what people type ('i219', ' I21.9', 'I21.9 ') into canonical codes."""

import re

from codes.errors import MalformedCodeError
from codes.systems import CANONICAL_PATTERNS, CodeSystem

_SPACES = re.compile(r"\s+")
_ICD10CM_BLOCK = re.compile(r"[A-Z][0-9][0-9A-Z]-[A-Z][0-9][0-9A-Z]")


def normalize_code(system: CodeSystem, raw: str) -> str:
    """The canonical spelling of `raw` in `system`, or MalformedCodeError.

    ICD-10-CM keeps its dot after the third character; every other system has none.
    Only the shape is checked here: whether the code exists is the catalog's business.
    """
    compact = _SPACES.sub("", raw).upper()
    if system is CodeSystem.ICD10CM and _ICD10CM_BLOCK.fullmatch(compact):
        return compact
    compact = compact.replace(".", "")
    if system is CodeSystem.ICD10CM and len(compact) > 3 and not compact.isdigit():
        compact = f"{compact[:3]}.{compact[3:]}"
    if not CANONICAL_PATTERNS[system].fullmatch(compact):
        raise MalformedCodeError(system, raw)
    return compact


def try_normalize_code(system: CodeSystem, raw: str) -> str | None:
    """Like normalize_code, but None for a malformed code."""
    try:
        return normalize_code(system, raw)
    except MalformedCodeError:
        return None
