"""Entry for uvicorn's multi-worker mode, which imports the app by name in each worker."""

import gc

# Imports and loading make millions of objects that stay; collecting while they are made
# only walks them again and again. app.main.collector_paused turns the collector back on
# once the service is loaded.
gc.disable()

from fastapi import FastAPI  # noqa: E402

from app.config import Settings  # noqa: E402
from app.main import create_app  # noqa: E402


def app() -> FastAPI:
    return create_app(Settings())
