/* info.h - /info (node info, JSON or HTML), /metrics (Prometheus text). */
#ifndef SB_INFO_H
#define SB_INFO_H

#include "http.h"

enum http_result info_handle(struct http_request *req);
enum http_result info_handle_metrics(struct http_request *req);

#endif
