#!/bin/bash
# Switchboard vs nginx+nchan benchmark (see bench/README.md).
#
# Builds bench/sseload.c and bench/wampload.c, starts Switchboard
# (src/switchboard, temp config and history) and nginx+nchan (temp nginx.conf,
# foreground, 1 worker) on free loopback ports, runs the same loads against
# both in one run, prints a table with Switchboard/nchan ratios and a Markdown
# block for bench/RESULTS.md. The REST bridge tests (Switchboard only) add a
# plain nginx as the back end / receiver and a RESTCallee and a
# MessageForwarder to Switchboard's config.
#
# Usage: bench/run.sh [--only switchboard|nchan] [--quick]
# Environment: SWITCHBOARD_BIN (default ../src/switchboard), DURATION (fan-out
# seconds, 10), WRK_DURATION (10), WRK_CONNS (32), BIG (10000), SMALL (1000),
# REPLAY_CLIENTS (1000), SB_THREADS (busy loop threads = nginx workers, 1),
# SB_SYNC (history.sync, normal), SB_CONN_MEM (web transport connection_memory,
# 8192), WAMP_PUBS (WAMP fan-out publishers, "http wamp"), FWD_EVENTS
# (forwarder burst, 20000), TESTS (subset of "idle fan1k fan10k replay wrk"
# (= sse), "wampidle wampfan1k wampfan10k wamplat rpc1 rpc100 httpcall"
# (= wamp) and "restcallee forwarder" (= bridge); default all), BRIDGE_PIN
# (taskset for the one-at-a-time bridge runs, 1), KEEP_TMP=1.
set -u
set -o pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(dirname "$HERE")
SB_BIN=${SWITCHBOARD_BIN:-$TOP/src/switchboard}
DURATION=${DURATION:-10}
WRK_DURATION=${WRK_DURATION:-10}
WRK_CONNS=${WRK_CONNS:-32}
BIG=${BIG:-10000}
SMALL=${SMALL:-1000}
REPLAY_CLIENTS=${REPLAY_CLIENTS:-1000}
SB_THREADS=${SB_THREADS:-1}
SB_SYNC=${SB_SYNC:-normal}
SB_CONN_MEM=${SB_CONN_MEM:-8192}
REPLAY_PUBCONNS=${REPLAY_PUBCONNS:-4}
WAMP_PUBS=${WAMP_PUBS:-http wamp}
FWD_EVENTS=${FWD_EVENTS:-20000}
SSE_TESTS="idle fan1k fan10k replay wrk"
WAMP_TESTS="wampidle wampfan1k wampfan10k wamplat rpc1 rpc100 httpcall"
BRIDGE_TESTS="restcallee forwarder"
TESTS=${TESTS:-$SSE_TESTS $WAMP_TESTS $BRIDGE_TESTS}
TESTS=" $TESTS "
TESTS=${TESTS// sse / $SSE_TESTS }
TESTS=${TESTS// wamp / $WAMP_TESTS }
TESTS=${TESTS// bridge / $BRIDGE_TESTS }
ONLY=
while [ $# -gt 0 ]; do
	case "$1" in
	--only) ONLY=$2; shift 2 ;;
	--quick) DURATION=3; WRK_DURATION=3; BIG=2000; SMALL=500; REPLAY_CLIENTS=200; FWD_EVENTS=5000; shift ;;
	-h|--help) sed -n '2,21p' "$0"; exit 0 ;;
	*) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done

TARGETS="switchboard nchan"
[ -n "$ONLY" ] && TARGETS=$ONLY
# The REST bridge tests have no nchan side: nginx + nchan only starts for the
# SSE and WAMP tests.
if [ "$TARGETS" != nchan ]; then
	NEEDS_NCHAN=0
	for t in $SSE_TESTS $WAMP_TESTS; do [[ "$TESTS" == *" $t "* ]] && NEEDS_NCHAN=1; done
	[ "$NEEDS_NCHAN" = 0 ] && TARGETS=switchboard
fi
TMP=$(mktemp -d "${TMPDIR:-/tmp}/sbbench.XXXXXX")
chmod 755 "$TMP"
SB_PID=
NX_PID=
BE_PID=
LOAD_PID=
RESTORE=()	# sysctl settings to put back on exit

log() { echo "run.sh: $*" >&2; }

