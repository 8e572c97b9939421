/* Test that the one-port dispatcher routes a peeked request head right:
 * only a complete WebSocket upgrade offering a WAMP subprotocol on a
 * websocket path goes to libwebsockets; everything else (plain requests,
 * upgrades without a WAMP subprotocol, upgrades on other paths) goes to
 * libmicrohttpd, and an incomplete head waits. */
#include <string.h>

#include "listener.h"
#include "tap.h"

static bool is_ws_path(void *ctx, const char *path, size_t len)
{
	return len == 3 && !memcmp(path, "/ws", 3);
}

#define UPGRADE "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: x\r\n" \
		"Sec-WebSocket-Version: 13\r\n"

static const struct {
	const char *head;
	enum listener_route want;
	const char *what;
} cases[] = {
	{"GET /sse?topic=a HTTP/1.1\r\nHost: x\r\n\r\n", ROUTE_TO_HTTP, "plain GET"},
	{"POST /publish HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}", ROUTE_TO_HTTP, "POST with body"},
	{"GET /ws HTTP/1.1\r\nHost: x\r\n" UPGRADE "Sec-WebSocket-Protocol: wamp.2.json\r\n\r\n",
	 ROUTE_TO_WEBSOCKET, "WAMP upgrade on /ws"},
	{"GET /ws?x=1 HTTP/1.1\r\n" UPGRADE "Sec-WebSocket-Protocol: wamp.2.msgpack, wamp.2.json\r\n\r\n",
	 ROUTE_TO_WEBSOCKET, "several subprotocols, query string"},
	{"GET /ws HTTP/1.1\r\nupgrade: WebSocket\r\nsec-websocket-protocol: WAMP.2.JSON\r\n\r\n",
	 ROUTE_TO_WEBSOCKET, "header names and values in any case"},
	{"GET /ws HTTP/1.1\r\n" UPGRADE "\r\n", ROUTE_TO_HTTP,
	 "upgrade without subprotocol goes to MHD (which answers 400)"},
	{"GET /ws HTTP/1.1\r\n" UPGRADE "Sec-WebSocket-Protocol: chat\r\n\r\n", ROUTE_TO_HTTP,
	 "upgrade with a foreign subprotocol"},
	{"GET /sse HTTP/1.1\r\n" UPGRADE "Sec-WebSocket-Protocol: wamp.2.json\r\n\r\n", ROUTE_TO_HTTP,
	 "WAMP upgrade on a non-websocket path"},
	{"GET /wsx HTTP/1.1\r\n" UPGRADE "Sec-WebSocket-Protocol: wamp.2.json\r\n\r\n", ROUTE_TO_HTTP,
	 "path that only starts like the websocket path"},
	{"GET /ws HTTP/1.1\r\nX-Upgrade: websocket\r\nSec-WebSocket-Protocol: wamp.2.json\r\n\r\n",
	 ROUTE_TO_HTTP, "a header that merely ends in Upgrade"},
	{"GET /ws HTTP/1.1\r\n" UPGRADE "Sec-WebSocket-Protocol: wamp.2.json\r\n", ROUTE_INCOMPLETE,
	 "head without its blank line waits"},
	{"GET /ws HTTP/1.1\n" "Upgrade: websocket\nSec-WebSocket-Protocol: wamp.2.json\n\n",
	 ROUTE_TO_WEBSOCKET, "bare LF line ends"},
	{"GET /ws HTTP/1.1\r\n" UPGRADE "Sec-WebSocket-Protocol: wamp.2.cbor, wamp.2.msgpack\r\n\r\n",
	 ROUTE_TO_WEBSOCKET, "msgpack offered second"},
	{"GET /ws HTTP/1.1\r\n" UPGRADE "Sec-WebSocket-Protocol: wamp.2.json.batched\r\n\r\n",
	 ROUTE_TO_HTTP, "a subprotocol that only starts like wamp.2.json"},
	{"GET /ws HTTP/1.1\r\nUpgrade: h2c, websocket\r\nSec-WebSocket-Protocol: wamp.2.json\r\n\r\n",
	 ROUTE_TO_WEBSOCKET, "websocket in an Upgrade list"},
	{"", ROUTE_INCOMPLETE, "nothing yet"},
};

int main(void)
{
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
		is_int(listener_classify(cases[i].head, strlen(cases[i].head), is_ws_path, NULL),
		       cases[i].want, "%s", cases[i].what);

	/* A head that fills the peek buffer without ending goes to MHD, which
	 * answers it (431) rather than making the client wait forever. */
	static char big[8192];
	memset(big, 'a', sizeof big);
	memcpy(big, "GET / HTTP/1.1\r\nCookie: ", 24);
	is_int(listener_classify(big, sizeof big, is_ws_path, NULL), ROUTE_TO_HTTP,
	       "an 8 KiB head without an end goes to MHD");
	return done_testing();
}
