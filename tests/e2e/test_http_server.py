"""The installed `medcode serve` over real HTTP, as an EHR would call it."""

import json

import httpx2 as httpx

from tests.conftest import ADMIN_AUTH

JSON = {"content-type": "application/json"}


def test_suggest_over_http(server: str) -> None:
    note = "Assessment:\r\n\tEssential hypertension.\r\nNo pneumonia."
    response = httpx.post(
        f"{server}/suggest", json={"text": note, "note_id": "e2e"}, headers=ADMIN_AUTH, timeout=30
    )
    assert response.status_code == 200
    body = response.json()
    assert body["note_id"] == "e2e"
    top = body["suggestions"][0]
    assert top["code"] == "I10"
    for e in top["evidence"]:
        assert note[e["start"] : e["end"]] == e["text"]


def test_bad_requests_over_http_are_4xx_with_a_json_reason(server: str) -> None:
    broken = httpx.post(f"{server}/suggest", content=b"{not json", headers={**ADMIN_AUTH, **JSON})
    assert broken.status_code == 422 and broken.json()["error"] == "invalid_request"
    text_plain = httpx.post(f"{server}/suggest", content=b"hello", headers=ADMIN_AUTH)
    assert text_plain.status_code == 415
    big = httpx.post(
        f"{server}/suggest",
        content=json.dumps({"text": "a" * 10}).encode() + b" " * 5_000_000,
        headers={**ADMIN_AUTH, **JSON},
    )
    assert big.status_code == 413
    anonymous = httpx.post(f"{server}/suggest", json={"text": "pneumonia"})
    assert anonymous.status_code == 401 and anonymous.json()["error"] == "unauthorized"


def test_docs_and_health_over_http(server: str) -> None:
    assert httpx.get(f"{server}/health").json() == {"status": "ok"}
    assert httpx.get(f"{server}/docs").status_code == 200
