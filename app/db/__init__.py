"""The review database: typed tables, sessions, the repository (every query) and the
Alembic migrations."""
