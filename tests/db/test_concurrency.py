"""Two coders submit the same encounter at the same version at the same moment: the
database lets exactly one win, on SQLite and on PostgreSQL."""

import threading

from app.db.repository import Actor, FinalCode, Repository, StaleVersionError
from app.db.session import Database
from tests.db.helpers import NOW, add_user, store


def test_exactly_one_of_two_simultaneous_submits_wins(database_url: str) -> None:
    setup = Database.from_url(database_url)
    coders = [add_user(setup, "alice"), add_user(setup, "bob")]
    encounter, run = store(setup)
    setup.dispose()

    barrier = threading.Barrier(2, timeout=30)
    outcomes: dict[str, object] = {}

    def submit(coder: Actor) -> None:
        database = Database.from_url(database_url)  # its own engine, its own connection
        try:
            with database.session_scope() as session:
                repo = Repository(session)
                repo.encounter(encounter.id)  # both have read version 1
                barrier.wait()
                review = repo.submit_review(
                    encounter.id, 1, coder, run.id, [FinalCode("icd10cm", "J18.9")], now=NOW
                )
                outcomes[coder.name] = review.id
        except StaleVersionError as exc:
            outcomes[coder.name] = exc
        except Exception as exc:  # reported by the assertions below, not lost in a thread
            outcomes[coder.name] = exc
        finally:
            database.dispose()

    threads = [threading.Thread(target=submit, args=(c,)) for c in coders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    winners = [v for v in outcomes.values() if isinstance(v, int)]
    stale = [v for v in outcomes.values() if isinstance(v, StaleVersionError)]
    assert len(winners) == 1 and len(stale) == 1, outcomes
    assert stale[0].current == 2

    check = Database.from_url(database_url)
    with check.session_scope() as session:
        repo = Repository(session)
        assert [r.id for r in repo.reviews(encounter.id)] == winners
        assert repo.encounter(encounter.id).version == 2
        assert [e.action for e in repo.audit_timeline(encounter.id)].count("review.submit") == 1
    check.dispose()
