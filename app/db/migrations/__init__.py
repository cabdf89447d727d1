"""Alembic migrations of the review database (run them with `medcode db upgrade`)."""
