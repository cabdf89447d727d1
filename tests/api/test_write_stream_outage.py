"""The real service (`medcode serve`) on a PostgreSQL server of its own, stopped while a
stream of requests is under way, once with a fast shutdown (sessions are told and rolled
back) and once with an immediate one (a crash: recovery replays the WAL), then started
again each time; the service is not restarted.

Two EHR feeds store notes (POST /suggest with store, each note under an external id of
its own, reposted after a refusal as an EHR would), two coders claim and submit reviews
of what was stored with If-Match, and one caller asks /suggest without storing. Every
answer is recorded, and the test checks:

- /suggest without storing answers 200 throughout (the token is remembered while the
  database is down);
- every refusal is 503 database_unavailable with Retry-After: no other error, no
  dropped connection;
- writes are acknowledged before each outage, refused during it and acknowledged after
  it, and none is acknowledged while the server is down;
- every acknowledged write is in the database afterwards: each stored note with its run
  and the suggestions that were answered, each review with its final codes;
- nothing is stored twice for one acknowledged request. A refused write may still have
  been committed (the connection dropped after COMMIT reached the server): a repost of
  the note then adds a run of the same text, and a resubmitted review gets 409
  stale_version. Those are counted and allowed, never more than the refusals.
"""

import logging
import threading
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from sqlalchemy import select, text

from app.db import schema
from app.db.session import Database
from app.db.tables import Encounter, Review, SuggestionRun
from codes.catalog import Catalog
from models.artifacts import ArtifactStore
from tests.api.review_support import add_users
from tests.conftest import launch
from tests.databases import PostgresServer

pytestmark = pytest.mark.postgres

logger = logging.getLogger(__name__)

NOTE = (
    "Chief complaint: cough and fever.\n"
    "Assessment: community-acquired pneumonia. Type 2 diabetes mellitus.\n"
)
FEEDS = ("feed1", "feed2")  # callers; both use the EHR user's token
CODERS = ("alice", "bob")
PLAIN = "plain"
MODES = ("fast", "immediate")  # pg_ctl stop -m
# Retry-After says 5 s; the clients come back sooner so the test stays short.
BACKOFF_SECONDS = 0.3
READING_SECONDS = 0.3  # a coder's time between claim and submit
DOWN_SECONDS = 2.0  # at least this long down, and until every client was refused
PHASE_SECONDS = 60.0  # the longest wait for a phase's condition
CODE_SETS = (
    (("icd10cm", "J18.9"),),
    (("icd10cm", "J18.9"), ("icd10cm", "E11.9")),
)
WRITES = ("store", "claim", "submit")


@dataclass(frozen=True)
class Answer:
    caller: str
    kind: str  # store, claim, submit or plain
    key: str  # the external id or encounter id it was about
    started: float
    ended: float
    status: int | None  # None: no answer at all (a transport error)
    error: str  # the body's "error", or the transport error's name
    retry_after: str | None

    @property
    def acknowledged(self) -> bool:
        return self.status == {"store": 200, "claim": 200, "submit": 201}.get(self.kind)

    @property
    def refused(self) -> bool:
        return self.status == 503 and self.error == "database_unavailable"


@dataclass(frozen=True)
class Stored:
    external_id: str
    text: str = field(repr=False)
    encounter_id: int
    run_id: int
    version: int
    codes: tuple[tuple[str, str], ...] = field(repr=False)  # the suggestions answered


@dataclass(frozen=True)
class Reviewed:
    coder: str
    encounter_id: int
    run_id: int
    version: int  # the If-Match sent
    review_id: int | None  # None: refused, then 409 on the resubmit (it had been committed)
    codes: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Outage:
    mode: str
    stopping: float  # pg_ctl stop called
    down: float  # ... and returned: the server is gone
    starting: float  # pg_ctl start called
    up: float  # ... and returned


