"""The retention limit: note text older than MEDCODE_RETENTION_DAYS is purged, codes and
decisions kept (`Repository.purge_note_text`). The service sweeps at start-up and then
every hour in a background thread; `medcode encounters purge` does the same on demand."""

import logging
import threading
from datetime import datetime, timedelta

from app.db.repository import Actor, Repository
from app.db.session import Database
from app.db.tables import Role, utcnow

logger = logging.getLogger(__name__)
RETENTION_ACTOR = Actor(user_id=None, name="medcode-retention", role=Role.ADMIN)
SWEEP_SECONDS = 3600.0


def purge_older_than(
    database: Database, days: int, actor: Actor = RETENTION_ACTOR, now: datetime | None = None
) -> int:
    """Purge the note text of encounters last received more than `days` days ago."""
    cutoff = (now or utcnow()) - timedelta(days=days)
    with database.session_scope() as session:
        purged = Repository(session).purge_note_text(cutoff, actor, now)
    if purged:
        logger.info("retention: note text of %d encounters older than %d days purged", purged, days)
    return purged


class RetentionSweeper:
    """Purges on start and every `interval` seconds until stopped; a failed sweep (the
    database away) is logged and tried again next time."""

    def __init__(self, database: Database, days: int, interval: float = SWEEP_SECONDS) -> None:
        self.database = database
        self.days = days
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="retention", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                purge_older_than(self.database, self.days)
            except Exception as exc:
                logger.warning("retention sweep failed: %s", type(exc).__name__)
            self._stop.wait(self.interval)
