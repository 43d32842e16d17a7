#!/usr/bin/env bash
# Installs a released orgops binary for the GitHub Action (action.yml, step "Install orgops"):
# downloads the archive for this runner's OS and architecture and the release's SHA256SUMS,
# refuses the archive unless its sha256 is the one SHA256SUMS lists for it, and keeps the
# binary in the runner's tool cache ($RUNNER_TOOL_CACHE/orgops/VERSION/ARCH), so a warm
# cache downloads nothing.
#
# Environment (set by action.yml; the Actions runner sets the RUNNER_* ones):
#   ORGOPS_VERSION            the `orgops-version` input: X.Y.Z (or vX.Y.Z) to download that
#                             release, `source` to build from the action's source, empty for
#                             the version in the action's own Cargo.toml (built from source
#                             when that version has no release: an unreleased ref).
#   ACTION_PATH               the action's checkout (for Cargo.toml).
#   ORGOPS_RELEASE_REPOSITORY owner/name whose GitHub releases hold the archives (the action's
#                             own repository).
#   RUNNER_OS, RUNNER_ARCH, RUNNER_TOOL_CACHE, RUNNER_TEMP, GITHUB_OUTPUT
#   ORGOPS_RELEASE_BASE_URL   tests only: serve the releases from elsewhere; plain http is
#                             accepted for 127.0.0.1 and localhost only.
#
# Writes to GITHUB_OUTPUT either `bin=PATH` (installed, or found in the tool cache) or
# `build=true` (build from source). Exits non-zero, with an ::error:: line, on any other
# failure: a checksum mismatch, an archive missing from SHA256SUMS, a download error, a
# requested version that does not exist. Nothing is installed unless every check passed.
set -euo pipefail

fail() {
  echo "::error::orgops install: $*"
  exit 1
}

output() {
  if [ -n "${GITHUB_OUTPUT:-}" ]; then
    echo "$1" >>"$GITHUB_OUTPUT"
  else
    echo "$1"
  fi
}

requested="${ORGOPS_VERSION:-}"
if [ "$requested" = "source" ]; then
  echo "orgops-version: source; building orgops from the action's source."
  output "build=true"
  exit 0
fi

explicit=true
version="${requested#v}"
if [ -z "$version" ]; then
  explicit=false
  manifest="${ACTION_PATH:-.}/Cargo.toml"
  [ -f "$manifest" ] || fail "no orgops-version given and no Cargo.toml at $manifest to take the action's version from"
  # The first `version = "..."` line is the [package] version.
  version=$(sed -n 's/^version *= *"\([^"]*\)".*/\1/p' "$manifest" | head -n 1)
  [ -n "$version" ] || fail "no version line in $manifest"
fi
if ! [[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]]; then
  fail "orgops-version must be a release version like 0.2.0 (or 'source'), not '$requested'"
fi

os="${RUNNER_OS:-$(uname -s)}"
arch="${RUNNER_ARCH:-$(uname -m)}"
case "$arch" in
  X64 | x86_64 | amd64) arch=x64 cpu=x86_64 ;;
  ARM64 | arm64 | aarch64) arch=arm64 cpu=aarch64 ;;
  *) fail "no orgops release for the architecture '$arch'; build from source with orgops-version: source" ;;
esac
exe=orgops
case "$os" in
  Linux) target="$cpu-unknown-linux-musl" ext=tar.gz ;;
  macOS | Darwin) target="$cpu-apple-darwin" ext=tar.gz ;;
  Windows)
    [ "$cpu" = x86_64 ] || fail "no orgops release for Windows on $arch; build from source with orgops-version: source"
    target="x86_64-pc-windows-msvc" ext=zip exe=orgops.exe
    ;;
  *) fail "no orgops release for the OS '$os'; build from source with orgops-version: source" ;;
esac

