#!/usr/bin/env bash
# Install the MongoDB-wire test server (mongoeco) into tools/mongo/.venv.
#
# mongoeco needs Python >= 3.13 while the service runs on 3.11+, so it gets its own virtual
# environment. The interpreter is found, never hard-coded: $MONGOECO_PYTHON if set, else a
# pyenv-installed 3.13+ (the pyenv shim only works when the version is selected, so we ask
# pyenv for the real path), else python3.13 on PATH, else `uv python find`.
# Idempotent and fast when the pinned version is already installed.
set -euo pipefail

MONGOECO_SPEC="mongoeco[wire]==4.11.0"
MONGOECO_VERSION="4.11.0"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="$HERE/.venv"

is_313() {
    [ -n "${1:-}" ] && [ -x "$1" ] && "$1" -c 'import sys; raise SystemExit(sys.version_info < (3, 13))' 2>/dev/null
}

find_python() {
    local candidate version root
    if [ -n "${MONGOECO_PYTHON:-}" ]; then
        is_313 "$MONGOECO_PYTHON" && { echo "$MONGOECO_PYTHON"; return 0; }
        echo "MONGOECO_PYTHON=$MONGOECO_PYTHON is not a Python >= 3.13" >&2
        return 1
    fi
    if command -v pyenv >/dev/null 2>&1; then
        # newest first
        for version in $(pyenv versions --bare 2>/dev/null | grep -E '^3\.(1[3-9]|[2-9][0-9])(\.[0-9]+)?$' | sort -rV); do
            candidate="$(PYENV_VERSION="$version" pyenv which python3 2>/dev/null || true)"
            is_313 "$candidate" && { echo "$candidate"; return 0; }
        done
        root="$(pyenv root 2>/dev/null || true)"
        if [ -n "$root" ]; then
            for candidate in $(ls -d "$root"/versions/3.1[3-9]*/bin/python3 2>/dev/null | sort -rV); do
                is_313 "$candidate" && { echo "$candidate"; return 0; }
            done
        fi
    fi
    for candidate in python3.14 python3.13; do
        candidate="$(command -v "$candidate" 2>/dev/null || true)"
        is_313 "$candidate" && { echo "$candidate"; return 0; }
    done
    if command -v uv >/dev/null 2>&1; then
        candidate="$(uv python find '>=3.13' 2>/dev/null || true)"
        is_313 "$candidate" && { echo "$candidate"; return 0; }
    fi
    return 1
}

installed_ok() {
    [ -x "$VENV/bin/python" ] && "$VENV/bin/python" - "$MONGOECO_VERSION" <<'PY' 2>/dev/null
import sys
from importlib.metadata import version
import mongoeco.wire  # noqa: F401  (the wire extra's dependencies import)
raise SystemExit(version("mongoeco") != sys.argv[1])
PY
}

if installed_ok; then
    echo "mongoeco $MONGOECO_VERSION already installed in $VENV"
    exit 0
fi

PYTHON="$(find_python)" || {
    echo "No Python >= 3.13 found (tried MONGOECO_PYTHON, pyenv, PATH, uv). Install one, e.g. 'pyenv install 3.13'." >&2
    exit 1
}
echo "Using $PYTHON ($("$PYTHON" --version))"

if ! is_313 "$VENV/bin/python"; then
    rm -rf "$VENV"
    if command -v uv >/dev/null 2>&1; then
        uv venv --quiet --python "$PYTHON" "$VENV"
    else
        "$PYTHON" -m venv "$VENV"
    fi
fi
if command -v uv >/dev/null 2>&1; then
    uv pip install --quiet --python "$VENV/bin/python" "$MONGOECO_SPEC"
else
    "$VENV/bin/python" -m pip install --quiet "$MONGOECO_SPEC"
fi
installed_ok || { echo "mongoeco did not install correctly into $VENV" >&2; exit 1; }
echo "mongoeco $MONGOECO_VERSION installed in $VENV"
