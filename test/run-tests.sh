#!/usr/bin/env bash
# Runs every test suite with Node's test runner (TypeScript through tsx).
#
#   npm test                 (builds first, then runs this script)
#   bash test/run-tests.sh   (builds only if core/dist is missing)
#
# When run as root, first installs the Debian tools the tests need, only those missing
# (apt-get update once, then apt-get install --no-install-recommends). The end-to-end tests start
# their own Postern processes on free loopback ports and stop them (by pid) when they finish;
# nothing listens on a standard port. Exits with the test runner's exit code.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# ---- Debian tools the tests use: command -> package
declare -A TOOLS=(
  [python3]=python3 # test/smtp-*.test.ts send mail with python3's smtplib
  [swaks]=swaks
)
missing=()
for cmd in "${!TOOLS[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${TOOLS[$cmd]}")
done
if ((${#missing[@]} > 0)); then
  if [[ $(id -u) -eq 0 ]]; then
    echo "== apt-get install ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y --no-install-recommends "${missing[@]}"
  else
    echo "warning: missing ${missing[*]} and not root, so not installing them; tests that need them will fail" >&2
  fi
fi

# ---- the build the end-to-end tests run (`npm test` has just done it)
if [[ ! -f core/dist/cli/main.js ]]; then
  echo "== core/dist missing: npx tsc -b"
  npx tsc -b
fi

# ---- test files (Node 20's --test does not expand globs itself)
shopt -s nullglob
files=(test/*.test.ts sdk/test/*.test.ts plugins/*/test/*.test.ts)
shopt -u nullglob
if ((${#files[@]} == 0)); then
  echo "no test files found" >&2
  exit 1
fi

echo "== node --test: ${#files[@]} files"
status=0
node --import tsx --test --test-concurrency=2 "${files[@]}" || status=$?
exit "$status"
