/* config_auth.c - the "auth" object of websocket and eventsource paths
 * (Crossbar's anonymous, ticket, wampcra and cryptosign, static or
 * dynamic; Switchboard's jwt for event streams).  Part of config.c's
 * parse: fills sb_path.auth, whose methods auth.c and sse.c run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_keys.h"
#include "util.h"

static const char *const method_names[SB_AUTH_N_METHODS] = {
	[SB_AUTH_ANONYMOUS] = "anonymous", [SB_AUTH_TICKET] = "ticket",
	[SB_AUTH_WAMPCRA] = "wampcra", [SB_AUTH_CRYPTOSIGN] = "cryptosign",
	[SB_AUTH_JWT] = "jwt",
};

static int take(struct ctx *c, json_t *v, char **dst)
{
	return keys_take_string(c, v, dst);
}

/* ---- principals ------------------------------------------------------------ */

static int principal_secret(struct ctx *c, json_t *v, void *obj, const struct field *f)
{
	return keys_take_secret(c, v, &((struct sb_principal *)obj)->secret);
}

static int principal_role(struct ctx *c, json_t *v, void *obj, const struct field *f)
{
	return take(c, v, &((struct sb_principal *)obj)->role);
}

static int principal_realm(struct ctx *c, json_t *v, void *obj, const struct field *f)
{
	return take(c, v, &((struct sb_principal *)obj)->realm);
}

static int principal_salt(struct ctx *c, json_t *v, void *obj, const struct field *f)
{
	return take(c, v, &((struct sb_principal *)obj)->salt);
}

static int hex_key(const char *hex, unsigned char out[32])
{
	if (strlen(hex) != 64)
		return -1;
	for (int i = 0; i < 32; i++) {
		unsigned int byte;
		if (sscanf(hex + 2 * i, "%2x", &byte) != 1 || !strchr("0123456789abcdefABCDEF", hex[2 * i]) ||
		    !strchr("0123456789abcdefABCDEF", hex[2 * i + 1]))
			return -1;
		out[i] = (unsigned char)byte;
	}
	return 0;
}

static int authorized_keys(struct ctx *c, json_t *v, void *obj, const struct field *f)
{
	struct sb_principal *p = obj;
	if (keys_string_array(c, v, NULL) < 0)
		return -1;
	p->n_keys = json_array_size(v);
	p->keys = xcalloc(p->n_keys ? p->n_keys : 1, sizeof *p->keys);
	for (size_t i = 0; i < p->n_keys; i++) {
		if (hex_key(json_string_value(json_array_get(v, i)), p->keys[i]) < 0) {
			keys_push_index(c, i);
			return keys_reject(c, "expected an Ed25519 public key as 64 hex digits");
		}
	}
	return 0;
}

static const struct field ticket_principal_fields[] = {
	REQ("ticket", T_STR, principal_secret),
	FN("role", T_STR, principal_role),
	END,
};

static const struct field wampcra_user_fields[] = {
	REQ("secret", T_STR, principal_secret),
	FN("role", T_STR, principal_role),
	FN("salt", T_STR, principal_salt),
	INT("iterations", struct sb_principal, iterations, 1, 10000000, 1000),
	INT("keylen", struct sb_principal, keylen, 1, 1024, 32),
	END,
};

static const struct field cryptosign_principal_fields[] = {
	REQ("authorized_keys", T_ARR, authorized_keys),
	FN("role", T_STR, principal_role),
	FN("realm", T_STR, principal_realm),
	END,
};

/* {authid: {...}}, each parsed against table. */
static int parse_principals(struct ctx *c, json_t *v, struct sb_auth_method_cfg *m,
			    const struct field *table)
{
	m->n_principals = json_object_size(v);
	m->principals = xcalloc(m->n_principals ? m->n_principals : 1, sizeof *m->principals);
	size_t i = 0;
	const char *authid;
	json_t *e;
	json_object_foreach(v, authid, e) {
		struct sb_principal *p = &m->principals[i++];
		size_t mark = keys_push(c, authid);
		p->authid = xstrdup(authid);
		keys_defaults(table, p);
		if (keys_expect_object(c, e) < 0 || keys_parse_object(c, e, table, p) < 0)
			return -1;
		keys_pop(c, mark);
	}
	return 0;
}

