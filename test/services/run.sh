#!/usr/bin/env bash
# npm run test:services: starts every real server the service suites need, on loopback,
# runs those suites, and stops the servers whatever happens. Each server has a script in
# test/services/servers/<name>.sh with `start` (install if missing, start, wait until it
# answers, print `export VAR=value` lines for the suites) and `stop`.
# Usage: test/services/run.sh [server …] [-- vitest arguments …]   (default: every server script)
#   e.g. test/services/run.sh ferretdb -- test/services/read-store.mongodb.test.ts
#        test/services/run.sh [server …] --exec <command …>   runs that command instead of the
#        suites, with the servers' variables exported (the scale-out benchmark)
set -euo pipefail
cd "$(dirname "$0")/../.."
export STRATUS_SERVICES_DIR="${STRATUS_SERVICES_DIR:-$PWD/.services}"
mkdir -p "$STRATUS_SERVICES_DIR"

servers=()
vitest_args=()
exec_command=()
while [ "$#" -gt 0 ]; do
  if [ "$1" = "--" ]; then shift; vitest_args=("$@"); break; fi
  if [ "$1" = "--exec" ]; then shift; exec_command=("$@"); break; fi
  servers+=("$1"); shift
done
if [ "${#servers[@]}" -eq 0 ]; then
  servers=()
  for script in test/services/servers/*.sh; do [ -e "$script" ] && servers+=("$(basename "$script" .sh)"); done
fi

started=()
stop_all() {
  for ((i = ${#started[@]} - 1; i >= 0; i--)); do
    bash "test/services/servers/${started[$i]}.sh" stop || echo "could not stop ${started[$i]}" >&2
  done
}
trap stop_all EXIT

for server in "${servers[@]}"; do
  echo "== starting $server" >&2
  started+=("$server")
  exports="$(bash "test/services/servers/$server.sh" start)"
  eval "$exports"
done

if [ "${#exec_command[@]}" -gt 0 ]; then
  "${exec_command[@]}"
else
  npx vitest run --config vitest.services.config.ts "${vitest_args[@]}"
fi
