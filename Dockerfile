# The same install path as the Makefile: `make install`, then `medcode serve`.
# Build with the data folder in the context: docker build --build-context data=../shared/data .
FROM python:3.11-slim-bookworm

RUN apt-get update \
    && apt-get install -y --no-install-recommends make curl build-essential \
    && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 10001 medcode
WORKDIR /srv/medcode
COPY --chown=medcode:medcode . .
COPY --from=data --chown=medcode:medcode . /srv/data

USER medcode
ENV MEDCODE_DATA_DIR=/srv/data
RUN make install PYTHON=python3.11

EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD curl --fail --silent http://127.0.0.1:8000/health || exit 1
CMD [".venv/bin/medcode", "serve", "--host", "0.0.0.0", "--port", "8000"]