static int ticket_principals(struct ctx *c, json_t *v, void *obj, const struct field *f)
{
	return parse_principals(c, v, obj, ticket_principal_fields);
}

static int wampcra_users(struct ctx *c, json_t *v, void *obj, const struct field *f)
{
	return parse_principals(c, v, obj, wampcra_user_fields);
}

static int cryptosign_principals(struct ctx *c, json_t *v, void *obj, const struct field *f)
{
	return parse_principals(c, v, obj, cryptosign_principal_fields);
}

/* ---- the methods ------------------------------------------------------------- */

static int method_type(struct ctx *c, json_t *v, void *obj, const struct field *f)
{
	const char *s = json_string_value(v);
	if (strcmp(s, "static") && strcmp(s, "dynamic"))
		return keys_reject(c, "unknown value \"%s\" (use \"static\" or \"dynamic\")", s);
	((struct sb_auth_method_cfg *)obj)->is_dynamic = !strcmp(s, "dynamic");
	return 0;
}

static int method_authenticator(struct ctx *c, json_t *v, void *obj, const struct field *f)
{
	if (!uri_is_valid(json_string_value(v)))
		return keys_reject(c, "invalid procedure URI \"%s\"", json_string_value(v));
	return take(c, v, &((struct sb_auth_method_cfg *)obj)->authenticator);
}

static int method_string(struct ctx *c, json_t *v, void *obj, const struct field *f)
{
	struct sb_auth_method_cfg *m = ((struct sb_auth_method_cfg *)obj);
	char **dst = !strcmp(f->key, "authenticator-realm") ? &m->authenticator_realm
		   : !strcmp(f->key, "authenticator-role") ? &m->authenticator_role
		   : !strcmp(f->key, "authid") ? &m->authid
		   : !strcmp(f->key, "issuer") ? &m->issuer
		   : !strcmp(f->key, "audience") ? &m->audience
		   : !strcmp(f->key, "role_claim") ? &m->role_claim
		   : !strcmp(f->key, "topics_claim") ? &m->topics_claim
		   : !strcmp(f->key, "secret") ? &m->jwt_secret
		   : &m->role;                /* role, default-role */
	return dst == &m->jwt_secret ? keys_take_secret(c, v, dst) : take(c, v, dst);
}

static int jwt_public_key(struct ctx *c, json_t *v, void *obj, const struct field *f)
{
	char *path = keys_resolve(c, json_string_value(v));
	struct buf pem = {0};
	int rc = buf_read_file(&pem, path);
	buf_append(&pem, "", 1);
	if (rc < 0 || !strstr(pem.data, "-----BEGIN PUBLIC KEY-----"))
		rc = keys_reject(c, "%s: cannot read a PEM public key (\"-----BEGIN PUBLIC KEY-----\")",
				 path);
	else {
		free(((struct sb_auth_method_cfg *)obj)->jwt_public_key);
		((struct sb_auth_method_cfg *)obj)->jwt_public_key = xstrdup(pem.data);
	}
	buf_free(&pem);
	free(path);
	return rc;
}

static const char *const jwt_algorithms[] = {"HS256", "RS256", "ES256", NULL};

static int jwt_algorithm_list(struct ctx *c, json_t *v, void *obj, const struct field *f)
{
	struct sb_auth_method_cfg *m = obj;
	if (keys_string_array(c, v, jwt_algorithms) < 0)
		return -1;
	for (int i = 0; i < 3; i++) {
		m->jwt_allows[i] = false;
		for (size_t k = 0; k < json_array_size(v); k++)
			m->jwt_allows[i] |= !strcmp(json_string_value(json_array_get(v, k)),
						    jwt_algorithms[i]);
	}
	return 0;
}

#define DYNAMIC_FIELDS \
	REQ("type", T_STR, method_type), \
	FN("authenticator", T_STR, method_authenticator), \
	FN("authenticator-realm", T_STR, method_string), \
	FN("authenticator-role", T_STR, method_string), \
	FN("default-role", T_STR, method_string)

static const struct field anonymous_fields[] = {
	REQ("type", T_STR, method_type),
	FN("role", T_STR, method_string),
	FN("authid", T_STR, method_string),
	F("realm", T_STR),         /* accepted and ignored, as Crossbar */
	END,
};

static const struct field ticket_fields[] = {
	DYNAMIC_FIELDS,
	FN("principals", T_OBJ, ticket_principals),
	END,
};

