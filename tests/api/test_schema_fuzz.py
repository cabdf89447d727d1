"""Schemathesis against a running `medcode serve`: every operation its /openapi.json lists,
called over real HTTP with generated inputs (valid and invalid), never answers 5xx and
answers as documented: a listed status code, the listed content type, a body matching
the listed schema. As an admin user, as the admin token (which is no user), and without
a token (401 but for the probes and the review pages' sign-in). Generated inputs seldom
name a real code or a stored note's current version, so each operation is also called
once as a client that knows them would, and must succeed, checked the same way.

The server is this module's own (its own database and model registry), so what the
fuzzing changes (stored notes, claims, reviews, promoted models) is seen by no other test.
Runs are bounded and deterministic: a fixed seed, a fixed number of generated examples
per operation, and no Hypothesis example database.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx2 as httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.db import schema
from app.db.session import Database
from codes.catalog import Catalog
from models.artifacts import ArtifactStore
from tests.api.review_support import add_users
from tests.conftest import ADMIN_AUTH, publish, serve
from tests.unit.test_model_switching import copy_of
from training.train import TrainingResult

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
EXAMPLES = 20
ANONYMOUS_EXAMPLES = 5
CONFIG = schemathesis.Config.from_dict(
    {
        "seed": 20260101,
        "generation": {"max-examples": EXAMPLES, "deterministic": True, "database": "none"},
    }
)
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    # They judge how fast inputs are made and answered: on a shared machine, noise.
    suppress_health_check=list(HealthCheck),
)
# Paths anyone may call: the probes, the documentation and the review pages' sign-in.
PUBLIC = ("/health", "/ready", "/review/login", "/review/logout")
NOTES = (
    "Assessment: community-acquired pneumonia. Type 2 diabetes. Cough for 5 days.",
    "Essential hypertension. No chest pain.",
)
# A billable code, a category, a subcategory whose codes take a 7th character, and one of
# each other system (the CPT one from the test fixture).
CODES = [
    ("icd10cm", "J18.9"),
    ("icd10cm", "E11"),
    ("icd10cm", "S72.001"),
    ("icd10pcs", "0DTJ4ZZ"),
    ("hcpcs", "J1100"),
    ("cpt", "1000Z"),
]


@dataclass(frozen=True)
class Fuzzed:
    base: str
    admin_user: dict[str, str]  # the Authorization header of a user with the role admin


@pytest.fixture(scope="module")
def fuzzed_server(
    tmp_path_factory: pytest.TempPathFactory,
    catalog: Catalog,
    reader_dir: Path,
    trained: TrainingResult,
) -> Iterator[Fuzzed]:
    """`medcode serve` over the test catalog and reader, with a database and a registry of
    its own (two versions, one promoted), an admin user and a few stored notes."""
    var = tmp_path_factory.mktemp("fuzz")
    (var / "catalog").symlink_to(catalog.folder)
    (var / "lexicon").symlink_to(reader_dir)
    store = ArtifactStore(var / "models")
    first = publish(store, trained)
    store.promote(first.version)
    copy_of(store, first, "second")
    database = Database.from_url(f"sqlite:///{var / 'medcode.db'}")
    schema.upgrade(database.engine)
    tokens = add_users(database)
    database.dispose()
    server = serve(
        var,
        model_poll_seconds="0",
        # The fuzzer sends refused tokens far faster than any person would.
        failed_auth_per_minute="1000000",
        failed_auth_burst="100000",
    )
    base = next(server)
    try:
        for i, note in enumerate(NOTES):
            stored = httpx.post(
                f"{base}/suggest",
                json={"text": note, "store": True, "encounter_id": f"fuzz-{i}"},
                headers=ADMIN_AUTH,
                timeout=60,
            )
            assert stored.status_code == 200, stored.text
        yield Fuzzed(base, {"Authorization": f"Bearer {tokens['carol']}"})
    finally:
        server.close()


@pytest.fixture(scope="module")
def api_schema(fuzzed_server: Fuzzed) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{fuzzed_server.base}/openapi.json", config=CONFIG)


@pytest.fixture(autouse=True)
def _node_id_for_schemathesis(request: pytest.FixtureRequest) -> None:
    # schemathesis 4.32 names each operation's subtest by rewriting the item's `_nodeid`,
    # which pytest 9.2 no longer has (its node ids are `_id`): give it one to read back.
    request.node._nodeid = request.node.nodeid


api = schemathesis.pytest.from_fixture("api_schema")


def test_each_operation_succeeds_as_documented(
    api_schema: schemathesis.BaseSchema, fuzzed_server: Fuzzed
) -> None:
    """One request each that a client knowing real codes, versions and ids would send, in
    an order that lets each succeed (store a note, then claim, check and review it)."""
    called: set[str] = set()

    def call(method: str, path: str, status: int, **parts: object) -> schemathesis.Response:
        operation = api_schema[path][method]
        answer = operation.Case(**parts).call_and_validate(
            headers=fuzzed_server.admin_user, checks=CHECKS, timeout=60
        )
        assert answer.status_code == status, (operation.label, answer.text)
        called.add(operation.label)
        return answer

    call("GET", "/health", 200)
    call("GET", "/ready", 200)
    note = {"text": NOTES[0]}
    stored = call("POST", "/suggest", 200, body={**note, "store": True}).json()["stored"]
    call("POST", "/annotate", 200, body=note)
    call("GET", "/codes/search", 200, query={"q": "pneumonia"})
    codes = ["J18.9", "E11", "J18.99", "not a code"]
    call("POST", "/codes/validate", 200, body={"system": "icd10cm", "codes": codes})
    for system, code in CODES:
        call("GET", "/codes/{system}/{code}", 200, path_parameters={"system": system, "code": code})

    call("GET", "/admin/models", 200)
    call("POST", "/admin/models/{version}/promote", 200, path_parameters={"version": "latest"})
    call("POST", "/admin/models/rollback", 200)

    encounter = {"encounter_id": stored["encounter_id"]}
    call("GET", "/api/review/encounters", 200, query={"status": "new"})
    call("GET", "/api/review/encounters/{encounter_id}", 200, path_parameters=encounter)
    claimed = call(
        "POST", "/api/review/encounters/{encounter_id}/claim", 200, path_parameters=encounter
    ).json()
    final = [{"system": "icd10cm", "code": "J18.9"}]
    call(
        "POST",
        "/api/review/encounters/{encounter_id}/edits",
        200,
        path_parameters=encounter,
        body={"codes": final},
    )
    call(
        "POST",
        "/api/review/encounters/{encounter_id}/review",
        201,
        path_parameters=encounter,
        headers={"If-Match": f'"{claimed["version"]}"'},
        body={
            "run_id": stored["run_id"],
            "codes": [{**c, "source": "added"} for c in final],
            "acknowledge_warnings": True,
        },
    )
    call("DELETE", "/api/review/encounters/{encounter_id}/claim", 200, path_parameters=encounter)
    call("GET", "/api/review/analytics", 200)
    call("POST", "/review/login", 303)
    call("POST", "/review/logout", 303)

    # A new operation needs its own line above.
    listed = {result.ok().label for result in api_schema.get_all_operations()}
    assert called == listed


@pytest.fixture(scope="module", params=["admin user", "admin token"])
def admin_auth(request: pytest.FixtureRequest, fuzzed_server: Fuzzed) -> dict[str, str]:
    """Who may call every operation: a user with the role admin, or the admin token
    (MEDCODE_ADMIN_TOKEN), which is no user."""
    return fuzzed_server.admin_user if request.param == "admin user" else ADMIN_AUTH


# The mark makes pytest run the test once per admin: the schema's test finds the fixture.
@pytest.mark.usefixtures("admin_auth")
@api.parametrize()
@FUZZ_SETTINGS
def test_every_operation_answers_as_documented(
    case: schemathesis.Case, admin_auth: dict[str, str]
) -> None:
    case.call_and_validate(headers=admin_auth, checks=CHECKS, timeout=60)


@api.parametrize()
@settings(FUZZ_SETTINGS, max_examples=ANONYMOUS_EXAMPLES)
def test_without_a_token_only_public_paths_answer(case: schemathesis.Case) -> None:
    answer = case.call_and_validate(checks=CHECKS, timeout=60)
    if case.path not in PUBLIC:
        assert answer.status_code == 401, answer.text
        assert answer.json()["error"] == "unauthorized"


@pytest.mark.parametrize(
    "query",
    [
        "/api/review/analytics?submitted_to=0001-01-01",
        "/api/review/analytics?submitted_from=9999-12-31&submitted_to=9999-12-31",
        "/api/review/encounters?received_to=9999-12-31",
        "/api/review/encounters?received_from=0001-01-01",
    ],
)
def test_the_calendars_first_and_last_days_are_days_like_others(
    fuzzed_server: Fuzzed, query: str
) -> None:
    # Found by the fuzzing: a window computed past either end of the calendar was a 500.
    answer = httpx.get(f"{fuzzed_server.base}{query}", headers=fuzzed_server.admin_user)
    assert answer.status_code == 200, answer.text
