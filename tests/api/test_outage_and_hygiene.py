"""The real service (`medcode serve`) on a PostgreSQL server of its own, through a database
outage and a shutdown, with a marker string in every note and every failing request:

- while the database is down, /suggest without storage keeps answering (the EHR's token
  is remembered), storage and review requests get 503 with Retry-After, and nothing a
  client was told is stored is lost; when the database returns the service recovers by
  itself;
- a stop (SIGTERM) lets the request in flight finish;
- the marker never appears in the process's output (logs, tracebacks) nor in an error body.
"""

import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from app.db import schema
from app.db.session import Database
from codes.catalog import Catalog
from models.artifacts import ArtifactStore
from tests.api.review_support import add_users
from tests.conftest import launch
from tests.databases import PostgresServer

pytestmark = pytest.mark.postgres

MARKER = "QX7-PATIENT-MARKER-5521"
NOTE = (
    f"Chief complaint: cough and fever. {MARKER} lives alone.\n"
    "Assessment: community-acquired pneumonia. Type 2 diabetes mellitus.\n"
)
ADMIN = "the-admin-token-of-the-outage-test"


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _refused(answer: httpx.Response, status: int) -> None:
    assert answer.status_code == status, answer.text
    assert MARKER not in answer.text


def _every_failure(base: str, tokens: dict[str, str], encounter_id: int) -> None:
    """Each way we know to make a request fail, with the marker in what it sends."""
    ehr, coder = _auth(tokens["feed"]), _auth(tokens["alice"])
    json_type = {"content-type": "application/json"}
    post = httpx.post
    _refused(post(f"{base}/suggest", content=f'{{"text": "{MARKER}'.encode(),
                  headers={**ehr, **json_type}), 422)  # fmt: skip
    _refused(post(f"{base}/suggest", json={"text": 5, "note_id": MARKER}, headers=ehr), 422)
    _refused(post(f"{base}/suggest", json={"text": NOTE, "bogus": MARKER}, headers=ehr), 422)
    _refused(post(f"{base}/suggest", json={"text": MARKER + "x" * 200_001}, headers=ehr), 422)
    _refused(post(f"{base}/suggest", json={"text": NOTE, "systems": [MARKER]}, headers=ehr), 422)
    _refused(post(f"{base}/suggest", content=NOTE.encode(), headers=ehr), 415)
    _refused(post(f"{base}/suggest", content=(NOTE * 5000).encode() * 30,
                  headers={**ehr, **json_type}), 413)  # fmt: skip
    _refused(post(f"{base}/suggest", json={"text": NOTE}), 401)
    _refused(post(f"{base}/suggest", json={"text": NOTE}, headers=_auth(MARKER)), 401)
    _refused(post(f"{base}/suggest", json={"text": NOTE}, headers=coder), 403)
    _refused(post(f"{base}/annotate", json={"text": NOTE}, headers=coder), 403)
    _refused(post(f"{base}/codes/validate", json={"codes": MARKER}, headers=coder), 422)
    review = f"{base}/api/review/encounters/{encounter_id}/review"
    body: dict[str, Any] = {"run_id": 1, "codes": [{"system": "icd10cm", "code": "J18.9"}],
                            "comment": MARKER}  # fmt: skip
    _refused(post(review, json=body, headers=coder), 428)
    _refused(post(review, json=body, headers={**coder, "If-Match": MARKER}), 400)
    _refused(post(review, json={**body, "codes": MARKER}, headers=coder), 422)
    login = post(f"{base}/review/login", data={"token": MARKER, "csrf_token": MARKER})
    assert login.status_code == 303 and MARKER not in login.text
    assert httpx.get(f"{base}/codes/search", params={"q": MARKER}, headers=coder).status_code == 200
    assert post(f"{base}/annotate", json={"text": NOTE}, headers=ehr).status_code == 200