cleanup() {
	[ -n "$LOAD_PID" ] && kill "$LOAD_PID" 2>/dev/null
	[ -n "$SB_PID" ] && kill -TERM "$SB_PID" 2>/dev/null
	[ -n "$NX_PID" ] && kill -TERM "$NX_PID" 2>/dev/null
	[ -n "$BE_PID" ] && kill -TERM "$BE_PID" 2>/dev/null
	sleep 0.5
	[ -n "$SB_PID" ] && kill -KILL "$SB_PID" 2>/dev/null
	[ -n "$NX_PID" ] && kill -KILL "$NX_PID" 2>/dev/null
	[ -n "$BE_PID" ] && kill -KILL "$BE_PID" 2>/dev/null
	local r
	for r in "${RESTORE[@]}"; do sysctl -q -w "$r" >/dev/null 2>&1; done
	if [ "${KEEP_TMP:-0}" = 1 ]; then log "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- limits ------------------------------------------------------------------
NEED_FDS=$((BIG + 500))
ulimit -Hn 65536 2>/dev/null
ulimit -n "$(ulimit -Hn)" 2>/dev/null
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$NEED_FDS" ]; then
	log "ulimit -n is $(ulimit -n), need $NEED_FDS for $BIG connections"; exit 2
fi
sysctl_raise() {	# name minimum
	local cur
	cur=$(sysctl -n "$1" 2>/dev/null) || return 0
	if [ "$cur" -lt "$2" ]; then
		if sysctl -q -w "$1=$2" >/dev/null 2>&1; then RESTORE+=("$1=$cur")
		else log "could not raise $1 from $cur to $2"; fi
	fi
}
sysctl_raise net.core.somaxconn 8192
sysctl_raise net.ipv4.tcp_max_syn_backlog 8192
read -r PLO PHI < <(sysctl -n net.ipv4.ip_local_port_range 2>/dev/null || echo "32768 60999")
if [ $((PHI - PLO)) -lt $((3 * BIG)) ]; then
	if sysctl -q -w net.ipv4.ip_local_port_range="20000 64999" >/dev/null 2>&1; then
		RESTORE+=("net.ipv4.ip_local_port_range=$PLO $PHI")
	else
		log "could not widen net.ipv4.ip_local_port_range ($PLO $PHI)"
	fi
	read -r PLO PHI < <(sysctl -n net.ipv4.ip_local_port_range 2>/dev/null || echo "32768 60999")
fi
# Servers listen outside the ephemeral range, so that no client socket (or
# its TIME_WAIT) ever holds the port a server wants to bind.
if [ "$PLO" -gt 11000 ]; then PORT_LO=$((PLO - 10000 > 1024 ? PLO - 10000 : 1025)); PORT_N=$((PLO - PORT_LO))
else PORT_LO=$((PHI + 1)); PORT_N=$((65535 - PHI)); fi
LIMITS="ulimit -n $(ulimit -n); somaxconn $(sysctl -n net.core.somaxconn 2>/dev/null); \
tcp_max_syn_backlog $(sysctl -n net.ipv4.tcp_max_syn_backlog 2>/dev/null); \
ip_local_port_range $(sysctl -n net.ipv4.ip_local_port_range 2>/dev/null | tr '\t' ' '); \
tcp_tw_reuse $(sysctl -n net.ipv4.tcp_tw_reuse 2>/dev/null)"
log "limits: $LIMITS"

# ---- build the load generator --------------------------------------------------
LOAD=$TMP/sseload
${CC:-cc} -O2 -Wall -Wextra -o "$LOAD" "$HERE/sseload.c" || { log "cannot build sseload"; exit 2; }
# wampload: same flags, plus libwebsockets (client, on its libuv event
# library), libuv and jansson. Without them the WAMP tests are skipped.
WLOAD=$TMP/wampload
WLOAD_OK=0
wants_wamp() { local t; for t in $WAMP_TESTS; do [[ "$TESTS" == *" $t "* ]] && return 0; done; return 1; }
if wants_wamp; then
	if WLIBS=$(pkg-config --cflags --libs libwebsockets libuv jansson 2>/dev/null) &&
		# shellcheck disable=SC2086
		${CC:-cc} -O2 -Wall -Wextra -o "$WLOAD" "$HERE/wampload.c" $WLIBS; then
		WLOAD_OK=1
	else
		log "cannot build wampload (apt-get install libwebsockets-dev libuv1-dev libjansson-dev); WAMP tests skipped"
	fi
fi

free_port() {
	local p
	for _ in $(seq 1 200); do
		p=$((PORT_LO + RANDOM % PORT_N))
		if ! ss -Hltn "sport = :$p" 2>/dev/null | grep -q .; then echo "$p"; return 0; fi
	done
	return 1
}

wait_port() {	# port seconds
	local i
	for i in $(seq 1 $(($2 * 10))); do
		ss -Hltn "sport = :$1" 2>/dev/null | grep -q . && return 0
		sleep 0.1
	done
	return 1
}

# ---- Switchboard ---------------------------------------------------------------
SB_PORT=
start_switchboard() {
	[ -x "$SB_BIN" ] || { log "no Switchboard binary at $SB_BIN"; return 1; }
	SB_PORT=$(free_port)
	mkdir -p "$TMP/sb"
	rm -f "$TMP/sb/bench.db"*
	# The REST bridge components, when their back end runs: a RESTCallee
	# (bench.rest, URLs relative to the back end) and a MessageForwarder of
	# topic bench.fwd to the receiver. Container components, as in a
	# Crossbar config; they run in-process and nothing connects to transport.
	local bridge='' tr
	if [ -n "$BE_PORT" ]; then
		tr="\"transport\": {\"type\": \"websocket\", \"url\": \"ws://127.0.0.1:$SB_PORT/ws\",
      \"endpoint\": {\"type\": \"tcp\", \"host\": \"127.0.0.1\", \"port\": $SB_PORT}}"
		bridge=$(cat <<EOF
, {
    "type": "container", "options": {"pythonpath": [".."]},
    "components": [{
      "type": "class", "classname": "crossbar.bridge.rest.RESTCallee", "realm": "realm1", "id": "bench-rest",
      "extra": {"procedure": "bench.rest", "baseurl": "http://127.0.0.1:$BE_PORT/"},
      $tr
    }, {
      "type": "class", "classname": "crossbar.bridge.rest.MessageForwarder", "realm": "realm1", "id": "bench-fwd",
      "extra": {"subscriptions": [{"topic": "bench.fwd", "url": "http://127.0.0.1:$BE_PORT/recv"}],
                "expectedcode": 200},
      $tr
    }]
  }
EOF
)
	fi
	cat >"$TMP/sb/config.json" <<EOF
{
  "version": 2,
  "workers": [{
    "type": "router",
    "realms": [{"name": "realm1", "roles": [{"name": "anonymous", "permissions": [
      {"uri": "", "match": "prefix",
       "allow": {"call": true, "register": true, "publish": true, "subscribe": true},
       "disclose": {"caller": false, "publisher": false}, "cache": true}]}]}],
    "transports": [{
      "type": "web",
      "endpoint": {"type": "tcp", "interface": "127.0.0.1", "port": $SB_PORT},
      "options": {"connection_memory": $SB_CONN_MEM},
      "paths": {
        "ws": {"type": "websocket"},
        "publish": {"type": "publisher", "realm": "realm1", "role": "anonymous"},
        "call": {"type": "caller", "realm": "realm1", "role": "anonymous"},
        "sse": {"type": "eventsource", "realm": "realm1", "role": "anonymous",
                "options": {"queue_limit": 100000}},
        "info": {"type": "nodeinfo"}
      }
    }]
  }$bridge],
  "history": {"path": "bench.db", "sync": "$SB_SYNC",
              "retention": [{"uri": "", "match": "prefix", "max_events": 100000, "max_age": 86400}]}
}
EOF
	"$SB_BIN" check --config "$TMP/sb/config.json" >"$TMP/sb/check.log" 2>&1 ||
		{ log "switchboard check failed:"; cat "$TMP/sb/check.log" >&2; return 1; }
	"$SB_BIN" start --config "$TMP/sb/config.json" --loglevel warn \
		>"$TMP/sb/out.log" 2>"$TMP/sb/err.log" &
	SB_PID=$!
	if ! wait_port "$SB_PORT" 10; then
		log "switchboard did not listen on $SB_PORT:"; tail -5 "$TMP/sb/err.log" >&2
		kill -KILL "$SB_PID" 2>/dev/null; SB_PID=; return 1
	fi
	curl -s -o /dev/null -H 'Content-Type: application/json' \
		-d '{"topic":"warmup","args":[0,0]}' "http://127.0.0.1:$SB_PORT/publish"
	sleep 0.5
	return 0
}

# SIGTERM, up to 5 s to exit, then SIGKILL.
stop_pid() {
	[ -z "$1" ] && return
	kill -TERM "$1" 2>/dev/null
	for _ in $(seq 1 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

stop_switchboard() {
	stop_pid "$SB_PID"
	SB_PID=
}

# ---- nginx + nchan -------------------------------------------------------------
NCHAN_SO=
for f in /usr/lib/nginx/modules/ngx_nchan_module.so /usr/share/nginx/modules/ngx_nchan_module.so; do
	[ -f "$f" ] && NCHAN_SO=$f && break
done
[ -z "$NCHAN_SO" ] && NCHAN_SO=$(find /usr/lib/nginx /usr/share/nginx -name 'ngx_nchan_module.so' 2>/dev/null | head -1)
NX_PORT=
start_nchan() {
	command -v nginx >/dev/null || { log "nginx not installed (apt-get install nginx libnginx-mod-nchan)"; return 1; }
	[ -n "$NCHAN_SO" ] || { log "nchan module not found (apt-get install libnginx-mod-nchan)"; return 1; }
	NX_PORT=$(free_port)
	local d=$TMP/nginx fds
	mkdir -p "$d/tmp"
	chmod -R 777 "$d/tmp"
	fds=$(ulimit -n)
	cat >"$d/nginx.conf" <<EOF
load_module $NCHAN_SO;
worker_processes $SB_THREADS;
daemon off;
pid $d/nginx.pid;
error_log $d/error.log warn;
worker_rlimit_nofile $fds;
events { worker_connections $((fds - 100)); multi_accept on; }
http {
  access_log off;
  client_body_temp_path $d/tmp/body;
  proxy_temp_path $d/tmp/proxy;
  fastcgi_temp_path $d/tmp/fcgi;
  uwsgi_temp_path $d/tmp/uwsgi;
  scgi_temp_path $d/tmp/scgi;
  keepalive_requests 100000000;
  keepalive_timeout 300s;
  nchan_message_buffer_length 1000;
  nchan_message_timeout 1h;
  server {
    listen 127.0.0.1:$NX_PORT backlog=8192;
    location = /pub { nchan_publisher; nchan_channel_id \$arg_channel; }
    location = /sub {
      nchan_subscriber eventsource;
      nchan_channel_id \$arg_channel;
      nchan_subscriber_first_message newest;
    }
    location = /wsub {
      nchan_subscriber websocket;
      nchan_channel_id \$arg_channel;
      nchan_subscriber_first_message newest;
    }
  }
}
EOF
	nginx -c "$d/nginx.conf" -p "$d/" >"$d/out.log" 2>&1 &
	NX_PID=$!
	if ! wait_port "$NX_PORT" 10; then
		log "nginx did not listen on $NX_PORT:"; cat "$d/out.log" "$d/error.log" >&2
		kill -KILL "$NX_PID" 2>/dev/null; NX_PID=; return 1
	fi
	sleep 0.3
	return 0
}

stop_nchan() {
	stop_pid "$NX_PID"
	NX_PID=
}

# ---- the REST bridge's back end: plain nginx (no nchan) ------------------------
# GET /rest answers a small fixed JSON (the RESTCallee's back end, also called
# directly for comparison); POST /recv answers 200 and logs one line per
# request with the forwarder's X-Switchboard-Event-Id (the receiver); /status
# is stub_status, whose "accepts" counts the connections made to it.
BE_PORT=
BE_LOG=
start_backend() {
	command -v nginx >/dev/null || { log "nginx not installed (apt-get install nginx)"; return 1; }
	BE_PORT=$(free_port)
	local d=$TMP/backend
	mkdir -p "$d/tmp"
	chmod -R 777 "$d/tmp"
	BE_LOG=$d/recv.log
	cat >"$d/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections 4096; multi_accept on; }
http {
  access_log off;
  client_body_temp_path $d/tmp/body;
  proxy_temp_path $d/tmp/proxy;
  fastcgi_temp_path $d/tmp/fcgi;
  uwsgi_temp_path $d/tmp/uwsgi;
  scgi_temp_path $d/tmp/scgi;
  keepalive_requests 100000000;
  keepalive_timeout 300s;
  log_format recv '\$msec \$http_x_switchboard_event_id \$status \$http_x_switchboard_topic';
  server {
    listen 127.0.0.1:$BE_PORT backlog=8192;
    location = /rest { default_type application/json; return 200 '{"ok":true}'; }
    location = /recv { access_log $BE_LOG recv; default_type application/json; return 200 '{"ok":true}'; }
    location = /status { stub_status; }
  }
}
EOF
	nginx -c "$d/nginx.conf" -p "$d/" >"$d/out.log" 2>&1 &
	BE_PID=$!
	if ! wait_port "$BE_PORT" 10; then
		log "back-end nginx did not listen on $BE_PORT:"; cat "$d/out.log" "$d/error.log" >&2
		kill -KILL "$BE_PID" 2>/dev/null; BE_PID=; BE_PORT=; return 1
	fi
	return 0
}
stop_backend() {
	stop_pid "$BE_PID"
	BE_PID=
}
backend_accepts() {	# connections the back end has accepted so far
	curl -s "http://127.0.0.1:$BE_PORT/status" | awk '/^ *[0-9]+ +[0-9]+ +[0-9]+/ {print $1; exit}'
}

# The process doing the work: Switchboard's only process, nginx's worker(s).
server_pids() {
	case $1 in
	switchboard) echo "$SB_PID" ;;
	nchan) pgrep -P "$NX_PID" | tr '\n' ' ' ;;
	esac
}
port_of() { case $1 in switchboard) echo "$SB_PORT" ;; nchan) echo "$NX_PORT" ;; esac; }
alive() {
	case $1 in
	switchboard) [ -n "$SB_PID" ] && kill -0 "$SB_PID" 2>/dev/null ;;
	nchan) [ -n "$NX_PID" ] && kill -0 "$NX_PID" 2>/dev/null ;;
	esac
}
start_target() { case $1 in switchboard) start_switchboard ;; nchan) start_nchan ;; esac; }
stop_target() { case $1 in switchboard) stop_switchboard ;; nchan) stop_nchan ;; esac; }
ensure_up() {	# restart a target that died (recorded in NOTES)
	alive "$1" && return 0
	NOTES+=("$1 was not running before '$2' (crashed?); restarted")
	[ "$1" = switchboard ] && [ -f "$TMP/sb/err.log" ] && tail -5 "$TMP/sb/err.log" >&2
	stop_target "$1"
	start_target "$1"
}
rss_kib() {	# sum of VmRSS over the pids
	local s=0 p v
	for p in "$@"; do
		v=$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null)
		s=$((s + ${v:-0}))
	done
	echo "$s"
}
cpu_ticks() {	# utime+stime (all threads) over the pids
	local s=0 p v
	for p in "$@"; do
		v=$(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null)
		s=$((s + ${v:-0}))
	done
	echo "$s"
}
CLK_TCK=$(getconf CLK_TCK)

