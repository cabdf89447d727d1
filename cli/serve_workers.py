"""`medcode serve --workers N`: load once, then fork the workers from the loaded process.

uvicorn's own multi-worker mode spawns fresh interpreters that import and load everything
again: N start-ups one after another on a small machine, and N private copies of the
lexicon, catalog and model (1.4 GB each). Forked after loading, as gunicorn's --preload
does, every worker starts at once and shares those pages with the others: the loaded
objects are frozen out of the garbage collector (app.main.collector_paused), so nothing
writes to most of them and they stay shared.

uvicorn's supervisor is kept as it is (signals, health checks, a dead worker replaced);
only its process start method changes, from spawn to fork. Each worker runs the app's
lifespan itself: its own database connections and model watcher.
"""

import multiprocessing

import uvicorn
from fastapi import FastAPI
from uvicorn import _subprocess
from uvicorn.supervisors import Multiprocess


def serve_forked(app: FastAPI, host: str, port: int, workers: int, graceful_seconds: int) -> None:
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        workers=workers,
        timeout_graceful_shutdown=graceful_seconds,
        access_log=False,  # app.middleware.AccessLog logs requests without query strings
    )
    # uvicorn 0.54 starts workers with this context (uvicorn._subprocess.get_subprocess);
    # uvicorn is pinned, and tests/api/test_forked_workers.py fails first if that changes.
    _subprocess.spawn = multiprocessing.get_context("fork")  # type: ignore[assignment]
    Multiprocess(config, sockets=[config.bind_socket()]).run()
