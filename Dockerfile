# syntax=docker/dockerfile:1.7
# Trellis API image.
#   build:  docker build -t trellis .
#   run:    docker run --env-file .env -p 8000:8000 trellis        (APP_ENV=production: needs the
#           variables listed in .env.example, and refuses to start without them)
# Two stages: the builder resolves the locked dependencies with uv into /app/.venv; the final stage
# copies only that venv onto a clean python:slim base (no uv, no compilers, no sources, no secrets).

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# uv is copied from its official image; keep the version in step with the one that writes uv.lock.
FROM ghcr.io/astral-sh/uv:0.13.9 AS uv

# ---------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS builder
COPY --from=uv /uv /uvx /bin/
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3.11 \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /app

# Dependencies first, in their own layer: it is rebuilt only when the lock changes.
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=bind,source=uv.lock,target=uv.lock \
    --mount=type=bind,source=pyproject.toml,target=pyproject.toml \
    uv sync --frozen --no-dev --no-editable --no-install-project

# Then the project itself, installed as a regular (non-editable) package into the venv, so the
# final stage needs the venv only.
COPY pyproject.toml uv.lock README.md ./
COPY domain/ domain/
COPY application/ application/
COPY adapters/ adapters/
COPY entrypoints/ entrypoints/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable

# ---------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

LABEL org.opencontainers.image.title="trellis" \
      org.opencontainers.image.description="Trellis project-board API (Litestar, MongoDB, Redis)" \
      org.opencontainers.image.licenses="UNLICENSED"

# A fixed, unprivileged uid/gid so volume permissions are predictable.
RUN groupadd --system --gid 10001 trellis \
 && useradd --system --uid 10001 --gid trellis --home-dir /app --no-create-home \
            --shell /usr/sbin/nologin trellis \
 && mkdir -p /app/var/log /app/var/files \
 && chown -R trellis:trellis /app/var

# The venv is owned by root and read-only for the app user.
COPY --from=builder /app/.venv /app/.venv

ENV PATH="/app/.venv/bin:${PATH}" \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    APP_ENV=production \
    LOG_FORMAT=json \
    HOST=0.0.0.0 \
    PORT=8000

WORKDIR /app
USER 10001:10001
EXPOSE 8000

# Liveness only (/health); readiness (/health/ready) is for orchestrators and Prometheus.
# The slim image has no curl: use the interpreter that is already there.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; u.urlopen('http://127.0.0.1:' + os.environ.get('PORT', '8000') + '/health', timeout=4)"]

# Exec form: `trellis` is PID 1 (or tini's child with `docker run --init` / compose `init: true`),
# so SIGTERM reaches uvicorn, which drains in-flight requests before exiting.
STOPSIGNAL SIGTERM
CMD ["trellis", "serve"]