declare -A R		# results: R[target.key]=value
NOTES=()
kv() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1" | head -1; }

# ---- tests ---------------------------------------------------------------------
test_idle() {	# target
	local t=$1 port pids base rss out i
	port=$(port_of "$t")
	pids=$(server_pids "$t")
	base=$(rss_kib $pids)
	out=$TMP/idle.$t.out
	"$LOAD" idle --target "$t" --port "$port" --topic idle -n "$BIG" --hold 0 --quiet >"$out" 2>&1 &
	LOAD_PID=$!
	for i in $(seq 1 600); do
		grep -q '^READY' "$out" && break
		kill -0 "$LOAD_PID" 2>/dev/null || break
		sleep 0.1
	done
	sleep 2
	rss=$(rss_kib $pids)
	sleep 1
	kill -TERM "$LOAD_PID" 2>/dev/null
	wait "$LOAD_PID"
	LOAD_PID=
	local res
	res=$(grep '^RESULT' "$out")
	R[$t.idle_base_kib]=$base
	R[$t.idle_rss_kib]=$rss
	R[$t.idle_open]=$(kv "$res" open)
	R[$t.idle_per_conn_kib]=$(awk -v a="$rss" -v b="$base" -v n="$BIG" 'BEGIN{printf "%.2f", (a-b)/n}')
	log "$t idle: base ${base} KiB, with $BIG idle: ${rss} KiB, ${R[$t.idle_per_conn_kib]} KiB/conn, open ${R[$t.idle_open]:-?}"
	grep -v '^RESULT' "$out" >&2
}

# A tool's RESULT line on stdout; the rest of its output goes to the log,
# indented. Fails when the tool printed no RESULT.
tool_result() {	# output-file
	sed 's/^/  /' "$1" | grep -v RESULT >&2
	grep '^RESULT' "$1"
}

test_fanout() {	# target key subs rate
	local t=$1 key=$2 n=$3 rate=$4 port pids c0 c1 out res args
	ensure_up "$t" "fanout $key" || return
	port=$(port_of "$t")
	pids=$(server_pids "$t")
	out=$TMP/$key.$t.out
	# Fixed rate runs twice as long: its p99 rests on few events.
	if [ "$rate" = 0 ]; then args="--rate 0 --window 4 --pubconns 4 --duration $DURATION"
	else args="--rate $rate --pubconns 4 --duration $((DURATION * 2))"; fi
	c0=$(cpu_ticks $pids)
	# shellcheck disable=SC2086
	"$LOAD" fanout --target "$t" --port "$port" --topic "$key" -n "$n" $args \
		--quiet >"$out" 2>&1
	c1=$(cpu_ticks $pids)
	res=$(tool_result "$out") || { NOTES+=("$t $key: no result (see log above)"); return; }
	local f
	for f in dps losses dups p50_ms p99_ms max_ms events established deliveries reorder ended pubfail \
		first_p50_ms first_p99_ms last_p50_ms last_p99_ms; do
		R[$t.$key.$f]=$(kv "$res" $f)
	done
	R[$t.$key.cpu_us]=$(awk -v c=$((c1 - c0)) -v hz="$CLK_TCK" -v d="${R[$t.$key.deliveries]}" \
		'BEGIN{ if (d > 0) printf "%.2f", c / hz * 1e6 / d; else print "n/a" }')
	alive "$t" || NOTES+=("$t died during fanout $key")
}

test_replay() {	# target
	local t=$1 port out res f
	ensure_up "$t" replay || return
	port=$(port_of "$t")
	out=$TMP/replay.$t.out
	"$LOAD" replay --target "$t" --port "$port" --topic replay --count 1000 --back 500 \
		--clients "$REPLAY_CLIENTS" --live 1000 --pubconns "$REPLAY_PUBCONNS" --quiet >"$out" 2>&1
	res=$(tool_result "$out") || { NOTES+=("$t replay: no result"); return; }
	for f in exact established short missing dups unexpected disorder connect_s replayed_s complete_s unknown expired; do
		R[$t.replay.$f]=$(kv "$res" $f)
	done
	alive "$t" || NOTES+=("$t died during replay")
}

test_wrk() {	# target
	local t=$1 port url lua out
	ensure_up "$t" wrk || return
	port=$(port_of "$t")
	lua=$TMP/wrk.$t.lua
	if [ "$t" = switchboard ]; then
		url="http://127.0.0.1:$port/publish"
		cat >"$lua" <<'EOF'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"topic":"wrk","args":[1,1795000000000000000]}'
EOF
	else
		url="http://127.0.0.1:$port/pub?channel=wrk"
		cat >"$lua" <<'EOF'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '[1,1795000000000000000]'
