#!/usr/bin/env bash
# Runs the edge tests under Deno 2.5.x, the version Deno Deploy documents,
# with the deno package from npm. Extra arguments go to `deno test`.
#
# The service code is type-checked under 2.5. The tests run with --no-check
# because Deno 2.5's web types and @types/node disagree about Blob and
# RequestInit in test code; Deno 2.9 type-checks the tests (`deno task check`).
set -euo pipefail

DENO_25_VERSION="${DENO_25_VERSION:-2.5.7}"
cd "$(dirname "$0")/.."

# Deno 2.5 trusts only its bundled Mozilla roots by default, but
# Deno 2.9 also reads the system store. Machines that reach npm through a
# proxy with its own CA need the system store.
export DENO_TLS_CA_STORE="${DENO_TLS_CA_STORE:-system,mozilla}"

npx -y "deno@${DENO_25_VERSION}" --version
npx -y "deno@${DENO_25_VERSION}" check edge/ scripts/bench_load.ts
exec npx -y "deno@${DENO_25_VERSION}" test --no-check \
  --allow-read --allow-write --allow-env --allow-sys --allow-run \
  --allow-net=127.0.0.1,localhost \
  "$@" tests/edge/