class Stream:
    """The clients' shared record: every answer, the writes acknowledged, each coder's
    backlog of stored encounters to review."""

    def __init__(self, base: str, tokens: dict[str, str]) -> None:
        self.base = base
        self.tokens = tokens
        self.done = threading.Event()
        self.server_down = threading.Event()
        self.crashes: list[str] = []
        self._lock = threading.Lock()
        self.answers: list[Answer] = []
        self.stored: list[Stored] = []
        self.reviewed: list[Reviewed] = []
        self.backlog: dict[str, deque[Stored]] = {coder: deque() for coder in CODERS}

    # --- the clients -----------------------------------------------------------------------

    def threads(self) -> list[threading.Thread]:
        targets: list[tuple[str, Callable[[str], None]]] = [
            *((feed, self._feed) for feed in FEEDS),
            *((coder, self._coder) for coder in CODERS),
            (PLAIN, self._plain),
        ]
        return [
            threading.Thread(target=self._run, args=(target, caller), name=caller)
            for caller, target in targets
        ]

    def _run(self, target: Callable[[str], None], caller: str) -> None:
        try:
            target(caller)
        except Exception as exc:  # the test fails on it, after stopping the others
            with self._lock:
                self.crashes.append(f"{caller}: {exc!r}")

    def _client(self, user: str) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.tokens[user]}"}
        return httpx.Client(base_url=self.base, headers=headers, timeout=60)

    def _feed(self, caller: str) -> None:
        number = 0
        with self._client("feed") as client:
            while not self.done.is_set():
                number += 1
                external_id = f"{caller}-note{number}"
                note = f"{NOTE}Visit {external_id}.\n"
                body = {"text": note, "store": True, "encounter_id": external_id}
                while not self.done.is_set():  # reposted until acknowledged
                    answer, response = self._call(
                        client, caller, "store", external_id, "/suggest", body
                    )
                    if answer.acknowledged and response is not None:
                        self._keep(external_id, note, response.json())
                        break
                    self._back_off()

    def _keep(self, external_id: str, note: str, body: dict[str, Any]) -> None:
        stored = Stored(
            external_id=external_id,
            text=note,
            encounter_id=body["stored"]["encounter_id"],
            run_id=body["stored"]["run_id"],
            version=body["stored"]["version"],
            codes=tuple((s["system"], s["code"]) for s in body["suggestions"]),
        )
        with self._lock:
            self.stored.append(stored)
            self.backlog[CODERS[stored.encounter_id % len(CODERS)]].append(stored)

    def _coder(self, coder: str) -> None:
        with self._client(coder) as client:
            while not self.done.is_set():
                # One encounter is kept in reserve until the server is down, so every coder
                # has work to send then, whatever the pace of the feeds.
                with self._lock:
                    waiting = self.backlog[coder]
                    ready = len(waiting) > 1 or (len(waiting) == 1 and self.server_down.is_set())
                    work = waiting.popleft() if ready else None
                if work is None:
                    self.done.wait(0.05)
                elif self._claim(client, coder, work):
                    self.done.wait(READING_SECONDS)
                    self._submit(client, coder, work)

    def _claim(self, client: httpx.Client, coder: str, work: Stored) -> bool:
        path = f"/api/review/encounters/{work.encounter_id}/claim"
        while not self.done.is_set():
            answer, _ = self._call(client, coder, "claim", str(work.encounter_id), path, None)
            if answer.acknowledged:
                return True
            if not answer.refused:
                return False  # recorded: the test fails on it
            self._back_off()
        return False

    def _submit(self, client: httpx.Client, coder: str, work: Stored) -> None:
        codes = CODE_SETS[work.encounter_id // len(CODERS) % len(CODE_SETS)]
        body = {
            "run_id": work.run_id,
            "codes": [{"system": s, "code": c, "source": "added"} for s, c in codes],
            "comment": f"reviewed by {coder}",
            "acknowledge_warnings": True,
        }
        path = f"/api/review/encounters/{work.encounter_id}/review"
        if_match = {"If-Match": f'"{work.version}"'}
        refused_before = False
        while not self.done.is_set():
            answer, response = self._call(
                client, coder, "submit", str(work.encounter_id), path, body, if_match
            )
            if answer.acknowledged and response is not None:
                self._reviewed(coder, work, response.json()["review_id"], codes)
                return
            if answer.status == 409 and refused_before:
                # Only this coder reviews this encounter, and its note is not reposted once
                # acknowledged: the version moved on because a refused submit was committed.
                self._reviewed(coder, work, None, codes)
                return
            if not answer.refused:
                return  # recorded: the test fails on it
            refused_before = True
            self._back_off()

    def _reviewed(
        self, coder: str, work: Stored, review_id: int | None, codes: tuple[tuple[str, str], ...]
    ) -> None:
        done = Reviewed(coder, work.encounter_id, work.run_id, work.version, review_id, codes)
        with self._lock:
            self.reviewed.append(done)

    def _plain(self, caller: str) -> None:
        with self._client("feed") as client:
            while not self.done.is_set():
                self._call(client, caller, "plain", "", "/suggest", {"text": NOTE})
                self.done.wait(0.1)

    def _back_off(self) -> None:
        self.done.wait(BACKOFF_SECONDS)

    def _call(
        self,
        client: httpx.Client,
        caller: str,
        kind: str,
        key: str,
        path: str,
        body: dict[str, Any] | None,
        headers: dict[str, str] | None = None,
    ) -> tuple[Answer, httpx.Response | None]:
        """POST, recording the answer."""
        started = time.monotonic()
        response: httpx.Response | None = None
        try:
            response = client.post(path, json=body, headers=headers)
        except httpx.TransportError as exc:
            status, error, retry_after = None, type(exc).__name__, None
        else:
            status, error = response.status_code, ""
            retry_after = response.headers.get("Retry-After")
            if status >= 400:
                try:
                    error = str(response.json().get("error"))
                except ValueError:
                    error = "no JSON body"
        answer = Answer(caller, kind, key, started, time.monotonic(), status, error, retry_after)
        with self._lock:
            self.answers.append(answer)
        return answer, response

    # --- what the test waits for -----------------------------------------------------------

    def count(self, callers: tuple[str, ...], since: float, what: Callable[[Answer], bool]) -> int:
        """The fewest answers of one of `callers`, sent since `since`, that are `what`."""
        with self._lock:
            found = Counter(a.caller for a in self.answers if a.started >= since and what(a))
        return min(found[caller] for caller in callers)

    def wait_until(self, ready: Callable[[], bool], what: str, at_least: float = 0.0) -> None:
        started = time.monotonic()
        while time.monotonic() - started < at_least or not ready():
            if self.crashes:
                pytest.fail(f"a client failed: {self.crashes}")
            if time.monotonic() - started > PHASE_SECONDS:
                pytest.fail(f"not within {PHASE_SECONDS:.0f} s: {what}; {self.summary([])}")
            time.sleep(0.1)

    def working(self, since: float) -> bool:
        """Every feed and coder had a write acknowledged since `since`, and every coder
        has an encounter in reserve."""
        with self._lock:
            waiting = min(len(self.backlog[coder]) for coder in CODERS)
        return (
            self.count(FEEDS, since, lambda a: a.kind == "store" and a.acknowledged) >= 2
            and self.count(CODERS, since, lambda a: a.kind == "submit" and a.acknowledged) >= 1
            and waiting >= 1
        )

    def refused_everyone(self, since: float) -> bool:
        return self.count((*FEEDS, *CODERS), since, lambda a: a.refused) >= 1

    def summary(self, outages: list[Outage]) -> str:
        """Answers counted by phase, kind and outcome."""
        with self._lock:
            answers = list(self.answers)
        counts: Counter[tuple[str, str, str]] = Counter()
        for answer in answers:
            outcome = (
                "acknowledged"
                if answer.acknowledged or (answer.kind == "plain" and answer.status == 200)
                else "refused"
                if answer.refused
                else f"{answer.status} {answer.error}"
            )
            counts[(_phase(answer, outages), answer.kind, outcome)] += 1
        return "; ".join(f"{p} {k} {o}: {n}" for (p, k, o), n in sorted(counts.items()))


def _phase(answer: Answer, outages: list[Outage]) -> str:
    """before, down (mode), after (mode) or across (a boundary was crossed in flight)."""
    if not outages or answer.ended <= outages[0].stopping:
        return "0 before"
    for number, outage in enumerate(outages, start=1):
        following = outages[number].stopping if number < len(outages) else float("inf")
        if answer.started >= outage.down and answer.ended <= outage.starting:
            return f"{number} down ({outage.mode})"
        if answer.started >= outage.up and answer.ended <= following:
            return f"{number} after ({outage.mode})"
    return "~ across"


def _database(server: PostgresServer) -> tuple[str, dict[str, str]]:
    """A migrated database of its own, committing as a production server does; its URL
    and the users' tokens.

    The test server runs with synchronous_commit off, for speed: a crash then loses the
    last commits it acknowledged, by that setting's design (with it off, this test has
    seen an acknowledged note lost on the immediate stop). This database turns it on.
    """
    name = server.create_database()
    url = server.url(name)
    database = Database.from_url(url, isolation_level="AUTOCOMMIT")
    with database.engine.connect() as connection:
        connection.execute(text(f"ALTER DATABASE {name} SET synchronous_commit = on"))
    database.dispose()
    database = Database.from_url(url)
    schema.upgrade(database.engine)
    tokens = add_users(database)
    database.dispose()
    return url, tokens


def _outage(server: PostgresServer, mode: str, stream: Stream) -> Outage:
    """Stop the server, wait until every feed and coder was refused, start it again."""
    stopping = time.monotonic()
    server.run("pg_ctl", "-D", str(server.data), "-m", mode, "-w", "stop")
    down = time.monotonic()
    stream.server_down.set()
    stream.wait_until(
        lambda: stream.refused_everyone(down),
        f"every feed and coder refused while the server is down ({mode})",
        at_least=DOWN_SECONDS,
    )
    stream.server_down.clear()
    starting = time.monotonic()
    server.start()
    return Outage(mode, stopping, down, starting, time.monotonic())


def test_every_acknowledged_write_survives_a_database_stop_under_load(
    postgres: PostgresServer,
    catalog: Catalog,
    reader_dir: Path,
    model_store: ArtifactStore,
    tmp_path: Path,
) -> None:
    url, tokens = _database(postgres)
    env = {
        "MEDCODE_DATABASE_URL": url,
        # Tokens are checked with the database every second, so the checks meet the outage.
        "MEDCODE_TOKEN_CACHE_SECONDS": "1",
        "MEDCODE_MODEL_POLL_SECONDS": "0",
    }
    process, base = launch(catalog.folder.parent, tmp_path / "server.log", env)
    stream = Stream(base, tokens)
    threads = stream.threads()
    outages: list[Outage] = []
    began = time.monotonic()
    try:
        for thread in threads:
            thread.start()
        since = began
        for mode in MODES:
            stream.wait_until(partial(stream.working, since), "writes acknowledged, work waiting")
            outages.append(_outage(postgres, mode, stream))
            since = outages[-1].up
        stream.wait_until(partial(stream.working, since), "writes acknowledged after the outage")
    finally:
        stream.done.set()
        for thread in threads:
            thread.join(timeout=90)
        process.terminate()
        process.wait(timeout=60)
    summary = stream.summary(outages)
    logger.info("stream of %.1f s: %s", time.monotonic() - began, summary)
    assert not stream.crashes
    _check_answers(stream, outages, summary)
    _check_database(url, stream)


def _check_answers(stream: Stream, outages: list[Outage], summary: str) -> None:
    answers = stream.answers
    plain = [a for a in answers if a.kind == "plain"]
    assert plain, summary
    assert all(a.status == 200 for a in plain), summary
    # A resubmit gets 409 when the refused submit before it had been committed.
    committed_anyway = {str(r.encounter_id) for r in stream.reviewed if r.review_id is None}
    odd = [
        a
        for a in answers
        if a.kind in WRITES
        and not (a.acknowledged or a.refused)
        and not (a.kind == "submit" and a.status == 409 and a.key in committed_anyway)
    ]
    assert not odd, f"{odd[:5]}; {summary}"
    assert all(a.retry_after and int(a.retry_after) >= 1 for a in answers if a.refused)

    def down(a: Answer, outage: Outage) -> bool:
        return a.started >= outage.down and a.ended <= outage.starting

    acknowledged = [a for a in answers if a.kind in WRITES and a.acknowledged]
    assert not [a for a in acknowledged if any(down(a, o) for o in outages)], summary
    for kind in ("store", "submit"):
        assert [a for a in acknowledged if a.kind == kind and a.ended <= outages[0].stopping]
    for outage in outages:
        refused = [a for a in answers if a.refused and down(a, outage)]
        assert {a.caller for a in refused} == {*FEEDS, *CODERS}, summary
        for kind in ("store", "submit"):
            assert [a for a in acknowledged if a.kind == kind and a.started >= outage.up]


def _check_database(url: str, stream: Stream) -> None:
    """Every acknowledged write is there, once; what else is there was sent and refused."""
    attempts = Counter(a.key for a in stream.answers if a.kind == "store")
    texts = {s.external_id: s.text for s in stream.stored}
    database = Database.from_url(url)
    try:
        with database.session_scope() as session:
            encounters = {e.external_id: e for e in session.scalars(select(Encounter))}
            runs: defaultdict[int, list[SuggestionRun]] = defaultdict(list)
            for run in session.scalars(select(SuggestionRun).order_by(SuggestionRun.id)):
                runs[run.encounter_id].append(run)
            reviews: defaultdict[int, list[Review]] = defaultdict(list)
            for review in session.scalars(select(Review).order_by(Review.id)):
                reviews[review.encounter_id].append(review)

            for stored in stream.stored:
                encounter = encounters.get(stored.external_id)
                assert encounter is not None, f"acknowledged, not stored: {stored}"
                assert encounter.id == stored.encounter_id
                its_runs = {run.id: run for run in runs[encounter.id]}
                assert stored.run_id in its_runs, f"acknowledged run not stored: {stored}"
                suggested = its_runs[stored.run_id].suggestions
                assert tuple((s["system"], s["code"]) for s in suggested) == stored.codes
                # The acknowledged run is the last; a run before it is a refused repost
                # that was committed all the same: the version counts them all.
                assert stored.run_id == max(its_runs)
                assert stored.version == len(its_runs)
            for external_id, encounter in encounters.items():
                assert external_id is not None and external_id in attempts, external_id
                kept = runs[encounter.id]
                acknowledged = 1 if external_id in texts else 0
                refused = attempts[external_id] - acknowledged
                assert 1 <= len(kept) <= refused + acknowledged, external_id
                assert all(run.note_text == kept[0].note_text for run in kept)
                if external_id in texts:
                    assert kept[0].note_text == texts[external_id]
                assert encounter.version == len(kept) + len(reviews.get(encounter.id, []))

            submitted = {str(r.encounter_id) for r in stream.reviewed}
            for done in stream.reviewed:
                found = reviews.get(done.encounter_id, [])
                assert len(found) == 1, f"acknowledged review stored {len(found)} times: {done}"
                review = found[0]
                if done.review_id is not None:
                    assert review.id == done.review_id
                assert review.coder.name == done.coder
                assert review.run_id == done.run_id
                assert review.encounter_version == done.version
                assert tuple((c.system, c.code) for c in review.codes) == done.codes
            refused_submits = {a.key for a in stream.answers if a.kind == "submit" and a.refused}
            for encounter_id, found in reviews.items():
                assert len(found) == 1, f"encounter {encounter_id} reviewed {len(found)} times"
                assert str(encounter_id) in submitted | refused_submits
    finally:
        database.dispose()
    extra_runs = sum(len(r) for r in runs.values()) - len(encounters)
    unacknowledged = len(encounters) - len(texts)
    reviews_anyway = len(reviews) - sum(1 for r in stream.reviewed if r.review_id is not None)
    logger.info(
        "database: %d encounters (%d acknowledged), %d reviews (%d acknowledged); refused but"
        " committed: %d reposted runs, %d encounters never acknowledged, %d reviews",
        len(encounters),
        len(texts),
        len(reviews),
        len(stream.reviewed),
        extra_runs,
        unacknowledged,
        reviews_anyway,
    )