def test_outage_shutdown_and_no_note_text_in_the_output(
    postgres: PostgresServer,
    catalog: Catalog,
    reader_dir: Path,
    model_store: ArtifactStore,
    tmp_path: Path,
) -> None:
    url = postgres.url(postgres.create_database())
    database = Database.from_url(url)
    schema.upgrade(database.engine)
    tokens = add_users(database)
    database.dispose()
    ehr, coder = _auth(tokens["feed"]), _auth(tokens["alice"])
    log = tmp_path / "server.log"
    env = {
        "MEDCODE_DATABASE_URL": url,
        "MEDCODE_ADMIN_TOKEN": ADMIN,
        "MEDCODE_LOG_LEVEL": "DEBUG",
        "MEDCODE_TOKEN_CACHE_SECONDS": "1",
        "MEDCODE_FAILED_AUTH_BURST": "1000",
        "MEDCODE_MODEL_POLL_SECONDS": "0",
    }
    process, base = launch(catalog.folder.parent, log, env)
    try:
        # The database is up: store two notes, review the first.
        first = _store(base, ehr, f"adm-{MARKER}-1")
        second = _store(base, ehr, f"adm-{MARKER}-2")
        done = _submit(base, coder, first)
        assert done.status_code == 201, done.text
        _every_failure(base, tokens, second)

        postgres.stop()
        time.sleep(1.5)  # past the token memory's freshness: the database must be asked
        plain = httpx.post(f"{base}/suggest", json={"text": NOTE}, headers=ehr, timeout=60)
        assert plain.status_code == 200 and plain.json()["suggestions"]
        for answer in (
            httpx.post(
                f"{base}/suggest", json={"text": NOTE, "store": True}, headers=ehr, timeout=60
            ),
            httpx.get(f"{base}/api/review/encounters", headers=coder),
            _submit(base, coder, second, version=1, run_id=2),
            httpx.post(f"{base}/suggest", json={"text": NOTE}, headers=_auth("never-seen")),
        ):
            _refused(answer, 503)
            assert answer.json()["error"] == "database_unavailable"
            assert int(answer.headers["Retry-After"]) >= 1

        postgres.start()
        deadline = time.monotonic() + 30
        while True:  # no restart: the pool's pre-ping finds the new server
            again = httpx.post(
                f"{base}/suggest", json={"text": NOTE, "store": True}, headers=ehr, timeout=60
            )
            if again.status_code == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert again.status_code == 200, again.text
        late = _submit(base, coder, second, version=1, run_id=2)
        assert late.status_code == 201, late.text
        queue = httpx.get(f"{base}/api/review/encounters", params={"status": "reviewed"},
                          headers=coder).json()  # fmt: skip
        assert {item["id"] for item in queue["items"]} == {first, second}

        _stop_during_a_request(process, base, ehr)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
    output = log.read_text(errors="replace")
    assert "database_unavailable" in output or "503" in output
    assert MARKER not in output


def _store(base: str, ehr: dict[str, str], external_id: str) -> int:
    answer = httpx.post(
        f"{base}/suggest",
        json={"text": NOTE, "store": True, "encounter_id": external_id, "setting": "inpatient"},
        headers=ehr,
        timeout=60,
    )
    assert answer.status_code == 200, answer.text
    return int(answer.json()["encounter_id"])


def _submit(
    base: str, coder: dict[str, str], encounter_id: int, version: int | None = None,
    run_id: int | None = None,
) -> httpx.Response:  # fmt: skip
    if version is None or run_id is None:
        view = httpx.get(f"{base}/api/review/encounters/{encounter_id}", headers=coder)
        assert view.status_code == 200, view.text
        version, run_id = view.json()["version"], view.json()["run"]["id"]
    body = {
        "run_id": run_id,
        "codes": [{"system": "icd10cm", "code": "J18.9", "source": "added"}],
        "comment": f"reviewed {MARKER}",
        "acknowledge_warnings": True,
    }
    return httpx.post(
        f"{base}/api/review/encounters/{encounter_id}/review",
        json=body,
        headers={**coder, "If-Match": f'"{version}"'},
        timeout=60,
    )


def _stop_during_a_request(
    process: subprocess.Popen[bytes], base: str, ehr: dict[str, str]
) -> None:
    """SIGTERM while a long note is being read: the answer still arrives, then it exits."""
    answers: list[httpx.Response] = []
    long_note = NOTE * 400
    reader = threading.Thread(
        target=lambda: answers.append(
            httpx.post(f"{base}/suggest", json={"text": long_note}, headers=ehr, timeout=120)
        )
    )
    reader.start()
    time.sleep(0.5)
    process.send_signal(signal.SIGTERM)
    reader.join(timeout=120)
    assert answers and answers[0].status_code == 200, answers[0].text if answers else "none"
    # uvicorn re-raises the signal once it has shut down gracefully.
    assert process.wait(timeout=60) in (0, -signal.SIGTERM)
