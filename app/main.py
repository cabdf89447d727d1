"""The FastAPI application factory."""

import gc
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

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
    catalog = Catalog.open(settings.catalog_dir)
    linking = LinkingSettings(k=settings.link_k, threshold=settings.link_threshold)
    reader = NoteReader.load(settings.lexicon_dir, linking)
    models = ModelSwitchboard(
        ArtifactStore(settings.models_dir), settings.model_poll_seconds, model_version
    )
    service = SuggestService(catalog, reader, models, conventions=settings.conventions)
    _freeze_what_was_loaded()
    logger.info("catalog, note reader and model loaded in %.1f s", time.perf_counter() - started)
    return service


def _freeze_what_was_loaded() -> None:
    """Keep the garbage collector off what stays loaded for the life of the process.

    The lexicon and catalog are millions of long-lived objects: every full collection
    walked them all, a pause of 2-3 s that fell on whichever request happened to trigger
    it. Frozen, they are never walked again; what requests make is collected as before.
    """
    gc.collect()
    gc.freeze()


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
