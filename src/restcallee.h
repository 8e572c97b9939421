/* restcallee.h - Crossbar's RESTCallee, run in-process: a WAMP procedure
 * that performs an HTTP request described by the call's arguments (method,
 * url relative to the configured baseurl, body, headers, params) and
 * returns {code, content, headers}, as Crossbar does.
 *
 * Loop thread only.
 */
#ifndef SB_RESTCALLEE_H
#define SB_RESTCALLEE_H

#include "config.h"

struct gateway;
struct restcallee;

/* Joins the realm as an internal session and registers the procedure.
 * NULL if it cannot join (logged).  cfg is borrowed from the config. */
struct restcallee *restcallee_start(struct gateway *gw, const struct sb_component *cfg);

/* Abandons requests in flight, leaves the realm (pending calls fail with
 * wamp.error.canceled), frees rc. */
void restcallee_stop(struct restcallee *rc);

#endif
