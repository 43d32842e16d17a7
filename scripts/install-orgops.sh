#!/usr/bin/env bash
# Installs a released orgops binary for the GitHub Action (action.yml, step "Install orgops").
#
# The trust anchor is the action's own commit: `release-checksums.txt` beside action.yml lists
# the sha256 of every released archive, per version and target. The archive for this runner is
# refused unless its sha256 is the one listed there; the release's own SHA256SUMS is never
# read (whoever can upload to the release can replace it with the archive). The verified
# archive is kept in the runner's tool cache ($RUNNER_TOOL_CACHE/orgops/VERSION/ARCH), and
# every later job hashes it again before using it: the binary that runs is always unpacked,
# into this job's RUNNER_TEMP, from an archive whose sha256 was just checked.
#
# Environment (set by action.yml; the Actions runner sets the RUNNER_* ones):
#   ORGOPS_VERSION            the `orgops-version` input: X.Y.Z (or vX.Y.Z) to install that
#                             release, `source` to build from the action's source, empty for
#                             the version in the action's own Cargo.toml (built from source
#                             when the action's commit lists no archive of that version: an
#                             unreleased ref).
#   ACTION_PATH               the action's checkout (Cargo.toml, release-checksums.txt).
#   ORGOPS_RELEASE_REPOSITORY owner/name whose GitHub releases hold the archives (the
#                             `release-repository` input, else github.action_repository).
#                             Empty: taken from ACTION_PATH when it is the runner's checkout of
#                             a remote action (.../_actions/OWNER/NAME/REF); otherwise the
#                             install fails: there is no fallback repository.
#   RUNNER_OS, RUNNER_ARCH, RUNNER_TOOL_CACHE, RUNNER_TEMP, GITHUB_OUTPUT
#   ORGOPS_RELEASE_BASE_URL   tests only: serve the releases from elsewhere; plain http is
#                             accepted for 127.0.0.1 and localhost only.
#
# Writes to GITHUB_OUTPUT either `bin=PATH` (installed, or found in the tool cache and checked
# again) or `build=true` (build from source). Exits non-zero, with an ::error:: line, on any
# other failure: a checksum mismatch (downloaded or cached), an archive the action's commit
# does not list, a download error, no repository to download from. Nothing runs and nothing is
# cached unless every check passed.
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

sha256() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d ' ' -f 1
  else
    shasum -a 256 "$1" | cut -d ' ' -f 1
  fi
}

requested="${ORGOPS_VERSION:-}"
if [ "$requested" = "source" ]; then
  echo "orgops-version: source; building orgops from the action's source."
  output "build=true"
  exit 0
fi

action="${ACTION_PATH:-.}"
explicit=true
version="${requested#v}"
if [ -z "$version" ]; then
  explicit=false
  manifest="$action/Cargo.toml"
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
archive="orgops-$version-$target.$ext"

# The sha256 the action's commit lists for this archive: `HASH  NAME` lines, # comments.
checksums="$action/release-checksums.txt"
[ -f "$checksums" ] || fail "the action has no release-checksums.txt at $checksums: refusing to install a binary nothing vouches for"
expected=$(awk -v name="$archive" '$1 !~ /^#/ && ($2 == name || $2 == "*" name) { print tolower($1); exit }' "$checksums")
if [ -z "$expected" ]; then
  if [ "$explicit" = false ]; then
    echo "This action's commit lists no orgops $version archive (release-checksums.txt): an unreleased ref, so orgops is built from the action's source."
    output "build=true"
    exit 0
  fi
  fail "this action's commit (release-checksums.txt) lists no sha256 for $archive; refusing to install it. Pin an action commit that lists orgops $version, or use orgops-version: source"
fi
[[ "$expected" =~ ^[0-9a-f]{64}$ ]] || fail "release-checksums.txt lists '$expected' for $archive, not a sha256"

work=$(mktemp -d "${RUNNER_TEMP:-/tmp}/orgops-install.XXXXXX")
trap 'rm -rf "$work"' EXIT

