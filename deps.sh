#!/bin/sh
# deps.sh - installs what Switchboard needs on Debian 12 (or a derivative).
#
#   ./deps.sh           build dependencies (compiler, autotools, libraries, and Node.js/npm
#                       for the browser build of Autobahn|JS in vendor/package.json, which
#                       make copies into www/vendor/)
#   ./deps.sh --test    the same, plus what `make check` uses (curl, Autobahn|Python,
#                       Chromium for the page tests, nginx and PHP for the examples' tests,
#                       and the npm packages in tests/package.json)
#   ./deps.sh --bench   the same as --test, plus nchan for nginx and wrk
#
# Only missing Debian packages are installed; run as root or with sudo.
set -eu
cd "$(dirname "$0")"

build="build-essential autoconf automake pkg-config libmicrohttpd-dev
  libwebsockets-dev libwebsockets-evlib-uv libjansson-dev libsqlite3-dev
  libcurl4-openssl-dev libssl-dev libuv1-dev libmsgpack-dev"
test="curl ca-certificates python3-autobahn chromium nginx php-cli"
bench="libnginx-mod-nchan wrk"

want=$build
case "${1:-}" in
--test) want="$build $test" ;;
--bench) want="$build $test $bench" ;;
"") ;;
*) echo "usage: ./deps.sh [--test|--bench]" >&2; exit 2 ;;
esac
command -v npm >/dev/null 2>&1 || want="$want nodejs npm"

sudo=
[ "$(id -u)" = 0 ] || sudo=sudo
missing=
for p in $want; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "deps.sh: installing$missing"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing
fi

echo "deps.sh: installing browser libraries from vendor/package-lock.json"
(cd vendor && npm ci --no-audit --no-fund --loglevel=error)
if [ "${1:-}" != "" ]; then
	echo "deps.sh: installing test packages from tests/package-lock.json"
	(cd tests && npm ci --no-audit --no-fund --loglevel=error)
fi
echo "deps.sh: ok"
