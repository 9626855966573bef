# Trellis recipes. `./dev <recipe>` installs uv and just first when a machine lacks them.

set shell := ["bash", "-euo", "pipefail", "-c"]

export UV_FROZEN := "1"

# list the recipes
default:
    @just --list

# install the locked Python dependencies into .venv
sync:
    uv sync --frozen --quiet

# run the service on embedded defaults (HOST/PORT, default 127.0.0.1:8000; docs at /docs)
run: sync
    # SIGTERM/SIGINT: stop accepting, finish in-flight requests, run shutdown, exit 0
    exec uv run --frozen trellis serve

# create demo users, projects and tasks (idempotent; refuses APP_ENV=production without --force)
seed *args: sync
    uv run --frozen trellis seed {{args}}

# run background jobs from the Redis queue (SIGTERM: finish or re-queue the running jobs); --with-scheduler too
worker *args: sync
    exec uv run --frozen trellis worker {{args}}

# run the scheduled jobs (purge, progress repair, overdue digest); safe to run more than one
scheduler: sync
    exec uv run --frozen trellis scheduler

# format the code
fmt: sync
    uv run --frozen ruff format .
    uv run --frozen ruff check --fix .

# lint, format check, strict type check, and the layer contracts
lint: sync
    uv run --frozen ruff check .
    uv run --frozen ruff format --check .
    uv run --frozen mypy
    uv run --frozen lint-imports

# install what the tests start: redis-server (apt), the MongoDB-wire test server (own venv), Azurite (npm)
test-deps:
    #!/usr/bin/env bash
    set -euo pipefail
    need=()
    command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
    command -v wrk >/dev/null 2>&1 || need+=(wrk)  # tests/e2e/test_bench_smoke.py
    if [ ${#need[@]} -gt 0 ]; then
        if [ "$(id -u)" -eq 0 ]; then sudo=""; elif command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
            echo "test-deps: please install: ${need[*]} (apt-get install)" >&2; exit 1; fi
        echo "test-deps: installing ${need[*]}" >&2
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    fi
    bash tools/mongo/install.sh
    # Azurite (the Azure Storage emulator) for the BlobStore contract tests: pinned, skipped when present
    if [ ! -x tools/azurite/node_modules/.bin/azurite-blob ]; then
        command -v npm >/dev/null 2>&1 || { echo "test-deps: please install Node.js and npm (for Azurite)" >&2; exit 1; }
        npm ci --prefix tools/azurite --no-audit --no-fund --loglevel=error
    fi

# validate Dockerfile, compose.yml, workflows, Prometheus rules and dashboards offline
validate-deploy: sync
    bash tools/validate-deploy.sh

# every check and test, as CI runs it (REQUIRE_REAL_SERVICES=1 makes a missing server a failure)
test: sync test-deps lint validate-deploy
    uv run --frozen pytest --cov --cov-report=term-missing:skip-covered {{ if env("CI", "") != "" { "-p no:cacheprovider" } else { "" } }}

# load benchmark (issue 12): Trellis (embedded, Redis, MongoDB-wire) vs bare Litestar and a FastAPI peer, fan-out, import; --quick/--only/--targets
bench *args:
    #!/usr/bin/env bash
    set -euo pipefail
    need=()
    command -v wrk >/dev/null 2>&1 || need+=(wrk)
    command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
    if [ ${#need[@]} -gt 0 ]; then
        if [ "$(id -u)" -eq 0 ]; then sudo=""; elif command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
            echo "bench: please install: ${need[*]} (apt-get install)" >&2; exit 1; fi
        echo "bench: installing ${need[*]}" >&2
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    fi
    # the MongoDB-wire server (mongoeco, own venv; idempotent); without it the MongoDB targets are skipped
    bash tools/mongo/install.sh >&2 || echo "bench: the MongoDB-wire server did not install; MongoDB targets skipped" >&2
    uv sync --frozen --quiet --group bench
    exec uv run --frozen --group bench python bench/run.py {{args}}

# soak (issue 13, not in CI): 10 min of mixed traffic at a fixed rate, server RSS and fds sampled; --duration SECONDS
soak *args: sync
    uv run --frozen python tools/soak.py {{args}}

# schemathesis (every check, all phases, ~2 minutes) against a real `./dev run` on a free loopback port
schemathesis *args: sync
    uv run --frozen python tools/schemathesis.py {{args}}
