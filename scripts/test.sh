#!/usr/bin/env bash
# The project's one test command (npm test): type check, lint, then every mocha suite (unit, wire, conformance)
# against a real PostgreSQL. The last line printed is "N passed, N failed, N skipped".
set -uo pipefail
cd "$(dirname "$0")/.."
status=0
# The third-party Meteor clients of test/wire/meteor-clients.test.ts are a package of their own (test/clients/),
# installed when missing or older than its lock file.
if [ ! -f test/clients/node_modules/.package-lock.json ] ||
  [ test/clients/package-lock.json -nt test/clients/node_modules/.package-lock.json ]; then
  echo "== installing test/clients"; npm ci --prefix test/clients --no-audit --no-fund --ignore-scripts || status=1
fi
echo "== typecheck"; npx tsc --noEmit -p tsconfig.json || status=1
echo "== lint"; npx biome check . || status=1
# The type-aware rules biome cannot check reliably (eslint.config.js): floating promises, exhaustive switches.
echo "== lint (types)"; npx --no-install eslint . || status=1
echo "== tests"
summary=$(mktemp); export PGRT_SUMMARY_FILE=$summary
npx c8 --reporter=text-summary --reporter=lcov --report-dir coverage \
  mocha --reporter ./test/support/reporter.cjs \
  '{core,adapters,transports,conformance,examples,test}/**/*.test.ts' || status=1
if [ "$status" -ne 0 ]; then echo "npm test: FAILED (typecheck, lint or tests)"; fi
if [ -s "$summary" ]; then
  if [ "$status" -ne 0 ] && grep -q ' 0 failed' "$summary"; then
    echo "1 passed, 1 failed"   # tests passed but typecheck/lint did not: never report green
  else
    tail -n 1 "$summary"
  fi
else
  echo "0 passed, 1 failed"     # mocha did not finish its run
  status=1
fi
rm -f "$summary"
exit "$status"
