#!/bin/sh
# publish.sh - publish one event to Switchboard from a shell script or a cron job.
#
#   publish.sh TOPIC [ARGS_JSON] [KWARGS_JSON]
#   SWITCHBOARD_URL=http://127.0.0.1:8080 ./publish.sh com.example.news '["hello"]' '{"n": 1}'
#
# Prints the gateway's reply ({"id": N}) and exits 0 once the event is stored;
# prints the gateway's error and exits 1 when it was not published.
set -eu
url=${SWITCHBOARD_URL:-http://127.0.0.1:8080}
topic=${1:?usage: publish.sh TOPIC [ARGS_JSON] [KWARGS_JSON]}
args=${2:-[]}
kwargs=${3:-"{}"}

# The topic goes into a JSON string as it is: refuse what would need escaping.
case $topic in
*[\"\\]*) echo "publish.sh: a topic cannot contain \" or \\" >&2; exit 2 ;;
esac

reply=$(mktemp)
trap 'rm -f "$reply"' EXIT
# A reply always comes within the gateway's store-and-acknowledge time;
# --max-time keeps a hung network from hanging the caller.
status=$(curl -sS --max-time 10 -o "$reply" -w '%{http_code}' \
	-H 'Content-Type: application/json' \
	--data-binary "{\"topic\": \"$topic\", \"args\": $args, \"kwargs\": $kwargs}" \
	"$url/publish") || { echo "publish.sh: cannot reach $url" >&2; exit 1; }

# 200 {"id": N} is success. 4xx is a request the gateway could not accept;
# 200 {"error": ...} is one WAMP refused (not authorized, a reserved topic).
if [ "$status" != 200 ] || grep -q '"error"' "$reply"; then
	echo "publish.sh: HTTP $status: $(cat "$reply")" >&2
	exit 1
fi
cat "$reply"
echo
