/* sse.h - Server-Sent Events: GET /sse streams, replay-then-live.
 *
 * A client subscribes to one or more topics (exact, prefix or wildcard).
 * With a Last-Event-ID it first replays, from history, every stored event
 * after that id, then continues live.  The hand-over is gap- and
 * duplicate-free by construction: while replaying, the client ignores live
 * deliveries and keeps reading history up to the bus's delivered sequence;
 * when a read comes back short, everything up to that sequence has been
 * sent, and every later event arrives live (all on the loop thread, so
 * nothing can slip in between).
 *
 * Each client queues shared events (no copy, no formatting per client) up
 * to a bound; a client that falls further behind is cut - it reconnects
 * with its Last-Event-ID and replays, so nothing is lost.
 */
#ifndef SB_SSE_H
#define SB_SSE_H

#include <stddef.h>

#include "http.h"
#include "util.h"

struct gateway;
struct sse_hub;

struct sse_hub *sse_hub_new(struct gateway *gw);
/* Ends every stream cleanly (end of chunked body). */
void sse_hub_end_all(struct sse_hub *hub);
void sse_hub_free(struct sse_hub *hub);

/* GET /sse: answers with an event stream or an error. */
enum http_result sse_handle(struct http_request *req);

/* Appends one SSE event block to out: optional "id:" and "event:" lines,
 * one "data:" line per line of data (split at CRLF, CR or LF, as the
 * client will), and the blank line that dispatches it. */
void sse_frame_build(struct buf *out, const char *id, const char *event,
		     const char *data, size_t len);

/* Appends a comment block (": text" per line, then a blank line). */
void sse_comment_build(struct buf *out, const char *text);

#endif
