"""Which model the service answers with, and switching it without a restart.

Requests take `switchboard.active` once, at their start, and use that model to the end:
a switch loads and verifies the new model first, then replaces the reference in one
assignment, so no request is dropped or sees half of each model. A failed load leaves
the served model as it was.

Other processes (`medcode models promote`, another uvicorn worker's admin call) change
the registry file; a watcher thread notices its change and loads the newly promoted model.
"""

import logging
import threading
from dataclasses import dataclass
from typing import Any

from models.artifacts import REGISTRY_FILE, ArtifactInfo, ArtifactNotFoundError, ArtifactStore
from models.ranker_model import RankerModel, load_artifact

logger = logging.getLogger(__name__)


class NoModelError(ArtifactNotFoundError):
    status_code = 503
    error = "no_model"


@dataclass(frozen=True)
class ActiveModel:
    version: str
    model: RankerModel


class ModelSwitchboard:
    def __init__(
        self, store: ArtifactStore, poll_seconds: float = 0.0, version: str | None = None
    ) -> None:
        """Serves `version`, or the promoted model when it is None."""
        self.store = store
        self.poll_seconds = poll_seconds
        self._switching = threading.Lock()
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None
        self._registry_stamp = self._stamp()
        promoted = store.get(version) if version else store.promoted()
        if promoted is None:
            raise NoModelError(
                f"no model is promoted in {store.root}: run `medcode train` to build and"
                " promote the default model, or `medcode models promote VERSION`"
            )
        self.active = self._load(promoted.version)

    def _load(self, version: str) -> ActiveModel:
        info, model = load_artifact(self.store, version)
        logger.info("model %s loaded", info.version)
        return ActiveModel(info.version, model)

    def switch(self, version: str) -> ActiveModel:
        with self._switching:
            if self.store.get(version).version != self.active.version:
                self.active = self._load(version)
            return self.active

    def promote(self, version: str) -> ActiveModel:
        # Load first: a model that cannot be served is never promoted.
        with self._switching:
            candidate = self._load(self.store.get(version).version)
            self.store.promote(candidate.version)
            self.active = candidate
            self._registry_stamp = self._stamp()
            return candidate

    def rollback(self) -> ActiveModel:
        with self._switching:
            previous = self.active.version
            info = self.store.rollback()
            try:
                self.active = self._load(info.version)
            except Exception:
                self.store.promote(previous)  # put the registry back as it was
                raise
            self._registry_stamp = self._stamp()
            return self.active

    def versions(self) -> list[dict[str, Any]]:
        promoted = self.store.promoted()
        return [_describe(info, promoted, self.active.version) for info in self.store.list()]

    # ---- following the registry ------------------------------------------------------------

    def start(self) -> None:
        if self.poll_seconds > 0 and self._watcher is None:
            self._watcher = threading.Thread(target=self._watch, name="model-watcher", daemon=True)
            self._watcher.start()

    def stop(self) -> None:
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join(timeout=5)
            self._watcher = None
        self._stop.clear()  # a service shared by several apps (tests) may start again

    def follow_registry(self) -> None:
        """Serve the promoted model if the registry names another one than served."""
        stamp = self._stamp()
        if stamp == self._registry_stamp:
            return
        self._registry_stamp = stamp
        promoted = self.store.promoted()
        if promoted is not None and promoted.version != self.active.version:
            self.switch(promoted.version)

    def _watch(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            try:
                self.follow_registry()
            except Exception:  # keep serving the loaded model; say why once per change
                logger.exception("could not switch to the newly promoted model")

    def _stamp(self) -> tuple[int, int] | None:
        try:
            status = (self.store.root / REGISTRY_FILE).stat()
        except FileNotFoundError:
            return None
        return (status.st_mtime_ns, status.st_size)


def _describe(info: ArtifactInfo, promoted: ArtifactInfo | None, served: str) -> dict[str, Any]:
    meta = info.metadata
    return {
        "version": info.version,
        "created_at": info.created_at,
        "promoted": promoted is not None and promoted.version == info.version,
        "served": info.version == served,
        "data": meta.get("data"),
        "metrics": meta.get("metrics", {}),
        "evaluations": meta.get("evaluations", []),
    }