EOF
	fi
	out=$TMP/wrk.$t.out
	wrk -t2 -c"$WRK_CONNS" -d"${WRK_DURATION}s" --latency -s "$lua" "$url" >"$out" 2>&1
	sed 's/^/  /' "$out" >&2
	R[$t.wrk.rps]=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' "$out")
	R[$t.wrk.non2xx]=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$out")
	R[$t.wrk.non2xx]=${R[$t.wrk.non2xx]:-0}
	R[$t.wrk.errors]=$(awk '/Socket errors:/ {print}' "$out" | sed 's/.*Socket errors: //')
	R[$t.wrk.p99_ms]=$(awk '$1 == "99%" {v=$2; if (v ~ /us$/) {sub("us","",v); v/=1000} else if (v ~ /ms$/) sub("ms","",v); else if (v ~ /s$/) {sub("s","",v); v*=1000}; printf "%.2f", v}' "$out")
	alive "$t" || NOTES+=("$t died during wrk")
}

# ---- WAMP tests (wampload) -------------------------------------------------------
# Switchboard: WAMP sessions on /ws (wamp.2.json). nchan, where it is the
# reference: raw WebSocket subscribers on /wsub, publishing by POST /pub.
wait_ready() {	# file seconds: waits for a READY line while LOAD_PID runs
	local i
	for i in $(seq 1 $(($2 * 10))); do
		grep -q '^READY' "$1" && return 0
		kill -0 "$LOAD_PID" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

wamp_reason() {	# target key result-line: notes sessions the server refused
	local r
	r=$(kv "$3" reason)
	[ -n "$r" ] && [ "$r" != - ] && NOTES+=("$1 $2: the server answered $r")
}

test_wampidle() {	# target
	local t=$1 port pids base rss out res est
	ensure_up "$t" wampidle || return
	port=$(port_of "$t")
	pids=$(server_pids "$t")
	base=$(rss_kib $pids)
	out=$TMP/wampidle.$t.out
	"$WLOAD" idle --target "$t" --port "$port" --topic widle -n "$BIG" --hold 0 --quiet >"$out" 2>&1 &
	LOAD_PID=$!
	wait_ready "$out" 120
	sleep 2
	rss=$(rss_kib $pids)
	sleep 1
	kill -TERM "$LOAD_PID" 2>/dev/null
	wait "$LOAD_PID"
	LOAD_PID=
	res=$(grep '^RESULT' "$out")
	est=$(kv "$res" established)
	R[$t.widle_base_kib]=$base
	R[$t.widle_rss_kib]=$rss
	R[$t.widle_open]=$(kv "$res" open)
	R[$t.widle_per_sess_kib]=$(awk -v a="$rss" -v b="$base" -v n="${est:-0}" \
		'BEGIN{ if (n > 0) printf "%.2f", (a-b)/n; else print "n/a" }')
	log "$t wampidle: base ${base} KiB, with ${est:-0} sessions: ${rss} KiB, ${R[$t.widle_per_sess_kib]} KiB/session, open ${R[$t.widle_open]:-?}"
	grep -v '^RESULT' "$out" >&2
	wamp_reason "$t" wampidle "$res"
	alive "$t" || NOTES+=("$t died during wampidle")
}

test_wampfan() {	# target key sessions rate publisher(http|wamp)
	local t=$1 key=$2 n=$3 rate=$4 pub=$5 port pids c0 c1 out res args f
	ensure_up "$t" "wamp fanout $key" || return
	port=$(port_of "$t")
	pids=$(server_pids "$t")
	out=$TMP/$key.$pub.$t.out
	if [ "$rate" = 0 ]; then args="--rate 0 --window 4 --pubconns 4 --duration $DURATION"
	else args="--rate $rate --pubconns 4 --duration $((DURATION * 2))"; fi
	sleep 1	# the previous run's sessions are still being torn down
	c0=$(cpu_ticks $pids)
	# shellcheck disable=SC2086
	"$WLOAD" fanout --target "$t" --port "$port" --topic "${key}_$pub" -n "$n" --pub "$pub" $args \
		--quiet >"$out" 2>&1
	c1=$(cpu_ticks $pids)
	res=$(tool_result "$out") || { NOTES+=("$t $key ($pub publisher): no result (see log above)"); return; }
	for f in dps losses dups p50_ms p99_ms max_ms events established deliveries reorder closed \
		pubfail first_p50_ms first_p99_ms last_p50_ms last_p99_ms; do
		R[$t.$key.$pub.$f]=$(kv "$res" $f)
	done
	R[$t.$key.$pub.cpu_us]=$(awk -v c=$((c1 - c0)) -v hz="$CLK_TCK" -v d="${R[$t.$key.$pub.deliveries]}" \
		'BEGIN{ if (d > 0) printf "%.2f", c / hz * 1e6 / d; else print "n/a" }')
	wamp_reason "$t" "$key ($pub publisher)" "$res"
	alive "$t" || NOTES+=("$t died during wamp fanout $key ($pub publisher)")
}

test_rpc() {	# key in-flight
	local key=$1 k=$2 port pids c0 c1 out res f
	ensure_up switchboard "$key" || return
	port=$(port_of switchboard)
	pids=$(server_pids switchboard)
	out=$TMP/$key.out
	sleep 1
	c0=$(cpu_ticks $pids)
	"$WLOAD" rpc --target switchboard --port "$port" --inflight "$k" --duration "$DURATION" \
		--procedure "bench.$key" --quiet >"$out" 2>&1
	c1=$(cpu_ticks $pids)
	res=$(tool_result "$out") || { NOTES+=("switchboard $key: no result (see log above)"); return; }
	for f in cps calls errors bad open p50_ms p99_ms max_ms; do
		R[switchboard.$key.$f]=$(kv "$res" $f)
	done
	R[switchboard.$key.lat]="${R[switchboard.$key.p50_ms]} / ${R[switchboard.$key.p99_ms]}"
	R[switchboard.$key.errs]="${R[switchboard.$key.errors]}/${R[switchboard.$key.bad]}/${R[switchboard.$key.open]}"
	R[switchboard.$key.cpu_us]=$(awk -v c=$((c1 - c0)) -v hz="$CLK_TCK" -v d="${R[switchboard.$key.calls]}" \
		'BEGIN{ if (d > 0) printf "%.2f", c / hz * 1e6 / d; else print "n/a" }')
	wamp_reason switchboard "$key" "$res"
	alive switchboard || NOTES+=("switchboard died during $key")
}

test_httpcall() {	# POST /call answered by a WAMP callee, driven by wrk
	local port cout out lua res
	ensure_up switchboard httpcall || return
	port=$(port_of switchboard)
	cout=$TMP/httpcall.callee.out
	out=$TMP/httpcall.wrk.out
	lua=$TMP/httpcall.lua
	sleep 1
	"$WLOAD" callee --target switchboard --port "$port" --procedure bench.echo --quiet >"$cout" 2>&1 &
	LOAD_PID=$!
	if ! wait_ready "$cout" 15; then
		sed 's/^/  /' "$cout" >&2
		kill -TERM "$LOAD_PID" 2>/dev/null; wait "$LOAD_PID"; LOAD_PID=
		wamp_reason switchboard httpcall "$(grep '^RESULT' "$cout")"
		NOTES+=("switchboard httpcall: the callee did not register (see log above)")
		return
	fi
	# A reply is an error unless it is 200 with "args" and without "error"
	# (WAMP failures come back as 200 {"error": URI, ...}).
	cat >"$lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"procedure":"bench.echo","args":[1,"abc"]}'
call_errors = 0
function response(status, headers, body)
  if status ~= 200 or not body:find('"args"', 1, true) or body:find('"error"', 1, true) then
    call_errors = call_errors + 1
  end
end
local threads = {}
function setup(thread) table.insert(threads, thread) end
function done(summary, latency, requests)
  local e = 0
  for _, t in ipairs(threads) do e = e + t:get("call_errors") end
  io.write(string.format("call errors: %d\n", e))
end
LUA
	wrk -t2 -c"$WRK_CONNS" -d"${WRK_DURATION}s" --latency -s "$lua" "http://127.0.0.1:$port/call" >"$out" 2>&1
	kill -TERM "$LOAD_PID" 2>/dev/null
	wait "$LOAD_PID"
	LOAD_PID=
	sed 's/^/  /' "$out" >&2
	sed 's/^/  /' "$cout" | grep -v '^  READY' >&2
	res=$(grep '^RESULT' "$cout")
	R[switchboard.httpcall.rps]=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' "$out")
	R[switchboard.httpcall.requests]=$(awk '/requests in/ {print $1}' "$out")
	R[switchboard.httpcall.non2xx]=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$out")
	R[switchboard.httpcall.non2xx]=${R[switchboard.httpcall.non2xx]:-0}
	R[switchboard.httpcall.errors]=$(awk '/^call errors:/ {print $3}' "$out")
	R[switchboard.httpcall.invocations]=$(kv "$res" invocations)
	R[switchboard.httpcall.errs]="${R[switchboard.httpcall.non2xx]}/${R[switchboard.httpcall.errors]:-n/a}"
	R[switchboard.httpcall.reqinv]="${R[switchboard.httpcall.requests]:-n/a} / ${R[switchboard.httpcall.invocations]:-n/a}"
	R[switchboard.httpcall.p99_ms]=$(awk '$1 == "99%" {v=$2; if (v ~ /us$/) {sub("us","",v); v/=1000} else if (v ~ /ms$/) sub("ms","",v); else if (v ~ /s$/) {sub("s","",v); v*=1000}; printf "%.2f", v}' "$out")
	alive switchboard || NOTES+=("switchboard died during httpcall")
}

# ---- REST bridge tests (Switchboard only) ------------------------------------------
backend_alive() { [ -n "$BE_PID" ] && kill -0 "$BE_PID" 2>/dev/null; }
wrk_on() {	# cpu|all wrk-arguments...
	local c=$1
	shift
	if [ "$c" = all ]; then wrk "$@"; else on_cpu "$c" wrk "$@"; fi
}

# wrk's latency percentile ("50%", "99%") in µs.
wrk_pct() {	# percent output-file
	awk -v p="$1" '$1 == p {v=$2; if (v ~ /us$/) sub("us","",v); else if (v ~ /ms$/) {sub("ms","",v); v*=1000}
		else if (v ~ /s$/) {sub("s","",v); v*=1e6}; printf "%.0f", v}' "$2"
}
wrk_figures() {	# R-key output-file: rps, requests, p50_us, p99_us, non2xx, errors, sockerr
	local k=$1 out=$2
	R[$k.rps]=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' "$out")
	R[$k.requests]=$(awk '/requests in/ {print $1}' "$out")
	R[$k.p50_us]=$(wrk_pct 50% "$out")
	R[$k.p99_us]=$(wrk_pct 99% "$out")
	R[$k.non2xx]=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$out")
	R[$k.non2xx]=${R[$k.non2xx]:-0}
	R[$k.errors]=$(awk '/^call errors:/ {print $3}' "$out")
	R[$k.sockerr]=$(awk '/Socket errors:/ {s=0; for (i=3; i<=NF; i++) if ($i ~ /^[0-9]+,?$/) s+=$i; print s}' "$out")
	R[$k.sockerr]=${R[$k.sockerr]:-0}
}
ms_pair() { awk -v a="$1" -v b="$2" 'BEGIN{ if (a == "" || b == "") print "n/a"; else printf "%.3f / %.3f", a/1000, b/1000 }'; }

