"""Type-ahead latency over all of ICD-10-CM: every prefix a coder types, key by key.

Run with `make bench-all`. Reports p50/p95/max and checks the 20 ms p95 target.
"""

import statistics
import time

import pytest

from codes.catalog import Catalog
from codes.systems import CodeSystem
from tests.bench.perf.stats import Summary

pytestmark = pytest.mark.bench

TYPED = [
    "type 2 diabetes mellitus with hyperglycemia",
    "acute myocardial infarction",
    "essential hypertension",
    "fracture of neck of right femur",
    "chronic obstructive pulmonary disease with exacerbation",
    "urinary tract infection",
    "pneumonia due to streptococcus",
    "heart failure",
    "atrial fibrillation",
    "chronic kidney disease stage 3",
    "malignant neoplasm of breast",
    "major depressive disorder recurrent",
    "abdominal pain",
    "sepsis",
    "anemia in chronic disease",
    "I21.9",
    "E11.65",
    "S72.001A",
    "Z79.4",
    "J44.1",
]


def test_code_search_p95_is_under_20_ms(catalog: Catalog) -> None:
    timings = []
    for _ in range(3):
        for text in TYPED:
            for end in range(1, len(text) + 1):
                started = time.perf_counter()
                catalog.search(CodeSystem.ICD10CM, text[:end], 20)
                timings.append((time.perf_counter() - started) * 1000)
    figures = Summary.of(timings)
    print(
        f"\ncode search over {catalog.size(CodeSystem.ICD10CM)} ICD-10-CM entries,"
        f" {len(timings)} keystrokes: p50 {figures.p50:.2f} ms, p95 {figures.p95:.2f} ms,"
        f" max {figures.max:.2f} ms"
    )
    assert figures.p95 < 20.0


def test_catalog_load_time(catalog: Catalog) -> None:
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        Catalog.open(catalog.folder)
        timings.append(time.perf_counter() - started)
    print(f"\ncatalog load: median {statistics.median(timings) * 1000:.0f} ms over 5 loads")
    assert statistics.median(timings) < 1.0