# Unpacks the verified archive $1 into a directory of this job's own and says where the
# binary is. The archive is a private copy (hashed before this), so what is unpacked is what
# was hashed.
unpack() {
  local bin_dir
  bin_dir=$(mktemp -d "${RUNNER_TEMP:-/tmp}/orgops-bin.XXXXXX")
  case "$ext" in
    tar.gz) tar -xzf "$1" -C "$bin_dir" ;;
    zip) unzip -q "$1" -d "$bin_dir" ;;
  esac
  binary="$bin_dir/orgops-$version-$target/$exe"
  [ -f "$binary" ] || fail "$archive has no orgops-$version-$target/$exe"
  chmod +x "$binary"
  reported=$("$binary" --version 2>&1) || fail "orgops $version does not run: $reported"
  # `orgops X.Y.Z`, or `orgops X.Y.Z (COMMIT)` when built from a checkout (build.rs).
  case "$reported" in
    "orgops $version" | "orgops $version ("*")") ;;
    *) fail "the binary in $archive says '$reported', not 'orgops $version'" ;;
  esac
}

tool_cache="${RUNNER_TOOL_CACHE:-${RUNNER_TEMP:-/tmp}/tool-cache}"
dest="$tool_cache/orgops/$version/$arch"
# The toolkit's tool-cache layout: the directory, and `ARCH.complete` beside it once whole.
# Anyone who can write the tool cache (another job on a self-hosted runner) can change what it
# holds, so a hit is hashed again, from a private copy.
if [ -f "$dest.complete" ] && [ -f "$dest/$archive" ]; then
  echo "orgops $version found in the tool cache ($dest); nothing to download."
  cp "$dest/$archive" "$work/$archive"
  actual=$(sha256 "$work/$archive")
  if [ "$actual" != "$expected" ]; then
    fail "checksum mismatch for $archive in the tool cache ($dest): this action's commit lists $expected, the cached archive is $actual; refusing to run it. Something wrote to the tool cache: find out what, then delete $dest"
  fi
  echo "sha256 $actual is the one this action's commit lists"
  unpack "$work/$archive"
  echo "Using $reported ($target) from the tool cache"
  output "bin=$binary"
  exit 0
fi

base="${ORGOPS_RELEASE_BASE_URL:-}"
if [ -z "$base" ]; then
  repository="${ORGOPS_RELEASE_REPOSITORY:-}"
  if [ -z "$repository" ]; then
    # github.action_repository can be empty in a composite action; the runner checks a remote
    # action out to .../_actions/OWNER/NAME/REF, which names it.
    parent=$(dirname "$action")
    if [ "$(basename "$(dirname "$(dirname "$parent")")")" = _actions ]; then
      repository="$(basename "$(dirname "$parent")")/$(basename "$parent")"
    fi
  fi
  [ -n "$repository" ] || fail "no repository to download orgops from: github.action_repository is empty and the action's path ($action) does not name one. Set the action's release-repository input to OWNER/NAME (the repository whose releases hold orgops), or use orgops-version: source"
  [[ "$repository" =~ ^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$ ]] || fail "not a repository name: '$repository'"
  base="https://github.com/$repository/releases/download"
fi
case "$base" in
  https://*) proto='=https' ;;
  http://127.0.0.1[:/]* | http://localhost[:/]*) proto='=http' ;;
  *) fail "the release base URL must be https (plain http only on 127.0.0.1 or localhost): $base" ;;
esac
base="${base%/}/v$version"

echo "Downloading $base/$archive"
status=$(curl --silent --show-error --location --proto "$proto" --retry 3 --connect-timeout 20 \
  --output "$work/$archive" --write-out '%{http_code}' "$base/$archive" || true)
[ "$status" = 200 ] || fail "downloading $base/$archive answered HTTP $status"

actual=$(sha256 "$work/$archive")
if [ "$actual" != "$expected" ]; then
  fail "checksum mismatch for $archive: this action's commit lists $expected, the download is $actual; refusing to install it (nothing was installed)"
fi
echo "sha256 $actual is the one this action's commit lists"
unpack "$work/$archive"

rm -rf "$dest" "$dest.complete"
mkdir -p "$dest"
cp "$work/$archive" "$dest/$archive"
touch "$dest.complete"
echo "Installed $reported ($target); its archive is kept in $dest"
output "bin=$binary"
