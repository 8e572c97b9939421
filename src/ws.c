/* ws.c - libwebsockets glue (see ws.h).
 *
 * lws runs on our uv loop (LWS_SERVER_OPTION_LIBUV with a foreign loop;
 * Debian's lws has no external-poll support) with one vhost that does not
 * listen: connections arrive through lws_adopt_socket_vhost().
 */
#include "ws.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "gateway.h"
#include "log.h"
#include "util.h"

struct ws_server {
	struct gateway *gw;
	struct lws_context *context;
	struct lws_vhost *vhost;
	struct ws_conn *conns;         /* open WAMP connections */
	void *foreign_loops[1];
};

/* Per-connection state, allocated by lws (per_session_data_size). */
struct ws_conn {
	struct ws_conn *prev, *next;
	struct lws *wsi;
	char peer[64];
	struct buf out;                /* LWS_PRE headroom + one pending message */
	bool is_closing, is_close_sent;
	unsigned close_code;           /* 1000 after ABORT, 1001 at shutdown */
};

static struct ws_server *server_of(struct lws *wsi)
{
	return lws_context_user(lws_get_context(wsi));
}

/* Queues one text message (one per writable callback, as lws wants). */
static void send_text(struct ws_conn *c, const char *text)
{
	size_t len = strlen(text);
	c->out.len = 0;
	char pre[LWS_PRE] = {0};
	buf_append(&c->out, pre, LWS_PRE);
	buf_append(&c->out, text, len);
	lws_callback_on_writable(c->wsi);
}

static void on_message(struct ws_conn *c, const char *data, size_t len)
{
	/* Until the router lands: answer the HELLO clearly, then close. */
	log_msg(LOG_INFO, "ws", "%s: WAMP message received; sessions are not implemented in "
		"this build, sending ABORT", c->peer);
	send_text(c, "[3,{\"message\":\"WAMP sessions are not implemented by this Switchboard "
		  "build yet\"},\"wamp.error.not_implemented\"]");
	c->is_closing = true;
	c->close_code = LWS_CLOSE_STATUS_NORMAL;
}

static int callback_wamp(struct lws *wsi, enum lws_callback_reasons reason, void *user,
			 void *in, size_t len)
{
	struct ws_conn *c = user;
	struct ws_server *ws = server_of(wsi);

	switch (reason) {
	case LWS_CALLBACK_ESTABLISHED: {
		char ip[48] = "?";
		lws_get_peer_simple(wsi, ip, sizeof ip);
		memset(c, 0, sizeof *c);
		c->wsi = wsi;
		snprintf(c->peer, sizeof c->peer, "%s fd %d", ip, lws_get_socket_fd(wsi));
		c->next = ws->conns;
		if (c->next)
			c->next->prev = c;
		ws->conns = c;
		ws->gw->stats.ws_connections++;
		log_msg(LOG_DEBUG, "ws", "%s: WebSocket open (wamp.2.json)", c->peer);
		break;
	}
	case LWS_CALLBACK_RECEIVE:
		if (lws_is_final_fragment(wsi) && !c->is_closing)
			on_message(c, in, len);
		break;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		if (c->out.len > LWS_PRE) {
			lws_write(wsi, (unsigned char *)c->out.data + LWS_PRE, c->out.len - LWS_PRE,
				  LWS_WRITE_TEXT);
			c->out.len = 0;
		}
		if (c->is_closing && !c->is_close_sent) {
			/* lws 4.1 drops the connection without a close frame when a
			 * callback returns -1, so send the frame ourselves and let the peer's reply end it; the timeout
			 * ends it if the peer never answers. */
			unsigned char frame[LWS_PRE + 2] = {0};
			frame[LWS_PRE] = (unsigned char)(c->close_code >> 8);
			frame[LWS_PRE + 1] = (unsigned char)(c->close_code & 0xff);
			lws_write(wsi, frame + LWS_PRE, 2, (enum lws_write_protocol)4 /* close */);
			c->is_close_sent = true;
			lws_set_timeout(wsi, PENDING_TIMEOUT_CLOSE_SEND, 2);
		}
		break;
	case LWS_CALLBACK_CLOSED:
		if (c->prev)
			c->prev->next = c->next;
		else if (ws->conns == c)
			ws->conns = c->next;
		if (c->next)
			c->next->prev = c->prev;
		buf_free(&c->out);
		ws->gw->stats.ws_connections--;
		log_msg(LOG_DEBUG, "ws", "%s: WebSocket closed", c->peer);
		break;
	default:
		break;
	}
	return 0;
}

static const struct lws_protocols protocols[] = {
	/* protocols[0] gets handshakes offering no known subprotocol; the
	 * listener never hands those over (MHD answers them with 400). */
	{"http", lws_callback_http_dummy, 0, 0, 0, NULL, 0},
	{"wamp.2.json", callback_wamp, sizeof(struct ws_conn), 1024, 0, NULL, 0},
	{NULL, NULL, 0, 0, 0, NULL, 0},
};

static void lws_logger(int level, const char *line)
{
	char copy[512];
	snprintf(copy, sizeof copy, "%s", line);
	copy[strcspn(copy, "\n")] = '\0';
	log_msg(level == LLL_ERR ? LOG_ERROR : LOG_WARN, "ws", "libwebsockets: %s", copy);
}

struct ws_server *ws_server_new(struct gateway *gw, char *err, size_t errlen)
{
	struct ws_server *ws = xcalloc(1, sizeof *ws);
	struct lws_context_creation_info info;
	ws->gw = gw;
	ws->foreign_loops[0] = gw->loop;

	lws_set_log_level(LLL_ERR | LLL_WARN, lws_logger);
	memset(&info, 0, sizeof info);
	info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
	info.foreign_loops = ws->foreign_loops;
	info.user = ws;
	info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
	ws->context = lws_create_context(&info);
	if (!ws->context) {
		snprintf(err, errlen, "ws: cannot create the libwebsockets context (is the "
			 "libwebsockets-evlib-uv package installed?)");
		free(ws);
		return NULL;
	}
	memset(&info, 0, sizeof info);
	info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
	info.protocols = protocols;
	info.vhost_name = "switchboard";
	ws->vhost = lws_create_vhost(ws->context, &info);
	if (!ws->vhost) {
		snprintf(err, errlen, "ws: cannot create the libwebsockets vhost");
		lws_context_destroy(ws->context);
		free(ws);
		return NULL;
	}
	return ws;
}

void ws_server_adopt(struct ws_server *ws, int fd)
{
	if (!lws_adopt_socket_vhost(ws->vhost, fd)) {
		log_msg(LOG_WARN, "ws", "fd %d: libwebsockets refused the connection; closing", fd);
		close(fd);
	}
}

void ws_server_close_all(struct ws_server *ws)
{
	for (struct ws_conn *c = ws->conns; c; c = c->next) {
		c->is_closing = true;
		c->close_code = LWS_CLOSE_STATUS_GOINGAWAY;
		lws_callback_on_writable(c->wsi);
	}
}

void ws_server_stop(struct ws_server *ws)
{
	if (ws)
		lws_context_destroy(ws->context);
}

void ws_server_free(struct ws_server *ws)
{
	if (!ws)
		return;
	lws_context_destroy(ws->context);
	free(ws);
}
