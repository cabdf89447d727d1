"""Notes are read one at a time per worker (app/services/suggest.py): requests in flight
wait their turn instead of sharing the interpreter lock, so none waits behind all others."""

import threading
import time
from types import SimpleNamespace
from typing import Any

from app.services.suggest import SuggestService


class RecordingSuggester:
    """Counts how many suggests run at once."""

    def __init__(self) -> None:
        self.running = 0
        self.most = 0
        self._lock = threading.Lock()

    def suggest(self, *_: Any) -> list[Any]:
        with self._lock:
            self.running += 1
            self.most = max(self.most, self.running)
        time.sleep(0.02)
        with self._lock:
            self.running -= 1
        return []


def test_notes_are_read_one_at_a_time() -> None:
    suggester = RecordingSuggester()
    catalog = SimpleNamespace(systems=("icd10cm",))
    models = SimpleNamespace(active=SimpleNamespace(model=None, version="m1"))
    service = SuggestService(catalog, None, models, suggester)  # type: ignore[arg-type]
    threads = [
        threading.Thread(target=service.suggest, args=("fever", None, 5, None)) for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert suggester.most == 1
