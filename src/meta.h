/* meta.h - the WAMP meta API, answered by the router itself: the
 * wamp.session.on_join / on_leave events and the wamp.session.count, list
 * and get procedures (what Crossbar users build presence lists on), and
 * wamp.subscription.get_events, served from the SQLite history.
 *
 * Meta events go through the bus at once, outside the history sequence
 * (bus_publish_live): never stored, never sent to SSE clients.
 */
#ifndef SB_META_H
#define SB_META_H

#include <stdbool.h>

#include <jansson.h>

struct session;

/* Publish wamp.session.on_join / on_leave for s (on_leave before s's
 * authid and role are released). */
/* {session, realm, authid, authrole, authmethod, authprovider, authextra,
 * transport}: what on_join and wamp.session.get say, and what dynamic
 * authorizers are told.  New reference. */
json_t *meta_session_details(const struct session *s);

void meta_session_joined(struct session *s);
void meta_session_left(struct session *s);

/* If msg (a checked CALL from s) names a meta procedure, answers it and
 * returns true; false for any other procedure. */
bool meta_call(struct session *s, const json_t *msg);

#endif
