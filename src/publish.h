/* publish.h - the HTTP bridge's inbound side: POST /publish (HTTP
 * publisher), POST /call (HTTP caller) and webhooks, with Crossbar.io's
 * status codes and checks (see README "HTTP bridge"). */
#ifndef SB_PUBLISH_H
#define SB_PUBLISH_H

#include "http.h"

/* POST /publish: validate, authorize, publish; replies after the commit. */
enum http_result publish_handle(struct http_request *req);
/* POST /call: validate, authorize, route the call. */
enum http_result publish_handle_call(struct http_request *req);
/* Webhook: publish the request's headers and body on the path's topic. */
enum http_result publish_handle_webhook(struct http_request *req);

#endif
