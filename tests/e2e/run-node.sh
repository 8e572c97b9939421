#!/bin/sh
# run-node.sh - automake LOG_COMPILER for tests/e2e/*.test.mjs.
#
# Runs one node:test file in-process with the TAP reporter, so that each
# top-level test() is an "ok N - name" line at column 0 that automake's
# tap-driver counts as one test case (subtests are indented and ignored).
# Exits non-zero when any test fails (tap-driver then also reports ERROR).
#
# Environment (set by Makefile.am's AM_TESTS_ENVIRONMENT):
#   SWITCHBOARD_BIN     absolute path of the built src/switchboard
#   SWITCHBOARD_SRCDIR  absolute path of the source tree
#   SB_E2E              "no" (configure --disable-e2e) skips the file
# Optional: SB_TEST_LOG=1 streams every gateway's stderr live;
#           SB_TEST_KEEP=1 keeps the temp dirs; SB_E2E_TIMEOUT (s, default 300).
set -u
test_file=${1:?usage: run-node.sh FILE.test.mjs}

if [ "${SB_E2E:-yes}" = no ]; then
	echo "1..0 # SKIP end-to-end tests disabled (./configure --disable-e2e)"
	exit 0
fi
if ! command -v node >/dev/null 2>&1; then
	echo "1..0 # SKIP node not found (install nodejs >= 20)"
	exit 0
fi
here=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)
if [ ! -d "$here/../node_modules/eventsource" ] || [ ! -d "$here/../node_modules/ws" ] ||
	[ ! -d "$here/../node_modules/playwright-core" ]; then
	echo "Bail out! tests/node_modules is missing: run ./deps.sh --test (or: cd tests && npm ci)"
	exit 1
fi

# A hard bound so a hung gateway or test cannot stall make check; the
# helper kills its gateways on SIGTERM.
if command -v timeout >/dev/null 2>&1; then
	exec timeout --kill-after=10 "${SB_E2E_TIMEOUT:-300}" \
		node --test-reporter=tap "$test_file"
fi
exec node --test-reporter=tap "$test_file"
