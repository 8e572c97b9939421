/* static.h - files from www/ (or a static path's directory), never
 * anything outside it. */
#ifndef SB_STATIC_H
#define SB_STATIC_H

#include "http.h"

enum http_result static_handle(struct http_request *req);

/* Content type for a file name, by extension. */
const char *static_content_type(const char *name);

#endif
