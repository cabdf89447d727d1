"""Requests sent without pause from several threads, for tests that change the service
under load. Each answer keeps when its request started, so a test can tell the requests
sent after a change from those already under way when it happened."""

import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import NamedTuple


class Answer(NamedTuple):
    started: float
    status: int
    model_version: str | None


class RequestLoad:
    def __init__(self, ask: Callable[[], tuple[int, str | None]], threads: int = 3) -> None:
        self.ask = ask
        self.answers: list[Answer] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._keep_asking) for _ in range(threads)]

    def __enter__(self) -> "RequestLoad":
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def _keep_asking(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            status, version = self.ask()
            self.answers.append(Answer(started, status, version))

    def versions_after(self, moment: float, count: int = 3, timeout: float = 60) -> set[str | None]:
        """The model versions of the first `count` answers to requests started after
        `moment`, once they are back."""
        deadline = time.monotonic() + timeout
        while True:
            later = [a for a in list(self.answers) if a.started > moment]
            if len(later) >= count:
                return {a.model_version for a in later}
            assert time.monotonic() < deadline, "requests stopped coming back"
            time.sleep(0.01)
