from typing import Any

from fastapi.testclient import TestClient

NOTE = (
    "Chief complaint: chest pain.\n"
    "The patient has essential hypertension and a fracture of the left femur.\n"
    "No evidence of pneumonia.\n"
)


def suggest(client: TestClient, **body: Any) -> dict[str, Any]:
    response = client.post("/suggest", json=body)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_suggestions_are_real_codes_with_evidence_that_indexes_the_note(client: TestClient) -> None:
    result = suggest(client, text=NOTE, note_id="n-1")
    assert result["note_id"] == "n-1"
    assert result["model_version"]
    by_code = {s["code"]: s for s in result["suggestions"]}
    assert "essential hypertension" in [e["text"] for e in by_code["I10"]["evidence"]]
    for s in result["suggestions"]:
        assert 0.0 <= s["score"] <= 1.0
        assert s["description"]
        assert isinstance(s["recommended"], bool) and isinstance(s["billable"], bool)
        detail = client.get(f"/codes/{s['system']}/{s['code']}")
        assert detail.status_code == 200, s
        # Codes proposed by similar notes alone have no span to show.
        for e in s["evidence"]:
            assert NOTE[e["start"] : e["end"]] == e["text"]
            assert e["assertion"] in {
                "present",
                "negated",
                "possible",
                "historical",
                "family",
                "hypothetical",
            }


def test_suggestions_are_sorted_by_score_then_code(client: TestClient) -> None:
    suggestions = suggest(client, text=NOTE)["suggestions"]
    keys = [(-s["score"], s["code"]) for s in suggestions]
    assert keys == sorted(keys)


def test_negated_findings_are_never_recommended(client: TestClient) -> None:
    suggestions = suggest(client, text=NOTE)["suggestions"]
    pneumonia = [s for s in suggestions if s["code"].startswith("J18")]
    assert not any(s["recommended"] for s in pneumonia)
    assert all(e["assertion"] == "negated" for s in pneumonia for e in s["evidence"])
    hypertension = next(s for s in suggestions if s["code"] == "I10")
    assert all(hypertension["score"] > s["score"] for s in pneumonia)


def test_limit_and_systems_filter_the_list(client: TestClient) -> None:
    assert len(suggest(client, text=NOTE, limit=1)["suggestions"]) == 1
    only_cm = suggest(client, text=NOTE, systems=["icd10cm"])["suggestions"]
    assert only_cm and {s["system"] for s in only_cm} == {"icd10cm"}


def test_the_same_note_gives_the_same_suggestions(client: TestClient) -> None:
    assert suggest(client, text=NOTE) == suggest(client, text=NOTE)


def test_offsets_hold_with_unicode_crlf_and_tabs(client: TestClient) -> None:
    text = "Señora Müller 😀 – history:\r\n\tEssential hypertension\t(on meds).\r\nFémur: ok"
    result = suggest(client, text=text, systems=["icd10cm"])
    spans = [e for s in result["suggestions"] for e in s["evidence"]]
    assert spans, result
    for e in spans:
        assert text[e["start"] : e["end"]] == e["text"]
    assert any(e["text"] == "Essential hypertension" for e in spans)


def test_annotate_returns_mentions_with_candidates(client: TestClient) -> None:
    response = client.post("/annotate", json={"text": NOTE})
    assert response.status_code == 200
    mentions = response.json()["mentions"]
    assert mentions
    for m in mentions:
        assert NOTE[m["start"] : m["end"]] == m["text"]
        assert m["candidates"]
    negated = [m for m in mentions if m["text"].lower() == "pneumonia"]
    assert negated and negated[0]["assertion"] == "negated"


def test_outpatient_uncertain_diagnoses_are_not_recommended(client: TestClient) -> None:
    note = "Suspected pneumonia."
    inpatient = suggest(client, text=note, setting="inpatient", systems=["icd10cm"])
    outpatient = suggest(client, text=note, setting="outpatient", systems=["icd10cm"])
    pneumonia = [s for s in inpatient["suggestions"] if s["code"].startswith("J18")]
    assert pneumonia and pneumonia[0]["evidence"][0]["assertion"] == "possible"
    assert not any(
        s["recommended"] for s in outpatient["suggestions"] if s["code"].startswith("J18")
    )


def test_a_heading_brings_its_default_code(client: TestClient) -> None:
    codes = [s["code"] for s in suggest(client, text="Type 2 diabetes mellitus.")["suggestions"]]
    assert codes.index("E11.9") < codes.index("E11")


def test_annotate_limits_candidates_per_mention(client: TestClient) -> None:
    response = client.post("/annotate", json={"text": NOTE, "max_candidates": 1})
    assert response.status_code == 200
    assert all(len(m["candidates"]) == 1 for m in response.json()["mentions"])
    refused = client.post("/annotate", json={"text": NOTE, "max_candidates": 0})
    assert refused.status_code == 422


def test_systems_the_model_was_not_trained_on_are_ranked_but_not_recommended(
    client: TestClient,
) -> None:
    note = "The patient was given a standard wheelchair."
    suggestions = suggest(client, text=note, systems=["hcpcs"])["suggestions"]
    assert "K0001" in [s["code"] for s in suggestions]
    assert {s["system"] for s in suggestions} == {"hcpcs"}
    assert not any(s["recommended"] for s in suggestions)
