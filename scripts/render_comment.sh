#!/usr/bin/env bash
# The render check of the plan comment (issue 25): renders the comments of the example plans
# (quickstart, enterprise, generated plans of about 40, 200 and 1,400 changes, the `--base`
# view, hostile names) as GitHub shows them and checks what a reviewer can read:
#
#   markdown -> HTML with a GFM renderer (remark-gfm), GitHub's sanitising schema, GitHub's
#   grammars and colours (starry-night) and markdown CSS (github-markdown-css) in a 782-px
#   comment box; mermaid 11.17.2 (the version GitHub runs) in Debian's headless Chromium.
#
# Screenshots and HTML go to target/render-comment/NAME.{png,html}. It fails when a mermaid
# block does not parse, a diagram is scaled below 100 % or a label is under 12 px or wraps
# inside a name, a destructive change is not coloured, or markup shows literally
# (scripts/render_comment/render.mjs says exactly what it checks).
#
# Installs what it needs once: the npm packages pinned in scripts/render_comment/package.json
# and package-lock.json under target/render-tools/, and Debian's `chromium` with apt-get when
# it is missing (as root; puppeteer-core never downloads a browser). Needs Node 20 and npm.
set -euo pipefail
cd "$(dirname "$0")/.."

tools=target/render-tools
mkdir -p "$tools"
if ! cmp -s scripts/render_comment/package-lock.json "$tools/package-lock.json" \
  || [ ! -d "$tools/node_modules" ]; then
  if ! command -v npm >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq npm >/dev/null
  fi
  rm -rf "$tools/node_modules"
  cp scripts/render_comment/package.json scripts/render_comment/package-lock.json "$tools/"
  (cd "$tools" && npm ci --silent --no-audit --no-fund)
fi
cp scripts/render_comment/render.mjs "$tools/"

if [ -z "${CHROMIUM:-}" ]; then
  if ! command -v chromium >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core >/dev/null
  fi
  CHROMIUM=$(command -v chromium)
fi
export CHROMIUM

ORGOPS_RENDER_CHECK="$PWD/$tools" cargo test --locked --test it comment::render_check -- --nocapture