# The RESTCallee: wrk POSTs /call {"procedure":"bench.rest","kwargs":{"url":"rest"}},
# which the gateway turns into GET <back end>/rest; the same wrk GETs
# <back end>/rest directly. Once with WRK_CONNS connections (throughput),
# once with one (latency added per call).
test_restcallee() {
	local port lua out k conns th cpu a0 a1 c0 c1 b0 b1 bpids
	ensure_up switchboard restcallee || return
	backend_alive || { NOTES+=("restcallee: the back-end nginx is not running; skipped"); return; }
	port=$(port_of switchboard)
	bpids=$(pgrep -P "$BE_PID" | tr '\n' ' ')
	lua=$TMP/restcallee.lua
	# A reply counts as an error unless it is the back end's answer:
	# 200 {"args":[{"code":200,"content":"{\"ok\":true}",...}]}.
	cat >"$lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"procedure":"bench.rest","kwargs":{"url":"rest"}}'
call_errors = 0
function response(status, headers, body)
  if status ~= 200 or not body:find('"code":200', 1, true) or
     not body:find('{\\"ok\\":true}', 1, true) or body:find('"error"', 1, true) then
    call_errors = call_errors + 1
  end
end
local threads = {}
function setup(thread) table.insert(threads, thread) end
function done(summary, latency, requests)
  local e = 0
  for _, t in ipairs(threads) do e = e + t:get("call_errors") end
  io.write(string.format("call errors: %d\n", e))
end
LUA
	for conns in "$WRK_CONNS" 1; do
		th=2; k=many; cpu=all
		[ "$conns" = 1 ] && { th=1; k=one; cpu=$CPU_GW; pin_on; }
		out=$TMP/restcallee.direct.$k.out
		sleep 1
		wrk_on "$cpu" -t$th -c"$conns" -d"${WRK_DURATION}s" --latency "http://127.0.0.1:$BE_PORT/rest" >"$out" 2>&1
		log "  direct, $conns connection(s):"; sed 's/^/  /' "$out" >&2
		wrk_figures "switchboard.rest.$k.direct" "$out"
		out=$TMP/restcallee.via.$k.out
		sleep 1
		a0=$(backend_accepts); c0=$(cpu_ticks $SB_PID); b0=$(cpu_ticks $bpids)
		wrk_on "$cpu" -t$th -c"$conns" -d"${WRK_DURATION}s" --latency -s "$lua" "http://127.0.0.1:$port/call" >"$out" 2>&1
		c1=$(cpu_ticks $SB_PID); b1=$(cpu_ticks $bpids); a1=$(backend_accepts)
		[ "$conns" = 1 ] && pin_off
		log "  via the gateway, $conns connection(s):"; sed 's/^/  /' "$out" >&2
		wrk_figures "switchboard.rest.$k.via" "$out"
		local pre=switchboard.rest.$k n=${R[switchboard.rest.$k.via.requests]:-0}
		R[$pre.rps]="${R[$pre.via.rps]:-n/a} / ${R[$pre.direct.rps]:-n/a}"
		R[$pre.lat_via]=$(ms_pair "${R[$pre.via.p50_us]}" "${R[$pre.via.p99_us]}")
		R[$pre.lat_direct]=$(ms_pair "${R[$pre.direct.p50_us]}" "${R[$pre.direct.p99_us]}")
		# Wall time per call through the gateway minus the direct call's, on a
		# saturated machine: what one call costs the two cores, in µs.
		R[$pre.added_us]=$(awk -v a="${R[$pre.via.rps]}" -v b="${R[$pre.direct.rps]}" \
			'BEGIN{ if (a > 0 && b > 0) printf "%.1f", 1e6/a - 1e6/b; else print "n/a" }')
		# One call at a time: the latency the gateway adds (p50 difference).
		R[$pre.added_p50_us]=$(awk -v a="${R[$pre.via.p50_us]}" -v b="${R[$pre.direct.p50_us]}" \
			'BEGIN{ if (a != "" && b != "") printf "%d", a - b; else print "n/a" }')
		R[$pre.cpu_us]=$(awk -v c=$((c1 - c0)) -v hz="$CLK_TCK" -v d="$n" \
			'BEGIN{ if (d > 0) printf "%.1f", c / hz * 1e6 / d; else print "n/a" }')
		R[$pre.be_cpu_us]=$(awk -v c=$((b1 - b0)) -v hz="$CLK_TCK" -v d="$n" \
			'BEGIN{ if (d > 0) printf "%.1f", c / hz * 1e6 / d; else print "n/a" }')
		# stub_status counts its own connection too
		R[$pre.opened]=$(( ${a1:-0} - ${a0:-0} - 1 ))
		R[$pre.errs]="${R[$pre.via.non2xx]}/${R[$pre.via.errors]:-n/a}/${R[$pre.via.sockerr]}"
	done
	alive switchboard || NOTES+=("switchboard died during restcallee")
}

