# syntax=docker/dockerfile:1
# The laptop's install path (`make model`: venv, code-set catalog, default model), run at
# build time, so `docker run` serves at once. The data folder comes in as a named build
# context (README, Docker):
#   docker build --build-context data=../shared/data -t medcode .
# tests/container/test_dockerfile.py runs these instructions on a fresh clone, without Docker.
FROM python:3.11-slim-bookworm

# make runs the install; build-essential compiles the dependencies that ship no wheel.
RUN apt-get update \
    && apt-get install -y --no-install-recommends make build-essential \
    && rm -rf /var/lib/apt/lists/*

# The service runs as a user of its own, which owns what it writes: .venv, var/ (catalog,
# models and the default SQLite database, var/medcode.db).
RUN useradd --create-home --uid 10001 medcode \
    && install -d -o medcode -g medcode /srv/medcode
WORKDIR /srv/medcode
USER medcode
ENV MEDCODE_DATA_DIR=/srv/data \
    PYTHONUNBUFFERED=1

# Dependencies before the source, from the lock alone: this layer is rebuilt only when the
# pins change, and `make model` below finds them installed. The pip cache stays out of the image.
COPY --chown=medcode:medcode requirements.lock ./
RUN --mount=type=cache,target=/home/medcode/.cache/pip,uid=10001,gid=10001 \
    python3.11 -m venv .venv \
    && .venv/bin/pip install --quiet --upgrade pip \
    && .venv/bin/pip install --quiet -r requirements.lock

# Owned by root: the service reads the data folder and never writes it.
COPY --from=data . /srv/data
COPY --chown=medcode:medcode . .

# Empty: the default model (CodiEsp train+dev, promoted; its metadata carries the CodiEsp
# attribution). Other `medcode train` arguments train another model (the container test
# trains a small one: --data codiesp:dev --folds 2 --promote).
ARG MEDCODE_TRAIN_ARGS=""
RUN --mount=type=cache,target=/home/medcode/.cache/pip,uid=10001,gid=10001 \
    make model TRAIN_ARGS="$MEDCODE_TRAIN_ARGS"

# MEDCODE_DATABASE_URL unset: SQLite in var/medcode.db, which lives and dies with the
# container; point it at PostgreSQL to keep the reviews. HOST and PORT are where it listens.
ENV PATH=/srv/medcode/.venv/bin:$PATH \
    HOST=0.0.0.0 \
    PORT=8000
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
    CMD ["/srv/medcode/.venv/bin/python", "-c", "import os, urllib.request as u; u.urlopen('http://127.0.0.1:%s/ready' % os.environ.get('PORT', '8000'), timeout=4)"]
# As `make run`: the database's schema brought up to date, then serve (exec: the service
# is PID 1 and gets docker stop's SIGTERM).
CMD ["sh", "-c", "medcode db upgrade && exec medcode serve --host \"$HOST\" --port \"$PORT\""]
