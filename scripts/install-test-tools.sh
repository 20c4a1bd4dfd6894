#!/usr/bin/env bash
# Installs what the end-to-end tests (test/e2e) need, outside the project's own dependencies:
#   - Debian packages: code-server's native builds (libkrb5-dev libxkbfile-dev libsecret-1-dev
#     pkg-config), ripgrep (its rg goes into @vscode/ripgrep's cache) and chromium (the browser);
#   - code-server@4.100.3 (VS Code 1.100, Node 20) into .test-tools/ at the repo root.
# Idempotent: a second run does nothing that is already done. Offline except for npm and apt.
# Never part of `npm ci`: CI calls it from .ci/run before `npm test`; without it the e2e tests skip.
# test/e2e/README.md describes the rig this installs.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
tools="$root/.test-tools"
code_server_version="4.100.3"
start=$(date +%s)

# 1. Debian packages (apt-get update only when something is missing and apt cannot find it).
packages=(libkrb5-dev libxkbfile-dev libsecret-1-dev pkg-config ripgrep chromium)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-test-tools: apt packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  as_root=()
  [ "$(id -u)" = 0 ] || as_root=(sudo)
  if ! "${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
    "${as_root[@]}" apt-get update -qq
    "${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

# 2. @vscode/ripgrep 1.15.11 downloads rg from GitHub unless its cache holds the release asset:
#    a gzipped tar holding Debian's rg as `rg`.
cache="${TMPDIR:-/tmp}/vscode-ripgrep-cache-1.15.11"
asset="$cache/ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz"
if [ ! -s "$asset" ]; then
  mkdir -p "$cache"
  staging="$(mktemp -d)"
  cp "$(command -v rg)" "$staging/rg"
  tar -czf "$asset.partial" -C "$staging" rg
  mv "$asset.partial" "$asset"
  rm -rf "$staging"
fi

# 3. code-server into .test-tools/ (its own package.json, so the repo's lockfile is untouched).
installed="$(node -p "try { require('$tools/node_modules/code-server/package.json').version } catch { '' }")"
if [ "$installed" != "$code_server_version" ] || [ ! -x "$tools/node_modules/.bin/code-server" ]; then
  echo "install-test-tools: code-server@$code_server_version into .test-tools/ (about 80 s, 300 MB)"
  mkdir -p "$tools"
  [ -f "$tools/package.json" ] || printf '{\n  "name": "learning-mechanics-test-tools",\n  "private": true\n}\n' >"$tools/package.json"
  # As root, code-server's postinstall needs unsafe_perm; node-pty's `npx node-gyp` needs yes.
  # npm's nodedir (the local Node headers) is inherited from the user's config on purpose.
  npm_config_unsafe_perm=true npm_config_yes=true \
    npm install --prefix "$tools" --no-audit --no-fund --save-exact --loglevel=error "code-server@$code_server_version"
fi

"$tools/node_modules/.bin/code-server" --version >/dev/null
echo "install-test-tools: ready in $(($(date +%s) - start)) s (code-server $code_server_version, $(command -v chromium), rg cache $asset)"
