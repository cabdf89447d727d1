"""Intake: /suggest with store: true keeps the encounter and its suggestion run, once per
posted version, for the token roles that may store; on SQLite and PostgreSQL."""

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.db.repository import Repository
from app.db.session import Database
from app.db.tables import Role
from app.main import create_app
from app.services.suggest import SuggestService

NOTE = "Assessment: community-acquired pneumonia. Essential hypertension."


@pytest.fixture
def client(settings: Settings, service: SuggestService, database: Database) -> Iterator[TestClient]:
    with TestClient(create_app(settings, service, database)) as test_client:
        yield test_client


def token_for(database: Database, name: str, role: Role) -> str:
    with database.session_scope() as session:
        repository = Repository(session)
        return repository.create_token(repository.add_user(name, role))[1]


def post(client: TestClient, token: str | None, **body: Any) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.post("/suggest", json={"text": NOTE, **body}, headers=headers)


def test_a_stored_note_becomes_an_encounter_with_its_run(
    client: TestClient, database: Database
) -> None:
    token = token_for(database, "ehr-feed", Role.EHR)
    first = post(client, token, store=True, encounter_id="enc-1", setting="inpatient")
    assert first.status_code == 200, first.text
    answer = first.json()
    stored = answer["stored"]
    assert answer["encounter_id"] == stored["encounter_id"]
    assert (stored["external_id"], stored["version"]) == ("enc-1", 1)
    with database.session_scope() as session:
        repository = Repository(session)
        encounter = repository.encounter(stored["encounter_id"])
        run = repository.latest_run(encounter.id)
        assert encounter.setting == "inpatient" and encounter.note_text == NOTE
        # The run holds the ranked list exactly as the EHR received it.
        assert run.suggestions == answer["suggestions"]
        assert run.model_version == answer["model_version"]
        actions = [a.action for a in repository.audit_timeline(encounter.id)]
        assert actions == ["encounter.store"]

    again = post(client, token, store=True, encounter_id="enc-1", text=NOTE + " Cough.")
    assert again.status_code == 200, again.text
    second = again.json()["stored"]
    assert second["encounter_id"] == stored["encounter_id"] and second["version"] == 2
    with database.session_scope() as session:
        runs = Repository(session).runs(stored["encounter_id"])
        assert [r.note_text for r in runs] == [NOTE, NOTE + " Cough."]  # nothing overwritten


def test_without_store_nothing_is_kept(client: TestClient, database: Database) -> None:
    assert post(client, token_for(database, "ehr-feed", Role.EHR)).status_code == 200
    with database.session_scope() as session:
        assert Repository(session).queue()[1] == 0


@pytest.mark.parametrize(
    ("role", "status"), [(None, 401), (Role.CODER, 403), (Role.EHR, 200), (Role.ADMIN, 200)]
)
def test_only_ehr_and_admin_tokens_may_store(
    client: TestClient, database: Database, role: Role | None, status: int
) -> None:
    token = token_for(database, "someone", role) if role else None
    response = post(client, token, store=True)
    assert response.status_code == status, response.text
    if status != 200:
        assert response.json()["error"] in {"unauthorized", "forbidden"}
        assert NOTE not in response.text
        with database.session_scope() as session:
            assert Repository(session).queue()[1] == 0


def test_an_encounter_id_without_store_is_refused(client: TestClient, database: Database) -> None:
    response = post(client, token_for(database, "ehr-feed", Role.EHR), encounter_id="enc-9")
    assert response.status_code == 422
    assert "store" in response.text
