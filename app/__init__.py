"""HTTP service: FastAPI app factory, routes, schemas, settings."""