tool_cache="${RUNNER_TOOL_CACHE:-${RUNNER_TEMP:-/tmp}/tool-cache}"
dest="$tool_cache/orgops/$version/$arch"
# The toolkit's tool-cache layout: the directory, and `ARCH.complete` beside it once whole.
if [ -f "$dest.complete" ] && [ -x "$dest/$exe" ]; then
  echo "orgops $version found in the tool cache ($dest); nothing to download."
  output "bin=$dest/$exe"
  exit 0
fi

base="${ORGOPS_RELEASE_BASE_URL:-}"
if [ -z "$base" ]; then
  repository="${ORGOPS_RELEASE_REPOSITORY:-orgops/orgops}"
  [[ "$repository" =~ ^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$ ]] || fail "not a repository name: '$repository'"
  base="https://github.com/$repository/releases/download"
fi
case "$base" in
  https://*) proto='=https' ;;
  http://127.0.0.1[:/]* | http://localhost[:/]*) proto='=http' ;;
  *) fail "the release base URL must be https (plain http only on 127.0.0.1 or localhost): $base" ;;
esac
base="${base%/}/v$version"
archive="orgops-$version-$target.$ext"

work=$(mktemp -d "${RUNNER_TEMP:-/tmp}/orgops-install.XXXXXX")
trap 'rm -rf "$work"' EXIT

# Prints the HTTP status; the body goes to $2. 000 when no answer came.
fetch() {
  curl --silent --show-error --location --proto "$proto" --retry 3 --connect-timeout 20 \
    --output "$2" --write-out '%{http_code}' "$1" || true
}

status=$(fetch "$base/SHA256SUMS" "$work/SHA256SUMS")
if [ "$status" = 404 ]; then
  if [ "$explicit" = false ]; then
    echo "orgops $version (the action's own version) has no release at $base: an unreleased ref, so orgops is built from the action's source."
    output "build=true"
    exit 0
  fi
  fail "orgops $version has no release (no $base/SHA256SUMS); check orgops-version, or use orgops-version: source"
fi
[ "$status" = 200 ] || fail "downloading $base/SHA256SUMS answered HTTP $status"

# `HASH  NAME` or `HASH *NAME` (binary mode), exactly this archive's name.
expected=$(awk -v name="$archive" '$2 == name || $2 == "*" name { print tolower($1); exit }' "$work/SHA256SUMS")
[[ "$expected" =~ ^[0-9a-f]{64}$ ]] || fail "SHA256SUMS of orgops $version lists no sha256 for $archive; refusing to install it"

echo "Downloading $base/$archive"
status=$(fetch "$base/$archive" "$work/$archive")
[ "$status" = 200 ] || fail "downloading $base/$archive answered HTTP $status"

if command -v sha256sum >/dev/null 2>&1; then
  actual=$(sha256sum "$work/$archive" | cut -d ' ' -f 1)
else
  actual=$(shasum -a 256 "$work/$archive" | cut -d ' ' -f 1)
fi
if [ "$actual" != "$expected" ]; then
  fail "checksum mismatch for $archive: SHA256SUMS says $expected, the download is $actual; refusing to install it (nothing was installed)"
fi
echo "sha256 $actual matches SHA256SUMS"

mkdir "$work/unpacked"
case "$ext" in
  tar.gz) tar -xzf "$work/$archive" -C "$work/unpacked" ;;
  zip) unzip -q "$work/$archive" -d "$work/unpacked" ;;
esac
binary="$work/unpacked/orgops-$version-$target/$exe"
[ -f "$binary" ] || fail "$archive has no orgops-$version-$target/$exe"
chmod +x "$binary"
reported=$("$binary" --version 2>&1) || fail "the downloaded orgops does not run: $reported"
# `orgops X.Y.Z`, or `orgops X.Y.Z (COMMIT)` when built from a checkout (build.rs).
case "$reported" in
  "orgops $version" | "orgops $version ("*")") ;;
  *) fail "the downloaded binary says '$reported', not 'orgops $version'" ;;
esac

rm -rf "$dest" "$dest.complete"
mkdir -p "$dest"
cp "$binary" "$dest/$exe"
touch "$dest.complete"
echo "Installed $reported ($target) in $dest"
output "bin=$dest/$exe"