# Placement for the one-request-at-a-time runs (wrk -c1, the forwarder):
# there, each request is a round trip between processes, and on this kind
# of VM a wake-up on the other core costs tens of µs while one on the same
# core costs almost nothing, so the figures moved 4x with the scheduler's
# choice. Pinned (taskset, unless BRIDGE_PIN=0 or fewer than 2 CPUs):
# Switchboard's loop thread (only; its history writer floats) and the
# measuring client on CPU_GW, the back end's worker on CPU_BE, so both paths
# cross cores once per back-end request, like a back end on another host.
CPU_GW=0
CPU_BE=$(( $(nproc) - 1 ))
pin_ok() { [ "${BRIDGE_PIN:-1}" = 1 ] && [ "$CPU_BE" -gt 0 ] && command -v taskset >/dev/null; }
pin_on() {
	pin_ok || return 0
	local p
	taskset -p -c "$CPU_GW" "$SB_PID" >/dev/null
	for p in $(pgrep -P "$BE_PID"); do taskset -p -c "$CPU_BE" "$p" >/dev/null; done
}
pin_off() {
	pin_ok || return 0
	local p
	taskset -p -c "0-$CPU_BE" "$SB_PID" >/dev/null 2>&1
	for p in $(pgrep -P "$BE_PID"); do taskset -p -c "0-$CPU_BE" "$p" >/dev/null 2>&1; done
}
on_cpu() {	# cpu command...: the command, pinned when pinning is on
	local c=$1
	shift
	if pin_ok; then taskset -c "$c" "$@"; else "$@"; fi
}

fwd_field() {	# port field: bench-fwd's figure in /info (the only forwarder)
	curl -s "http://127.0.0.1:$1/info?format=json" | grep -o "\"$2\":[0-9]*" | head -1 | cut -d: -f2
}

# The MessageForwarder: FWD_EVENTS events published on bench.fwd as fast as
# the gateway acknowledges them (sseload burst, WRK_CONNS connections), then
# wait until /info says the forwarder delivered them all; the receiver's log
# gives the delivery times, ids and order.
test_forwarder() {
	local port lua out res ref n t0 t1 d0 f0 x0 c0 c1 got prev stall chk
	ensure_up switchboard forwarder || return
	backend_alive || { NOTES+=("forwarder: the back-end nginx is not running; skipped"); return; }
	port=$(port_of switchboard)
	pin_on
	# Reference: the receiver alone, one request at a time (what a strictly
	# sequential sender could reach), same body and headers, no event id.
	lua=$TMP/forwarder.ref.lua
	cat >"$lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Switchboard-Topic"] = "bench.fwd"
wrk.body = '{"args":[1,1795000000000000000],"kwargs":{}}'
LUA
	ref=$TMP/forwarder.ref.out
	on_cpu "$CPU_GW" wrk -t1 -c1 -d"${WRK_DURATION}s" --latency -s "$lua" "http://127.0.0.1:$BE_PORT/recv" >"$ref" 2>&1
	log "  receiver alone, one connection:"; sed 's/^/  /' "$ref" >&2
	wrk_figures switchboard.fwd.ref "$ref"
	: >"$BE_LOG"
	sleep 1
	d0=$(fwd_field "$port" delivered); f0=$(fwd_field "$port" failed_attempts); x0=$(fwd_field "$port" dead_letters)
	c0=$(cpu_ticks $SB_PID)
	out=$TMP/forwarder.burst.out
	# The publisher away from the gateway's core (it is done before most
	# of the forwarding is).
	on_cpu "$CPU_BE" "$LOAD" burst --target switchboard --port "$port" --topic bench.fwd \
		--count "$FWD_EVENTS" --pubconns "$WRK_CONNS" --quiet >"$out" 2>&1
	res=$(tool_result "$out") || { pin_off; NOTES+=("switchboard forwarder: no burst result (see log above)"); return; }
	n=$(kv "$res" events); t0=$(kv "$res" t0); t1=$(kv "$res" t1)
	# Until every acknowledged event is delivered, or 10 s without progress.
	prev=-1; stall=0
	while :; do
		got=$(( $(fwd_field "$port" delivered) - d0 ))
		[ "$got" -ge "$n" ] && break
		if [ "$got" = "$prev" ]; then
			stall=$((stall + 1))
			[ "$stall" -ge 200 ] && { NOTES+=("forwarder: stuck at $got of $n delivered"); break; }
		else
			stall=0; prev=$got
		fi
		sleep 0.05
	done
	c1=$(cpu_ticks $SB_PID)
	pin_off
	sleep 0.3	# the receiver logs after it has answered
	R[switchboard.fwd.events]=$n
	R[switchboard.fwd.pub_eps]=$(kv "$res" eps)
	R[switchboard.fwd.info_delivered]=$got
	R[switchboard.fwd.failed]=$(( $(fwd_field "$port" failed_attempts) - f0 ))
	R[switchboard.fwd.dead]=$(( $(fwd_field "$port" dead_letters) - x0 ))
	# The receiver's log: one line per request: msec id status topic.
	chk=$(awk -v t1="$t1" '
		$2 == "-" { next }
		{ n++; id = $2 + 0
		  if (id in seen) dup++; else { seen[id] = 1; distinct++ }
		  if (n > 1 && id < prev) disorder++
		  prev = id
		  if ($3 != 200) bad++
		  if (n == 1) first = $1
		  last = $1
		  if ($1 > t1) after++ }
		END { printf "lines=%d distinct=%d dups=%d disorder=%d bad=%d first=%s last=%s after=%d\n",
			n, distinct, dup, disorder, bad, first ? first : 0, last ? last : 0, after }' "$BE_LOG")
	log "  receiver log: $chk"
	chk=" $chk"
	local lines distinct last after
	lines=$(kv "$chk" lines); distinct=$(kv "$chk" distinct); last=$(kv "$chk" last); after=$(kv "$chk" after)
	R[switchboard.fwd.logged]=$lines
	R[switchboard.fwd.counts]="$got / $lines"
	R[switchboard.fwd.checks]="$((n - distinct))/$(kv "$chk" dups)/$(kv "$chk" disorder)"
	R[switchboard.fwd.fails]="${R[switchboard.fwd.failed]}/${R[switchboard.fwd.dead]}/$(kv "$chk" bad)"
	R[switchboard.fwd.eps]=$(awk -v n="$distinct" -v a="$t0" -v b="$last" \
		'BEGIN{ if (b > a) printf "%.0f", n / (b - a); else print "n/a" }')
	R[switchboard.fwd.drain_eps]=$(awk -v n="$after" -v a="$t1" -v b="$last" \
		'BEGIN{ if (b > a && n > 0) printf "%.0f", n / (b - a); else print "n/a" }')
	R[switchboard.fwd.total_s]=$(awk -v a="$t0" -v b="$last" 'BEGIN{ if (b > a) printf "%.2f", b - a; else print "n/a" }')
	R[switchboard.fwd.pub_s]=$(kv "$res" pub_s)
	R[switchboard.fwd.during]="$((distinct - after)) of $n"
	R[switchboard.fwd.cpu_us]=$(awk -v c=$((c1 - c0)) -v hz="$CLK_TCK" -v d="$n" \
		'BEGIN{ if (d > 0) printf "%.1f", c / hz * 1e6 / d; else print "n/a" }')
	alive switchboard || NOTES+=("switchboard died during forwarder")
}

# ---- run -----------------------------------------------------------------------
T0=$(date +%s)
wants_bridge() { local t; for t in $BRIDGE_TESTS; do [[ "$TESTS" == *" $t "* ]] && return 0; done; return 1; }
# The bridge's back end first: Switchboard's config names its port.
if wants_bridge && [[ " $TARGETS " == *" switchboard "* ]]; then
	if start_backend; then log "back-end nginx up on 127.0.0.1:$BE_PORT (pid $BE_PID)"
	else NOTES+=("the REST bridge's back-end nginx could not be started; bridge tests skipped"); fi
fi
UP=()
for t in $TARGETS; do
	if start_target "$t"; then UP+=("$t"); log "$t up on 127.0.0.1:$(port_of "$t") (pid $(server_pids "$t"))"
	else NOTES+=("$t could not be started"); fi
