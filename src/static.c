/* static.c - static files (see static.h).
 *
 * Traversal is refused twice: any ".." segment is rejected outright (the
 * adapter has already percent-decoded the path, so "%2e%2e" arrives as
 * ".."), and the resolved real path must still lie inside the root, which
 * also stops symlinks that point outside.
 */
#include "static.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "gateway.h"

static const struct {
	const char *ext, *type;
} types[] = {
	{".html", "text/html; charset=utf-8"}, {".htm", "text/html; charset=utf-8"},
	{".css", "text/css; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
	{".mjs", "text/javascript; charset=utf-8"}, {".json", "application/json"},
	{".map", "application/json"}, {".svg", "image/svg+xml"}, {".png", "image/png"},
	{".jpg", "image/jpeg"}, {".jpeg", "image/jpeg"}, {".gif", "image/gif"},
	{".ico", "image/x-icon"}, {".txt", "text/plain; charset=utf-8"},
	{".woff2", "font/woff2"}, {".wasm", "application/wasm"},
};

const char *static_content_type(const char *name)
{
	const char *dot = strrchr(name, '.');
	for (size_t i = 0; dot && i < sizeof types / sizeof *types; i++)
		if (!strcasecmp(dot, types[i].ext))
			return types[i].type;
	return "application/octet-stream";
}

static bool has_dot_dot(const char *path)
{
	for (const char *p = path; (p = strstr(p, "..")); p += 2) {
		bool starts = p == path || p[-1] == '/' || p[-1] == '\\';
		bool ends = p[2] == '\0' || p[2] == '/' || p[2] == '\\';
		if (starts && ends)
			return true;
	}
	return false;
}

static enum http_result not_found(struct http_request *req)
{
	http_error(req, 404, "switchboard.error.not_found", "No such file: %.200s", req->path);
	return HTTP_DONE;
}

/* ---- caching -------------------------------------------------------------------- */

/* A validator that changes whenever the file does: its size and mtime. */
static void etag_of(const struct stat *st, char *out, size_t size)
{
	snprintf(out, size, "\"%llx-%llx\"", (unsigned long long)st->st_size,
		 (unsigned long long)st->st_mtim.tv_sec * 1000000000ULL +
		 (unsigned long long)st->st_mtim.tv_nsec);
}

static void http_date(time_t t, char *out, size_t size)
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, size, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

/* ETag and Last-Modified always (so a browser can revalidate for a few
 * bytes), and Cache-Control as configured: revalidate by default,
 * Crossbar's cache_timeout (max-age, public, Expires) when given. */
static void add_caching(struct http_request *req, const struct sb_path *path,
			const struct stat *st)
{
	char value[64];
	int timeout = path ? path->cache_timeout_s : -1;
	etag_of(st, value, sizeof value);
	http_add_header(req, "ETag", value);
	http_date(st->st_mtim.tv_sec, value, sizeof value);
	http_add_header(req, "Last-Modified", value);
	if (timeout == -1) {
		http_add_header(req, "Cache-Control", "no-cache");
	} else if (timeout >= 0) {
		snprintf(value, sizeof value, "max-age=%d, public", timeout);
		http_add_header(req, "Cache-Control", value);
		http_date(time(NULL) + timeout, value, sizeof value);
		http_add_header(req, "Expires", value);
	}
}

/* If-None-Match (when sent, it alone decides) or If-Modified-Since. */
static bool is_unchanged(struct http_request *req, const struct stat *st)
{
	const char *none_match = http_header(req, "If-None-Match");
	const char *since = http_header(req, "If-Modified-Since");
	if (none_match) {
		char etag[64];
		etag_of(st, etag, sizeof etag);
		return strstr(none_match, etag) || !strcmp(none_match, "*");
	}
	struct tm tm = {0};
	const char *end = since ? strptime(since, "%a, %d %b %Y %H:%M:%S GMT", &tm) : NULL;
	return end && !*end && st->st_mtim.tv_sec <= timegm(&tm);
}

enum http_result static_handle(struct http_request *req)
{
	const struct sb_path *path = req->route->path;
	const char *root = path && path->directory ? path->directory : req->gw->www_dir;
	const char *rel = req->path;

	if (strcmp(req->method, "GET") && strcmp(req->method, "HEAD")) {
		http_add_header(req, "Allow", "GET, HEAD");
		http_error(req, 405, "switchboard.error.method_not_allowed",
			   "Static files are read with GET or HEAD (not %s).", req->method);
		return HTTP_DONE;
	}
	/* A static path mounted at /name serves /name/...; "/" serves all. */
	if (path && strcmp(path->name, "/")) {
		rel += 1 + strlen(path->name);
		if (*rel && *rel != '/')
			return not_found(req);
	}
	if (has_dot_dot(rel) || strchr(rel, '\\')) {
		http_error(req, 400, "switchboard.error.bad_request",
			   "Paths may not contain '..' segments.");
		return HTTP_DONE;
	}

	char real_root[PATH_MAX], real_file[PATH_MAX];
	if (!root || !realpath(root, real_root))
		return not_found(req);
	char *joined = xasprintf("%s/%s", real_root, *rel == '/' ? rel + 1 : rel);
	struct stat st;
	if (stat(joined, &st) == 0 && S_ISDIR(st.st_mode)) {
		char *index = xasprintf("%s/index.html", joined);
		free(joined);
		joined = index;
	}
	bool inside = realpath(joined, real_file) &&
		      !strncmp(real_file, real_root, strlen(real_root)) &&
		      real_file[strlen(real_root)] == '/';
	free(joined);
	int fd = inside ? open(real_file, O_RDONLY | O_CLOEXEC) : -1;
	if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		if (fd >= 0)
			close(fd);
		return not_found(req);
	}
	req->response.content_type = static_content_type(real_file);
	add_caching(req, path, &st);
	if (is_unchanged(req, &st)) {
		close(fd);
		req->response.status = 304;    /* the browser's copy is current */
		return HTTP_DONE;
	}
	req->response.status = 200;
	req->response.file_fd = fd;
	req->response.file_size = (uint64_t)st.st_size;
	return HTTP_DONE;
}
