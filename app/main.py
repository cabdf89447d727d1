"""The FastAPI application factory."""

import gc
import logging
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

from fastapi import FastAPI

from app import log_hygiene
from app.api.routes import admin, codes, health, review, review_session, suggest
from app.config import Settings
from app.db import schema
from app.db.session import Database
from app.errors import install_error_handlers
from app.gate import CallerGate
from app.limits import RateLimiter
from app.middleware import AccessLog, BodySizeLimit, InFlightLimit, UnexpectedErrors
from app.services.analytics import AnalyticsService
from app.services.models import ModelSwitchboard
from app.services.retention import RetentionSweeper
from app.services.review import ReviewService
from app.services.suggest import SuggestService
from app.tokens import Authenticator
from app.web.pages import page_router
from app.web_session import install_web_sessions
from codes.catalog import Catalog
from models.artifacts import ArtifactStore
from nlp.pipeline import LinkingSettings, NoteReader

logger = logging.getLogger(__name__)
PROBES = frozenset({"/health", "/ready"})


def build_suggest_service(settings: Settings, model_version: str | None = None) -> SuggestService:
    """Load everything a request needs, once. Fails loudly if anything is missing.

    model_version: serve that model instead of the promoted one (a batch run pins one).
    """
    started = time.perf_counter()
    with collector_paused():
        catalog = Catalog.open(settings.catalog_dir)
        linking = LinkingSettings(k=settings.link_k, threshold=settings.link_threshold)
        reader = NoteReader.load(settings.lexicon_dir, linking)
        models = ModelSwitchboard(
            ArtifactStore(settings.models_dir), settings.model_poll_seconds, model_version
        )
        service = SuggestService(catalog, reader, models, conventions=settings.conventions)
    logger.info("catalog, note reader and model loaded in %.1f s", time.perf_counter() - started)
    return service


@contextmanager
def collector_paused() -> Iterator[None]:
    """Load with the garbage collector off, then keep it off what was loaded for good.

    Loading makes millions of long-lived objects (lexicon, catalog, model). With the
    collector on, every few thousand new objects set off a collection that walks all made
    so far: half the start-up time went there. At the end, one collection frees what
    loading threw away, and the rest is frozen: never walked again, where a full
    collection of it had been a 2-3 s pause on whichever request happened to trigger it.
    What requests make is collected as before. The collector is on afterwards even if a
    caller turned it off to import (`medcode serve`).
    """
    gc.disable()
    try:
        yield
    finally:
        gc.collect()
        gc.freeze()
        gc.enable()


def open_database(settings: Settings) -> Database:
    """The review database, its schema checked: created in an empty database, else it must
    be the code's (SchemaError names the command to run)."""
    database = Database.from_url(settings.database_url)
    try:
        schema.prepare(database.engine)
    except Exception:
        database.dispose()
        raise
    return database


def install_callers(app: FastAPI, settings: Settings) -> None:
    """What `app.auth.identify` needs on app.state: the token checker and the rate limits."""
    secret = settings.admin_token.get_secret_value() if settings.admin_token else None
    app.state.authenticator = Authenticator(
        lambda: app.state.database, secret, settings.token_cache_seconds
    )
    app.state.rate_limiter = RateLimiter(settings.rate_limit_per_minute, settings.rate_limit_burst)
    app.state.failed_auth_limiter = RateLimiter(
        settings.failed_auth_per_minute, settings.failed_auth_burst
    )


def create_app(
    settings: Settings, service: SuggestService | None = None, database: Database | None = None
) -> FastAPI:
    """The app; `service` and `database` let tests share loaded ones across apps."""
    log_hygiene.install()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            opened = database or open_database(settings)
        except schema.SchemaError as exc:
            logger.error("medcode cannot start: %s", exc.detail)
            raise
        app.state.database = opened
        loaded = service or build_suggest_service(settings)
        app.state.suggest_service = loaded
        app.state.review_service = ReviewService(
            loaded.catalog, loaded.suggester.conventions.knowledge, settings.claim_minutes
        )
        app.state.analytics_service = AnalyticsService(loaded.catalog)
        loaded.models.start()
        sweeper = None
        if settings.retention_days is not None:
            sweeper = RetentionSweeper(opened, settings.retention_days)
            sweeper.start()
        logger.info("ready: model %s", loaded.model_version)
        yield
        if sweeper is not None:
            sweeper.stop()
        loaded.models.stop()
        app.state.suggest_service = None
        app.state.review_service = app.state.analytics_service = None
        app.state.database = None
        if database is None:
            opened.dispose()

    app = FastAPI(
        title="medcode",
        summary="Suggests ICD-10-CM, ICD-10-PCS, HCPCS and CPT codes from clinical notes",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.suggest_service = None
    app.state.database = None
    install_callers(app, settings)
    # Last added runs first: shed load, then refuse big bodies, then know the caller.
    install_web_sessions(app)
    app.add_middleware(CallerGate)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(InFlightLimit, limit=settings.max_in_flight, exempt=PROBES)
    app.add_middleware(UnexpectedErrors)
    app.add_middleware(AccessLog)
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(suggest.router)
    app.include_router(codes.router)
    app.include_router(admin.router)
    app.include_router(review.router)
    app.include_router(review_session.router)
    app.include_router(page_router())
    return app
