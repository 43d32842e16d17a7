#!/usr/bin/env bash
# Day one with an existing organization, scripted (docs/plan.md#adopting-an-existing-organization):
# a generated 300-user organization in the emulator is exported; someone is deleted from the
# file and the plan removes them; apply does it and drift is in sync; then a mistyped model
# is a located error with did-you-mean, and nothing is written.
#
#   scripts/adoption_walk.sh            # uses target/release/orgops (built if missing)
#   ORGOPS=orgops scripts/adoption_walk.sh
#
# Needs only the binary and curl; everything runs on 127.0.0.1. The test
# `adoption::adoption_walk` (tests/it/adoption.rs) walks the same steps in CI.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
orgops=${ORGOPS:-$root/target/release/orgops}
if [ -z "${ORGOPS:-}" ] && [ ! -x "$orgops" ]; then
  (cd "$root" && cargo build --release --locked --quiet)
fi
work=$(mktemp -d)
emulator_pid=
cleanup() {
  if [ -n "$emulator_pid" ]; then kill "$emulator_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n== %s\n' "$*"; }
fail() { printf 'adoption walk FAILED: %s\n' "$*" >&2; exit 1; }

step "a generated 300-user organization in the emulator"
"$orgops" emulator --generate users=300,projects=3,project_members=20,groups=3,group_members=10,service_accounts=1 \
  --seed 23 --admin-key sk-admin-walk --listen 127.0.0.1:0 >"$work/emulator.out" 2>"$work/emulator.err" &
emulator_pid=$!
for _ in $(seq 100); do
  [ -s "$work/emulator.out" ] && break
  sleep 0.1
done
url=$(head -n1 "$work/emulator.out")
[ -n "$url" ] || fail "the emulator printed no URL: $(cat "$work/emulator.err")"
export OPENAI_BASE_URL=$url OPENAI_ADMIN_KEY=sk-admin-walk ORGOPS_NO_PROGRESS=1
echo "$url"
state() { curl -sf "${url%/v1}/_emulator/state"; }

step "export"
file=$work/orgops.yaml
"$orgops" export -o "$file"
sed -n '/^policy:/,/^$/p' "$file"

step "delete someone from the file (a member of a project)"
victim=$(sed -n '/^projects:/,$p' "$file" | sed -n 's/^ *- email: //p' | head -n1)
[ -n "$victim" ] || fail "no project member in the export"
echo "$victim"
# Their `users` entry, group memberships and project memberships (each entry's role line too).
awk -v who="$victim" '
  skip && $1 == "role:" { skip = 0; next }
  { skip = 0 }
  $0 ~ "- email: " who "$" { skip = 1; next }
  $0 ~ "^ *- " who "$" { next }
  { print }
' "$file" >"$work/edited.yaml"
mv "$work/edited.yaml" "$file"
grep -q "$victim" "$file" && fail "$victim is still in the file"

step "plan: the removal is planned"
"$orgops" plan -f "$file" | tee "$work/plan.txt"
grep -q "remove     user:$victim" "$work/plan.txt" || fail "the removal of $victim is not planned"

step "apply"
"$orgops" apply --auto-approve -f "$file"
state | grep -q "$victim" && fail "$victim is still in the organization"

step "drift: in sync"
"$orgops" drift --fail-on-unmanaged -f "$file" | tee "$work/drift.txt"
grep -q "In sync" "$work/drift.txt" || fail "drift is not in sync"

step "a mistyped model: a located error with did-you-mean, nothing written"
before=$(state)
awk '{ print } $0 == "  - name: project-0000" {
  print "    rate_limits:"; print "      gpt-4o-minii:"; print "        max_requests_per_1_minute: 100" }' \
  "$file" >"$work/typo.yaml"
for command in plan "apply --auto-approve"; do
  # shellcheck disable=SC2086 # the command and its flag are two words
  if "$orgops" $command -f "$work/typo.yaml" 2>"$work/typo.err"; then
    fail "$command accepted a mistyped model"
  fi
  cat "$work/typo.err"
  grep -q 'typo.yaml:[0-9]*:[0-9]*: error:' "$work/typo.err" || fail "$command: the error is not located"
  grep -q 'did you mean `gpt-4o-mini`?' "$work/typo.err" || fail "$command: no did-you-mean"
done
[ "$(state)" = "$before" ] || fail "something was written"

printf '\nadoption walk: ok\n'
