/* acl.c - static permission lookup (see acl.h). */
#include "acl.h"

#include <string.h>

static int nonempty_components(const char *uri)
{
	int n = 0;
	for (const char *p = uri; *p;) {
		const char *dot = strchr(p, '.');
		size_t len = dot ? (size_t)(dot - p) : strlen(p);
		n += len > 0;
		if (!dot)
			break;
		p = dot + 1;
	}
	return n;
}

static long rank(const struct sb_permission *p)
{
	switch (p->match) {
	case URI_EXACT:
		return 3L << 40;
	case URI_WILDCARD:
		return (2L << 40) + nonempty_components(p->uri);
	case URI_PREFIX:
		return (1L << 40) + (long)strlen(p->uri);
	}
	return 0;
}

const struct sb_permission *acl_rule(const struct sb_role *role, const char *uri)
{
	const struct sb_permission *best = NULL;
	long best_rank = -1;
	if (!role)
		return NULL;
	for (size_t i = 0; i < role->n_permissions; i++) {
		const struct sb_permission *p = &role->permissions[i];
		if (!uri_matches(p->uri, p->match, uri))
			continue;
		long r = rank(p);
		if (r > best_rank) {
			best = p;
			best_rank = r;
		}
	}
	return best;
}

bool acl_allows(const struct sb_role *role, enum acl_action action, const char *uri)
{
	const struct sb_permission *p = acl_rule(role, uri);
	if (!p)
		return false;
	switch (action) {
	case ACL_CALL:
		return p->allow_call;
	case ACL_REGISTER:
		return p->allow_register;
	case ACL_PUBLISH:
		return p->allow_publish;
	case ACL_SUBSCRIBE:
		return p->allow_subscribe;
	}
	return false;
}
