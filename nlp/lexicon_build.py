"""Assemble the lexicon from the official sources: the catalog's names, the ICD-10-CM
Alphabetic Index and its tables.

Phrases learned from coded evidence are not in it: they belong to a trained model (see
models/), which must learn them inside its own training folds, and which can be switched
without rebuilding this lexicon.
"""

import logging
import time
from pathlib import Path

from codes.catalog import Catalog
from codes.folders import replace_folder, staging_folder
from codes.pcs_structure import save_pcs_structure
from codes.systems import CodeSystem
from nlp.aliases import Alias
from nlp.cm_index_aliases import (
    cm_index_aliases,
    drug_table_aliases,
    external_cause_aliases,
    find_cm_tables,
    neoplasm_table_aliases,
)
from nlp.lexicon import LINKER_FOLDER, catalog_aliases, save_lexicon
from nlp.linker import ApproximateLinker

logger = logging.getLogger(__name__)

# Near matching looks for names, not for the combinations generated from the tables
# (drug x intent, neoplasm site x behaviour): those are many and only worth exact hits.
LINKED_SOURCES = frozenset({"description", "inclusion", "cm_index", "pcs_index"})
# Smaller than scispaCy's defaults: builds several times faster; recall loss measured < 1%.
HNSW_M, HNSW_EF_CONSTRUCTION = 16, 100


def build_reader_files(catalog: Catalog, data_dir: Path | None, folder: Path) -> dict[str, object]:
    """Build and save everything the note reader loads: lexicon, linker index, and a copy
    of the catalog's PCS tables for composing complete codes (nlp/pcs_composer.py)."""
    aliases, provenance = build_lexicon(catalog, data_dir)
    staging = staging_folder(folder)
    phrases = save_lexicon(staging, aliases, provenance)
    save_pcs_structure(staging, catalog.pcs_structure())
    started = time.perf_counter()
    linkable = [a for a in aliases if a.source in LINKED_SOURCES]
    ApproximateLinker.build(linkable, hnsw_m=HNSW_M, ef_construction=HNSW_EF_CONSTRUCTION).save(
        staging / LINKER_FOLDER
    )
    logger.info("linker index: %d aliases in %.0f s", len(linkable), time.perf_counter() - started)
    replace_folder(folder, staging)
    return provenance | {"phrases": phrases, "linked_aliases": len(linkable)}


def build_lexicon(catalog: Catalog, data_dir: Path | None) -> tuple[list[Alias], dict[str, object]]:
    """Every alias, and a record of what went in (sources, counts)."""
    started = time.perf_counter()
    aliases = catalog_aliases(catalog, catalog.systems)
    counts: dict[str, int] = {"catalog": len(aliases)}
    if data_dir is not None:
        for name, found in _index_aliases(catalog, data_dir).items():
            aliases += found
            counts[name] = len(found)
    provenance: dict[str, object] = {
        "aliases": counts,
        "catalog_built_at": catalog.manifest["built_at"],
    }
    logger.info("lexicon: %d aliases in %.1f s", len(aliases), time.perf_counter() - started)
    return aliases, provenance


def _index_aliases(catalog: Catalog, data_dir: Path) -> dict[str, list[Alias]]:
    def is_code(code: str) -> bool:
        return catalog.get(CodeSystem.ICD10CM, code) is not None

    readers = {
        "index": cm_index_aliases,
        "drug": drug_table_aliases,
        "neoplasm": neoplasm_table_aliases,
        "eindex": external_cause_aliases,
    }
    tables = find_cm_tables(data_dir)
    return {name: readers[name](path, is_code) for name, path in sorted(tables.items())}
