/* acl.h - static role permissions: may this role do this action on this URI?
 *
 * Precedence is Crossbar's intended one: a rule whose uri equals the URI
 * (exact) wins, then the matching wildcard rule with the most non-empty
 * components, then the longest matching prefix rule.  No rule = denied.
 * (Crossbar's own code has quirks here; README "Differences" lists them.)
 */
#ifndef SB_ACL_H
#define SB_ACL_H

#include <stdbool.h>

#include "config.h"

enum acl_action { ACL_CALL, ACL_REGISTER, ACL_PUBLISH, ACL_SUBSCRIBE };

/* The rule that decides for uri, or NULL (denied). Borrowed from role. */
const struct sb_permission *acl_rule(const struct sb_role *role, const char *uri);

/* True if role (may be NULL = deny) allows action on uri. */
bool acl_allows(const struct sb_role *role, enum acl_action action, const char *uri);

#endif
