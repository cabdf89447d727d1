from typing import Any

import pytest
from fastapi.testclient import TestClient


def get(client: TestClient, path: str, **params: Any) -> dict[str, Any]:
    response = client.get(path, params=params)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_an_icd10cm_code_with_its_parents_and_notes(client: TestClient) -> None:
    code = get(client, "/codes/icd10cm/i219")
    assert code["code"] == "I21.9"
    assert code["description"] == "Acute myocardial infarction, unspecified"
    assert code["billable"] is True
    assert [p["code"] for p in code["parents"]] == ["I21", "I20-I25", "9"]
    assert "Myocardial infarction (acute) NOS" in code["terms"]
    category = get(client, "/codes/icd10cm/I21")
    assert category["billable"] is False
    assert {n["kind"] for n in category["notes"]} >= {"includes", "excludes2"}


def test_a_code_missing_its_seventh_character_is_not_billable(client: TestClient) -> None:
    code = get(client, "/codes/icd10cm/S72.001")
    assert code["billable"] is False
    assert "7th character" in code["billable_reason"]
    assert "A=initial encounter for closed fracture" in code["attributes"]["seventh_character"]
    assert get(client, "/codes/icd10cm/S72.001A")["billable"] is True


def test_a_pcs_code_has_its_axes(client: TestClient) -> None:
    code = get(client, "/codes/icd10pcs/0dtj4zz")
    assert code["code"] == "0DTJ4ZZ"
    assert code["billable"] is True
    assert code["description"] == "Resection of Appendix, Percutaneous Endoscopic Approach"
    assert [p["code"] for p in code["parents"]] == ["0DTJ", "0DT"]


def test_hcpcs_and_imported_cpt_codes(client: TestClient) -> None:
    assert get(client, "/codes/hcpcs/E0601")["description"].startswith("Continuous positive")
    cpt = get(client, "/codes/cpt/1000Z")
    assert cpt["description"].startswith("Fixture procedure")


@pytest.mark.parametrize(
    ("path", "status", "fragment"),
    [
        ("/codes/icd10cm/Z99.999", 404, "not a ICD-10-CM code"),
        ("/codes/icd10pcs/0DTJ4ZY", 404, "not a ICD-10-PCS code"),
        ("/codes/hcpcs/E9999", 404, "HCPCS"),
        ("/codes/icd10cm/12345", 422, "not shaped like"),
        ("/codes/icd10pcs/0DTJ4Z", 404, "ICD-10-PCS"),
        ("/codes/hcpcs/xyz", 422, "not shaped like"),
        ("/codes/icd11/A00", 422, "icd10cm"),
    ],
)
def test_unknown_and_malformed_codes(
    client: TestClient, path: str, status: int, fragment: str
) -> None:
    response = client.get(path)
    assert response.status_code == status, response.text
    assert fragment in str(response.json()["detail"])


def test_search_by_code_prefix_and_by_words(client: TestClient) -> None:
    by_code = get(client, "/codes/search", system="icd10cm", q="I21", limit=5)["results"]
    assert [r["code"] for r in by_code][:2] == ["I21", "I21.0"]
    by_words = get(client, "/codes/search", q="diabetes type 2", limit=10)["results"]
    assert by_words[0]["code"] == "E11"
    assert "E11.9" in [r["code"] for r in by_words]
    pcs = get(client, "/codes/search", system="icd10pcs", q="appendectomy")["results"]
    assert {"0DBJ", "0DTJ"} <= {r["code"] for r in pcs}


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"q": ""},
        {"q": "fever", "limit": 0},
        {"q": "fever", "limit": 101},
        {"q": "fever", "system": "icd9"},
    ],
)
def test_search_refuses_bad_parameters(client: TestClient, params: dict[str, Any]) -> None:
    response = client.get("/codes/search", params=params)
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_request"


def test_validate_tells_billable_headers_unknown_and_malformed_apart(client: TestClient) -> None:
    response = client.post(
        "/codes/validate",
        json={"system": "icd10cm", "codes": ["i219", "I21", "S72.001", "Z99.999", "??"]},
    )
    assert response.status_code == 200
    assert [r["validity"] for r in response.json()["results"]] == [
        "billable",
        "valid_not_billable",
        "valid_not_billable",
        "invalid",
        "malformed",
    ]
    assert response.json()["results"][0]["code"] == "I21.9"


def test_health_and_readiness(client: TestClient) -> None:
    assert get(client, "/health") == {"status": "ok"}
    ready = get(client, "/ready")
    assert ready["status"] == "ready"
    assert ready["catalog"]["icd10pcs"] > 79_115
    assert ready["model_version"]


def test_openapi_documents_the_endpoints(client: TestClient) -> None:
    paths = get(client, "/openapi.json")["paths"]
    assert {
        "/suggest",
        "/annotate",
        "/codes/search",
        "/codes/{system}/{code}",
        "/health",
        "/ready",
    } <= set(paths)