static const struct field wampcra_fields[] = {
	DYNAMIC_FIELDS,
	FN("users", T_OBJ, wampcra_users),
	END,
};

static const struct field cryptosign_fields[] = {
	DYNAMIC_FIELDS,
	FN("principals", T_OBJ, cryptosign_principals),
	END,
};

static const struct field jwt_fields[] = {
	FN("secret", T_STR, method_string),
	FN("public_key", T_STR, jwt_public_key),
	FN("algorithms", T_ARR, jwt_algorithm_list),
	FN("issuer", T_STR, method_string),
	FN("audience", T_STR, method_string),
	FN("role_claim", T_STR, method_string),
	FN("topics_claim", T_STR, method_string),
	END,
};

static const struct field *const method_fields[SB_AUTH_N_METHODS] = {
	[SB_AUTH_ANONYMOUS] = anonymous_fields, [SB_AUTH_TICKET] = ticket_fields,
	[SB_AUTH_WAMPCRA] = wampcra_fields, [SB_AUTH_CRYPTOSIGN] = cryptosign_fields,
	[SB_AUTH_JWT] = jwt_fields,
};

static int parse_method(struct ctx *c, json_t *v, struct sb_path *p, enum sb_auth_method id)
{
	struct sb_auth_method_cfg *m = &p->auth.methods[id];
	m->jwt_allows[0] = m->jwt_allows[1] = m->jwt_allows[2] = true;
	if (keys_expect_object(c, v) < 0 || keys_parse_object(c, v, method_fields[id], m) < 0)
		return -1;
	m->is_enabled = true;
	if (id == SB_AUTH_ANONYMOUS && m->is_dynamic)
		return keys_reject(c, "anonymous authentication is static only");
	if (m->is_dynamic && !m->authenticator)
		return keys_reject(c, "a dynamic method needs \"authenticator\", the procedure "
				   "that decides");
	if (id == SB_AUTH_JWT && !m->jwt_secret && !m->jwt_public_key)
		return keys_reject(c, "give \"secret\" (HS256) or \"public_key\" (RS256, ES256)");
	if (id == SB_AUTH_ANONYMOUS && m->role) {   /* the path's role for anonymous clients */
		free(p->role);
		p->role = xstrdup(m->role);
	}
	return 0;
}

int config_path_auth(struct ctx *c, json_t *v, void *obj, const struct field *f)
{
	struct sb_path *p = obj;
	const char *name;
	json_t *e;
	p->auth.is_set = true;
	json_object_foreach(v, name, e) {
		size_t mark = keys_push(c, name);
		int id = -1;
		for (int i = 0; i < SB_AUTH_N_METHODS; i++)
			if (!strcmp(method_names[i], name))
				id = i;
		bool is_sse = p->type == SB_PATH_EVENTSOURCE;
		if (id < 0 || (id == SB_AUTH_JWT && !is_sse) ||
		    (is_sse && (id == SB_AUTH_WAMPCRA || id == SB_AUTH_CRYPTOSIGN)))
			return keys_reject(c, "authentication method \"%s\" is not supported here (%s)",
					   name, is_sse ? "event streams take anonymous, ticket and jwt"
					   : "use anonymous, ticket, wampcra or cryptosign");
		if (parse_method(c, e, p, (enum sb_auth_method)id) < 0)
			return -1;
		keys_pop(c, mark);
	}
	return 0;
}

static void free_method(struct sb_auth_method_cfg *m)
{
	for (size_t i = 0; i < m->n_principals; i++) {
		struct sb_principal *p = &m->principals[i];
		free(p->authid);
		free(p->secret);
		free(p->role);
		free(p->realm);
		free(p->salt);
		free(p->keys);
	}
	free(m->principals);
	free(m->authenticator);
	free(m->authenticator_realm);
	free(m->authenticator_role);
	free(m->role);
	free(m->authid);
	free(m->jwt_secret);
	free(m->jwt_public_key);
	free(m->issuer);
	free(m->audience);
	free(m->role_claim);
	free(m->topics_claim);
}

void config_free_auth(struct sb_auth *auth)
{
	for (int i = 0; i < SB_AUTH_N_METHODS; i++)
		free_method(&auth->methods[i]);
	memset(auth, 0, sizeof *auth);
}
