"""Alembic environment: run from `app.db.schema`, which passes an open connection."""

from alembic import context

from app.db.tables import Base

connection = context.config.attributes.get("connection")
if connection is None or context.is_offline_mode():
    raise RuntimeError(
        "run migrations through `medcode db upgrade|downgrade|current` (app.db.schema),"
        " which opens the database of MEDCODE_DATABASE_URL"
    )

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    # SQLite alters a table by copying it; batch mode does that for later migrations.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