done
[ ${#UP[@]} -eq 0 ] && { log "nothing to benchmark"; exit 2; }

# Idle RSS first, on freshly started servers.
want() { [[ " $TESTS " == *" $1 "* ]]; }
if want idle; then
	for t in "${UP[@]}"; do log "== idle $BIG: $t"; test_idle "$t"; done
fi
for spec in "fan${SMALL}_fixed $SMALL 10 fan1k" "fan${SMALL}_sat $SMALL 0 fan1k" \
	    "fan${BIG}_fixed $BIG 10 fan10k" "fan${BIG}_sat $BIG 0 fan10k"; do
	set -- $spec
	want "$4" || continue
	for t in "${UP[@]}"; do log "== fanout $1 ($2 subscribers, rate ${3/#0/saturation}): $t"; test_fanout "$t" "$1" "$2" "$3"; done
done
if want replay; then
	for t in "${UP[@]}"; do log "== replay: $t"; test_replay "$t"; done
fi
if want wrk; then
	for t in "${UP[@]}"; do log "== wrk /publish: $t"; test_wrk "$t"; done
fi
has_sb() { [[ " ${UP[*]} " == *" switchboard "* ]]; }
if [ "$WLOAD_OK" = 1 ]; then
	if want wampidle; then
		for t in "${UP[@]}"; do
			# RSS is read on a freshly started server, like the SSE idle test.
			if want idle; then stop_target "$t"; start_target "$t" || continue; fi
			log "== wamp idle $BIG: $t"; test_wampidle "$t"
		done
	fi
	for spec in "wfan${SMALL}_sat $SMALL 0 wampfan1k" "wfan${BIG}_sat $BIG 0 wampfan10k" \
		    "wfan${BIG}_fixed $BIG 10 wamplat"; do
		set -- $spec
		want "$4" || continue
		for t in "${UP[@]}"; do
			for pub in $WAMP_PUBS; do
				[ "$t" = nchan ] && [ "$pub" != http ] && continue
				log "== wamp fanout $1 ($2 sessions, rate ${3/#0/saturation}, $pub publisher): $t"
				test_wampfan "$t" "$1" "$2" "$3" "$pub"
			done
		done
	done
	if has_sb; then
		if want rpc1; then log "== wamp rpc, 1 call in flight: switchboard"; test_rpc rpc1 1; fi
		if want rpc100; then log "== wamp rpc, 100 calls in flight: switchboard"; test_rpc rpc100 100; fi
		if want httpcall; then log "== wrk POST /call to a WAMP callee: switchboard"; test_httpcall; fi
	fi
fi
if has_sb && [ -n "$BE_PORT" ]; then
	if want restcallee; then log "== REST callee: POST /call -> nginx vs nginx direct: switchboard"; test_restcallee; fi
	if want forwarder; then log "== forwarder: burst of $FWD_EVENTS events to nginx: switchboard"; test_forwarder; fi
fi
for t in "${UP[@]}"; do stop_target "$t"; done
stop_backend
ELAPSED=$(($(date +%s) - T0))

# ---- report --------------------------------------------------------------------
g() { echo "${R[$1]:-n/a}"; }
ratio() {	# sb nchan
	awk -v a="$1" -v b="$2" 'BEGIN{ if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b > 0) printf "%.2f", a / b; else print "-" }'
}
ROWS=()
row() {	# label key target-text
	local s n
	s=$(g "switchboard.$2")
	n=$(g "nchan.$2")
	ROWS+=("$1|$s|$n|$(ratio "$s" "$n")|$3")
}
wants_sse() { local t; for t in $SSE_TESTS; do want "$t" && return 0; done; return 1; }
rowx() {	# label switchboard-key nchan-key target-text
	local s n
	s=$(g "switchboard.$2")
	n=$(g "nchan.$3")
	ROWS+=("$1|$s|$n|$(ratio "$s" "$n")|$4")
}
if wants_sse; then
row "idle: RSS per SSE connection at $BIG (KiB)" idle_per_conn_kib "<= 0.8x"
row "idle: connections still open at the end" idle_open "$BIG"
for spec in "fan${SMALL}_fixed $SMALL 10/s" "fan${SMALL}_sat $SMALL saturation" "fan${BIG}_fixed $BIG 10/s" "fan${BIG}_sat $BIG saturation"; do
	set -- $spec
	tgt_dps=""; tgt_p99=""
	[ "$1" = "fan${BIG}_sat" ] && tgt_dps=">= 1.3x"
	[ "$1" = "fan${BIG}_fixed" ] && tgt_p99="<= 0.5x"
	row "fan-out $2 subs @ $3: deliveries/s" "$1.dps" "$tgt_dps"
	row "fan-out $2 subs @ $3: events published" "$1.events" ""
	row "fan-out $2 subs @ $3: losses" "$1.losses" "0"
	row "fan-out $2 subs @ $3: duplicates" "$1.dups" "0"
	row "fan-out $2 subs @ $3: p50 latency (ms)" "$1.p50_ms" ""
	row "fan-out $2 subs @ $3: p99 latency (ms)" "$1.p99_ms" "$tgt_p99"
	row "fan-out $2 subs @ $3: max latency (ms)" "$1.max_ms" ""
	row "fan-out $2 subs @ $3: per event, first sub p50 (ms)" "$1.first_p50_ms" ""
	row "fan-out $2 subs @ $3: per event, first sub p99 (ms)" "$1.first_p99_ms" ""
	row "fan-out $2 subs @ $3: per event, last sub p99 (ms)" "$1.last_p99_ms" ""
	row "fan-out $2 subs @ $3: server CPU per delivery (us)" "$1.cpu_us" ""
done
row "replay: clients exact (of $REPLAY_CLIENTS)" replay.exact "all"
row "replay: missing / dup / unexpected / disorder" replay.missing "0"
row "replay: all replayed (s)" replay.replayed_s ""
row "replay: all complete (s)" replay.complete_s "< 1x"
row "/publish req/s (wrk -c$WRK_CONNS)" wrk.rps ">= 50000 (abs)"
row "/publish p99 latency (ms)" wrk.p99_ms ""
row "/publish non-2xx responses" wrk.non2xx "0"
fi
if wants_wamp; then
	if want wampidle; then
		row "wamp idle: RSS per session at $BIG (KiB)" widle_per_sess_kib "<= 16 (abs); Crossbar ~19 KB"
		row "wamp idle: sessions still open at the end" widle_open "$BIG"
	fi
	for spec in "wfan${SMALL}_sat $SMALL saturation wampfan1k" "wfan${BIG}_sat $BIG saturation wampfan10k" \
		    "wfan${BIG}_fixed $BIG 10/s wamplat"; do
		set -- $spec
		want "$4" || continue
		for pub in $WAMP_PUBS; do
			k=$1.$pub; kn=$1.http; l="WAMP fan-out $2 @ $3, $pub pub"
			tgt_dps=""; tgt_p99=""
			[ "$1" = "wfan${SMALL}_sat" ] && tgt_dps="Crossbar 62-72k"
			[ "$1" = "wfan${BIG}_sat" ] && tgt_dps=">= 1.2x; Crossbar overloaded"
			[ "$1" = "wfan${BIG}_fixed" ] && tgt_p99="<= 0.5x"
			rowx "$l: deliveries/s" "$k.dps" "$kn.dps" "$tgt_dps"
			rowx "$l: events published" "$k.events" "$kn.events" ""
			rowx "$l: losses" "$k.losses" "$kn.losses" "0"
			rowx "$l: duplicates" "$k.dups" "$kn.dups" "0"
			rowx "$l: p50 latency (ms)" "$k.p50_ms" "$kn.p50_ms" ""
			rowx "$l: p99 latency (ms)" "$k.p99_ms" "$kn.p99_ms" "$tgt_p99"
			rowx "$l: max latency (ms)" "$k.max_ms" "$kn.max_ms" ""
			rowx "$l: per event, first session p99 (ms)" "$k.first_p99_ms" "$kn.first_p99_ms" ""
			rowx "$l: per event, last session p99 (ms)" "$k.last_p99_ms" "$kn.last_p99_ms" ""
			rowx "$l: server CPU per delivery (us)" "$k.cpu_us" "$kn.cpu_us" ""
		done
	done
	if want rpc1; then
		row "WAMP rpc, 1 in flight: calls/s" rpc1.cps ""
		row "WAMP rpc, 1 in flight: p50 / p99 latency (ms)" rpc1.lat ""
		row "WAMP rpc, 1 in flight: errors / bad results / unanswered" rpc1.errs "0/0/0"
	fi
	if want rpc100; then
		row "WAMP rpc, 100 in flight: calls/s" rpc100.cps ">= 50000 (abs); Crossbar ~8000"
		row "WAMP rpc, 100 in flight: p50 / p99 latency (ms)" rpc100.lat ""
		row "WAMP rpc, 100 in flight: server CPU per call (us)" rpc100.cpu_us ""
		row "WAMP rpc, 100 in flight: errors / bad results / unanswered" rpc100.errs "0/0/0"
	fi
	if want httpcall; then
		row "POST /call req/s (wrk -c$WRK_CONNS, WAMP callee)" httpcall.rps "Crossbar ~3500"
		row "POST /call p99 latency (ms)" httpcall.p99_ms ""
		row "POST /call non-2xx / error replies" httpcall.errs "0/0"
		row "POST /call requests / callee invocations" httpcall.reqinv "equal"
	fi
fi
if want restcallee; then
	for spec in "many $WRK_CONNS" "one 1"; do
		set -- $spec
		l="REST callee, wrk -c$2"
		row "$l: calls/s via /call / back end direct" "rest.$1.rps" ""
		row "$l: p50 / p99 via /call (ms)" "rest.$1.lat_via" ""
		row "$l: p50 / p99 direct (ms)" "rest.$1.lat_direct" ""
		if [ "$1" = many ]; then
			row "$l: time per call added (us, 1e6/rps difference)" "rest.$1.added_us" ""
		else
			row "$l: latency added per call (us, p50 difference)" "rest.$1.added_p50_us" ""
		fi
		row "$l: gateway CPU per call (us)" "rest.$1.cpu_us" ""
		row "$l: back-end nginx CPU per call (us)" "rest.$1.be_cpu_us" ""
		row "$l: connections opened to the back end" "rest.$1.opened" "<= $2"
		row "$l: non-2xx / error replies / socket errors" "rest.$1.errs" "0/0/0"
	done
fi
if want forwarder; then
	row "forwarder: events published (burst, $WRK_CONNS conns)" fwd.events "$FWD_EVENTS"
	row "forwarder: burst publish rate (events/s acked)" fwd.pub_eps ""
	row "forwarder: events/s, first publish to last delivery" fwd.eps ""
	row "forwarder: events/s after the burst (drain)" fwd.drain_eps ""
	row "forwarder: delivered while the burst ran" fwd.during ""
	row "forwarder: all delivered after (s)" fwd.total_s ""
	row "forwarder: delivered (/info) / received (log)" fwd.counts "equal"
	row "forwarder: lost / duplicates / out of order" fwd.checks "0/0/0"
	row "forwarder: failed attempts / dead letters / non-200" fwd.fails "0/0/0"
	row "forwarder: gateway CPU per event (us, incl. publish)" fwd.cpu_us ""
	row "forwarder: receiver alone, 1 conn (wrk -c1 POST) req/s" fwd.ref.rps ""
fi
# replay errors as one cell
for t in switchboard nchan; do
	R[$t.replay.errs]="$(g $t.replay.missing)/$(g $t.replay.dups)/$(g $t.replay.unexpected)/$(g $t.replay.disorder)"
done
for i in "${!ROWS[@]}"; do
	case "${ROWS[$i]}" in
	"replay: missing"*) ROWS[$i]="replay: missing / dup / unexpected / disorder|$(g switchboard.replay.errs)|$(g nchan.replay.errs)|-|0/0/0/0" ;;
	esac
done

MACHINE="$(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), $(free -g | awk '/Mem:/ {print $2}') GB RAM, Linux $(uname -r), Debian $(cat /etc/debian_version 2>/dev/null)"
VERSIONS="nginx $(dpkg-query -W -f='${Version}' nginx 2>/dev/null), libnginx-mod-nchan $(dpkg-query -W -f='${Version}' libnginx-mod-nchan 2>/dev/null), libmicrohttpd $(dpkg-query -W -f='${Version}' libmicrohttpd12 2>/dev/null), libwebsockets $(dpkg-query -W -f='${Version}' libwebsockets17 2>/dev/null), wrk $(dpkg-query -W -f='${Version}' wrk 2>/dev/null)"
SBVER=$("$SB_BIN" version 2>/dev/null | head -1)
SBGIT=$(git -C "$TOP" describe --always --dirty 2>/dev/null || echo "uncommitted")

echo
printf '%-58s %14s %14s %9s  %s\n' "figure" "switchboard" "nchan" "sb/nchan" "target"
printf '%.0s-' {1..110}; echo
for r in "${ROWS[@]}"; do
	IFS='|' read -r a b c d e <<<"$r"
	printf '%-58s %14s %14s %9s  %s\n' "$a" "$b" "$c" "$d" "$e"
done
for n in "${NOTES[@]}"; do echo "note: $n"; done
echo
echo "---- paste into bench/RESULTS.md ----"
echo "## $(date -u +%Y-%m-%d) — $(hostname)"
echo
echo "- Machine: $MACHINE; load generator on the same cores."
echo "- Switchboard: ${SBVER:-?} (git $SBGIT), $SB_THREADS busy loop thread(s), history sync=$SB_SYNC, eventsource queue_limit 100000, connection_memory $SB_CONN_MEM."
[[ " ${UP[*]} " == *" nchan "* ]] &&
	echo "- nchan: worker_processes $SB_THREADS, nchan_message_buffer_length 1000, nchan_subscriber_first_message newest."
echo "- Packages: $VERSIONS."
echo "- Limits: $LIMITS."
if wants_sse; then
	echo "- Fan-out: 4 publisher connections; fixed rate 10 events/s for $((DURATION * 2)) s; saturation for $DURATION s with at most 4 events not yet delivered to every subscriber. wrk: -t2 -c$WRK_CONNS -d${WRK_DURATION}s. Replay: 1000 published, $REPLAY_CLIENTS clients resume 500 back, 1000 published live on $REPLAY_PUBCONNS connections. Whole run: ${ELAPSED} s."
else
	echo "- Whole run: ${ELAPSED} s."
fi
if wants_wamp; then
	echo "- WAMP: Switchboard sessions on /ws (wamp.2.json, realm1); nchan reference: raw WebSocket subscribers (nchan_subscriber websocket, same publishing by POST). Fan-out publishers: ${WAMP_PUBS// / and } (WAMP: one session, PUBLISH acknowledge + exclude_me; the nchan column is always POST); saturation window 4, $DURATION s; fixed 10 events/s for $((DURATION * 2)) s. rpc: one callee, one caller, $DURATION s. /call: wrk -t2 -c$WRK_CONNS -d${WRK_DURATION}s against one WAMP callee. Load generator: bench/wampload.c (one thread, libwebsockets client on libuv)."
fi
if wants_bridge; then
	echo "- REST bridge (Switchboard only; the nchan column is n/a): back end and receiver = nginx $(dpkg-query -W -f='${Version}' nginx 2>/dev/null) without nchan, 1 worker, \`return 200 '{\"ok\":true}'\`; libcurl $(dpkg-query -W -f='${Version}' libcurl4 2>/dev/null). REST callee: wrk -t2 -c$WRK_CONNS and -t1 -c1, -d${WRK_DURATION}s, POST /call {\"procedure\":\"bench.rest\",\"kwargs\":{\"url\":\"rest\"}} (RESTCallee, baseurl = the back end) against the same wrk GETting the back end directly. Forwarder: $FWD_EVENTS events on bench.fwd published by sseload burst on $WRK_CONNS connections, one MessageForwarder (expectedcode 200) to the receiver, which logs each request's X-Switchboard-Event-Id.$(pin_ok && echo " wrk -c1 runs and the forwarder test pinned (taskset): Switchboard's loop thread and the client on CPU $CPU_GW, the back end on CPU $CPU_BE, the burst publisher on CPU $CPU_BE.")"
fi
echo
echo "| figure | switchboard | nchan | sb/nchan | target |"
echo "|---|---:|---:|---:|---|"
for r in "${ROWS[@]}"; do
	IFS='|' read -r a b c d e <<<"$r"
	echo "| $a | $b | $c | $d | $e |"
done
for n in "${NOTES[@]}"; do echo; echo "Note: $n"; done
echo "---- end ----"
