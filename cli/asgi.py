"""Entry for uvicorn's multi-worker mode, which imports the app by name in each worker."""

from fastapi import FastAPI

from app.config import Settings
from app.main import create_app


def app() -> FastAPI:
    return create_app(Settings())
