"""`medcode codes import`: build the catalog folder from the public data files (+ CPT)."""

import hashlib
import json
import logging
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from codes import icd10cm
from codes.catalog import (
    DATABASE,
    FORMAT_VERSION,
    MANIFEST,
    Catalog,
    CodeSummary,
    CodeTable,
    search_index_path,
    table_path,
)
from codes.cm_conventions import build_cm_conventions, save_cm_conventions
from codes.cpt import read_cpt
from codes.errors import CatalogNotBuiltError, SourceFileError
from codes.folders import replace_folder, staging_folder
from codes.hcpcs import find_hcpcs_file, read_hcpcs
from codes.icd10pcs import read_icd10pcs
from codes.pcs_structure import save_pcs_structure
from codes.records import CodeRecord
from codes.search import SearchEntry, build_search_index
from codes.store import write_records
from codes.systems import CodeSystem

logger = logging.getLogger(__name__)

# Where each public source sits inside the data folder.
PCS_FOLDER = Path("cms/icd10pcs")
HCPCS_FOLDER = Path("cms/hcpcs")
# Chapters and blocks are headings a coder navigates by, not codes they search for.
_NOT_SEARCHED = frozenset({"chapter", "block", "section"})


def build_catalog(data_dir: Path, out_dir: Path, cpt_file: Path | None = None) -> dict[str, Any]:
    """Build the catalog into `out_dir`, replacing what was there only once all went well.

    A CPT catalog imported earlier is kept unless `cpt_file` brings a new one.
    Returns the manifest.
    """
    if not data_dir.is_dir():
        raise SourceFileError(
            f"data folder {data_dir} does not exist: set MEDCODE_DATA_DIR or pass --data-dir"
        )
    started = time.perf_counter()
    cpt = _cpt_records(cpt_file, out_dir)  # first: a bad licensed file fails fast
    systems: dict[CodeSystem, list[CodeRecord]] = {}
    sources: dict[CodeSystem, dict[str, Any]] = {}

    systems[CodeSystem.ICD10CM] = list(icd10cm.read_icd10cm())
    sources[CodeSystem.ICD10CM] = {"source": icd10cm.source_version()}

    pcs = read_icd10pcs(data_dir / PCS_FOLDER)
    systems[CodeSystem.ICD10PCS] = pcs.records
    sources[CodeSystem.ICD10PCS] = {
        "source": f"CMS ICD-10-PCS FY{pcs.version}",
        "files": _fingerprints(sorted((data_dir / PCS_FOLDER).glob("*.xml"))),
    }

    hcpcs_file = find_hcpcs_file(data_dir / HCPCS_FOLDER)
    systems[CodeSystem.HCPCS] = read_hcpcs(hcpcs_file)
    sources[CodeSystem.HCPCS] = {"source": hcpcs_file.name, "files": _fingerprints([hcpcs_file])}

    if cpt is not None:
        systems[CodeSystem.CPT], sources[CodeSystem.CPT] = cpt

    staging = staging_folder(out_dir)
    write_records(staging / DATABASE, (r for records in systems.values() for r in records))
    for system, records in systems.items():
        build_search_index(_search_entries(records)).save(search_index_path(staging, system))
        table = CodeTable.columns([_summary(r) for r in records])
        table_path(staging, system).write_text(json.dumps(table, ensure_ascii=False), "utf-8")
        sources[system] |= {
            "codes": len(records),
            "billable": sum(r.billable for r in records),
        }
    cm_codes = {r.code for r in systems[CodeSystem.ICD10CM]}
    save_cm_conventions(
        staging, build_cm_conventions(systems[CodeSystem.ICD10CM], data_dir, cm_codes.__contains__)
    )
    (staging / "pcs_axis_synonyms.json").write_text(
        json.dumps([list(_as_row(s)) for s in pcs.axis_synonyms], ensure_ascii=False),
        encoding="utf-8",
    )
    # The tables as data, for composing complete codes from procedure statements.
    save_pcs_structure(staging, pcs.structure())
    manifest = {
        "format": FORMAT_VERSION,
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "systems": {system.value: sources[system] for system in systems},
    }
    (staging / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    replace_folder(out_dir, staging)
    logger.info("catalog built in %.1f s at %s", time.perf_counter() - started, out_dir)
    return manifest


def _cpt_records(
    cpt_file: Path | None, out_dir: Path
) -> tuple[list[CodeRecord], dict[str, Any]] | None:
    if cpt_file is not None:
        return read_cpt(cpt_file), {"source": cpt_file.name, "files": _fingerprints([cpt_file])}
    try:
        previous = Catalog.open(out_dir)
    except CatalogNotBuiltError:
        return None
    if not previous.has(CodeSystem.CPT):
        return None
    kept = dict(previous.manifest["systems"][CodeSystem.CPT.value])
    return previous.records(CodeSystem.CPT), {k: kept[k] for k in ("source", "files") if k in kept}


def _search_entries(records: Iterable[CodeRecord]) -> Iterable[SearchEntry]:
    for record in records:
        if record.kind not in _NOT_SEARCHED:
            yield SearchEntry(record.code, record.description, record.terms)


def _summary(record: CodeRecord) -> CodeSummary:
    return CodeSummary(
        record.system, record.code, record.description, record.billable, record.kind, record.parent
    )


def _as_row(synonym: Any) -> tuple[str, ...]:
    return (synonym.section, synonym.axis, synonym.value_label, synonym.synonym, synonym.source)


def _fingerprints(paths: Iterable[Path]) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}
