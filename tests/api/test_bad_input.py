from typing import Any

import pytest
from fastapi.testclient import TestClient


def assert_clear_error(response: Any, status: int, fragment: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "detail"}
    assert fragment in str(body["detail"]), body


@pytest.mark.parametrize("path", ["/suggest", "/annotate"])
@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({}, "'text'"),
        ({"text": ""}, "at least 1 character"),
        ({"text": " \n\t "}, "only whitespace"),
        ({"text": "x" * 200_001}, "at most 200000 characters"),
        ({"text": 123}, "valid string"),
        ({"text": ["a"]}, "valid string"),
        ({"text": "fever", "systems": ["icd9"]}, "icd10cm"),
        ({"text": "fever", "systems": "icd10cm"}, "valid list"),
        ({"text": "fever", "systems": []}, "at least 1 item"),
        ({"text": "fever", "setting": "home"}, "inpatient"),
        ({"text": "fever", "note_id": 5}, "valid string"),
        ({"text": "fever", "colour": "red"}, "Extra inputs"),
    ],
)
def test_bad_bodies_get_a_422_that_names_the_problem(
    client: TestClient, path: str, body: dict[str, Any], fragment: str
) -> None:
    assert_clear_error(client.post(path, json=body), 422, fragment)


@pytest.mark.parametrize(
    ("limit", "fragment"),
    [
        (0, "greater than or equal to 1"),
        (1001, "less than or equal to 1000"),
        ("5", "valid integer"),
        (True, "valid integer"),
        (2.5, "valid integer"),
    ],
)
def test_limit_out_of_range_or_of_the_wrong_type(
    client: TestClient, limit: Any, fragment: str
) -> None:
    assert_clear_error(
        client.post("/suggest", json={"text": "fever", "limit": limit}), 422, fragment
    )


def test_exactly_the_maximum_text_is_accepted(client: TestClient) -> None:
    assert client.post("/suggest", json={"text": "a" * 200_000}).status_code == 200


def test_malformed_json_is_a_422(client: TestClient) -> None:
    response = client.post(
        "/suggest", content=b'{"text": "fever",', headers={"content-type": "application/json"}
    )
    assert_clear_error(response, 422, "JSON")


def test_a_body_that_is_not_an_object_is_a_422(client: TestClient) -> None:
    assert_clear_error(client.post("/suggest", json=["fever"]), 422, "valid dictionary")


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_wrong_content_type_is_a_415(client: TestClient, content_type: str | None) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = client.post("/suggest", content=b'{"text": "fever"}', headers=headers)
    assert_clear_error(response, 415, "application/json")


def test_a_huge_body_is_refused_before_it_is_read(client: TestClient) -> None:
    response = client.post(
        "/suggest", content=b"x" * 5_000_000, headers={"content-type": "application/json"}
    )
    assert_clear_error(response, 413, "bytes")


def test_a_huge_streamed_body_is_refused(client: TestClient) -> None:
    def chunks():  # type: ignore[no-untyped-def]
        for _ in range(50):
            yield b"x" * 100_000

    response = client.post(
        "/suggest", content=chunks(), headers={"content-type": "application/json"}
    )
    assert_clear_error(response, 413, "bytes")


def test_unknown_paths_and_methods_use_the_same_error_shape(client: TestClient) -> None:
    assert_clear_error(client.get("/nope"), 404, "Not Found")
    assert_clear_error(client.get("/suggest"), 405, "Method Not Allowed")
