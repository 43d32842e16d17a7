#!/usr/bin/env bash
# Schemathesis (property-based API testing from the OpenAPI document) against the emulator:
# every operation of the spec subset, generated requests, checked for server errors (5xx)
# and responses that violate the spec's schemas. Installs schemathesis (pinned) into
# target/ci-tools/schemathesis on first use; needs a debug build (cargo build).
#   scripts/schemathesis.sh [MAX_EXAMPLES]   (default 25 per operation)
set -euo pipefail
cd "$(dirname "$0")/.."
spec=openapi/openai-admin.openapi.yaml
venv=target/ci-tools/schemathesis
if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -q '4.32.5'; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check --require-hashes --only-binary=:all: \
    -r .ci/schemathesis-requirements.txt
fi
url_file=$(mktemp)
target/debug/orgops emulator --state examples/enterprise-live/live.yaml --admin-key sk-admin-st >"$url_file" 2>/dev/null &
emulator=$!
trap 'kill $emulator 2>/dev/null || true' EXIT
for _ in $(seq 50); do [ -s "$url_file" ] && break; sleep 0.1; done
base=$(head -n 1 "$url_file")
# not_a_server_error: no 5xx; response_schema_conformance: every answer matches the spec;
# content_type_conformance: JSON where the spec says so. Not status_code_conformance: the
# spec documents 200 only, while the API (and the emulator) answer 400/404 to bad input.
checks=not_a_server_error,response_schema_conformance,content_type_conformance
usage='^/organization/(usage|costs)'
"$venv/bin/schemathesis" run "$spec" --url "$base" -H "Authorization: Bearer sk-admin-st" \
  --checks "$checks" --exclude-path-regex "$usage" --max-examples "${1:-25}" --no-color
# Usage and costs without the schema check: the spec's `UsageTimeBucket.results` is a oneOf
# whose discriminator (`object`) has no mapping, so by OpenAPI's rule its values would be the
# component names (`CostsResult`), while the API answers `organization.costs.result` (what
# the SDK's models require, and scripts/sdk_operations.py validates every bucket with them).
"$venv/bin/schemathesis" run "$spec" --url "$base" -H "Authorization: Bearer sk-admin-st" \
  --checks not_a_server_error,content_type_conformance --include-path-regex "$usage" \
  --max-examples "${1:-25}" --no-color
