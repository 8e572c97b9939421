/* main.c - the command line: verbs, flags, exit codes.
 *
 *   switchboard [start] [--config FILE | --cbdir DIR] [--listen HOST:PORT]
 *               [--db PATH] [--www DIR] [--loglevel LEVEL]
 *   switchboard check --config FILE | --cbdir DIR
 *   switchboard init [DIR]
 *   switchboard version
 */
#include <curl/curl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "gateway.h"
#include "log.h"
#include "util.h"

struct options {
	const char *verb;
	const char *config, *cbdir, *listen, *db, *www, *init_dir;
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: switchboard [start] [--config FILE | --cbdir DIR] [--listen HOST:PORT]\n"
		"                   [--db PATH] [--www DIR] [--loglevel debug|info|warn|error]\n"
		"       switchboard check --config FILE | --cbdir DIR\n"
		"       switchboard init [DIR]          (default .switchboard)\n"
		"       switchboard version\n"
		"Without a config, runs the embedded default: 127.0.0.1:8080, realm realm1,\n"
		"paths /ws /publish /call /sse /info and www/ at /.\n");
}

static int parse_args(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'}, {"cbdir", required_argument, NULL, 'd'},
		{"listen", required_argument, NULL, 'l'}, {"db", required_argument, NULL, 'b'},
		{"www", required_argument, NULL, 'w'}, {"loglevel", required_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
	};
	o->verb = "start";
	if (argc > 1 && argv[1][0] != '-') {
		o->verb = argv[1];
		argv++;
		argc--;
	}
	int opt, level;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c': o->config = optarg; break;
		case 'd': o->cbdir = optarg; break;
		case 'l': o->listen = optarg; break;
		case 'b': o->db = optarg; break;
		case 'w': o->www = optarg; break;
		case 'v':
			if ((level = log_level_parse(optarg)) < 0) {
				fprintf(stderr, "switchboard: --loglevel must be debug, info, warn or error\n");
				return -1;
			}
			log_threshold = (enum log_level)level;
			break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); return -1;
		}
	}
	if (optind < argc && !strcmp(o->verb, "init"))
		o->init_dir = argv[optind++];
	if (optind < argc) {
		fprintf(stderr, "switchboard: unexpected argument \"%s\"\n", argv[optind]);
		return -1;
	}
	if (o->config && o->cbdir) {
		fprintf(stderr, "switchboard: give --config or --cbdir, not both\n");
		return -1;
	}
	return 0;
}

static int load(struct sb_config *cfg, const struct options *o)
{
	char err[1024];
	int rc;
	if (o->config) {
		rc = config_load_file(cfg, o->config, err, sizeof err);
	} else if (o->cbdir) {
		char *path = xasprintf("%s/config.json", o->cbdir);
		rc = config_load_file(cfg, path, err, sizeof err);
		free(path);
	} else {
		rc = config_load_default(cfg, err, sizeof err);
	}
	if (rc)
		fprintf(stderr, "%s\n", err);
	return rc;
}

/* --listen HOST:PORT replaces the first transport's endpoint; port 0 lets
 * the kernel pick one (the log line says which). */
static int apply_listen(struct sb_config *cfg, const char *listen)
{
	const char *colon = strrchr(listen, ':');
	char *end;
	long port = colon ? strtol(colon + 1, &end, 10) : 0;
	if (!colon || *end || port < 0 || port > 65535 || colon[1] == '\0' || !cfg->n_transports) {
		fprintf(stderr, "switchboard: --listen must be HOST:PORT, e.g. 127.0.0.1:8080\n");
		return -1;
	}
	struct sb_endpoint *e = &cfg->transports[0].endpoint;
	free(e->interface);
	e->interface = colon == listen ? NULL : xstrndup(listen, (size_t)(colon - listen));
	if (e->interface && e->interface[0] == '[') {   /* [::1]:8080 */
		char *bare = xstrndup(e->interface + 1, strlen(e->interface) - 2);
		free(e->interface);
		e->interface = bare;
	}
	e->port = (int)port;
	return 0;
}

static bool is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* www/ and schema/ come from the source tree when this binary is the one
 * in the build tree, else from the installed share/switchboard. */
static const char *data_dir(void)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n > 0) {
		self[n] = '\0';
		char *built = xasprintf("%s/src/switchboard", SB_BUILDDIR);
		char real_built[PATH_MAX];
		bool in_tree = realpath(built, real_built) && !strcmp(real_built, self);
		free(built);
		if (in_tree)
			return SB_SRCDIR;
	}
	return SB_DATADIR;
}

int main(int argc, char **argv)
{
	struct options o = {0};
	struct sb_config cfg = {0};
	char err[1024];

	if (parse_args(argc, argv, &o))
		return 2;
	if (!strcmp(o.verb, "version")) {
		printf("switchboard %s\n", PACKAGE_VERSION);
		return 0;
	}
	if (!strcmp(o.verb, "init")) {
		const char *dir = o.init_dir ? o.init_dir : ".switchboard";
		if (config_write_starter(dir, err, sizeof err)) {
			fprintf(stderr, "%s\n", err);
			return 1;
		}
		printf("wrote %s/config.json; start it with: switchboard start --cbdir %s\n", dir, dir);
		return 0;
	}
	if (!strcmp(o.verb, "check")) {
		if (load(&cfg, &o))
			return 1;
		printf("%s: ok\n", cfg.source);
		config_free(&cfg);
		return 0;
	}
	if (strcmp(o.verb, "start")) {
		fprintf(stderr, "switchboard: unknown command \"%s\"\n", o.verb);
		usage(stderr);
		return 2;
	}
	if (load(&cfg, &o))
		return 1;
	if (o.listen && apply_listen(&cfg, o.listen)) {
		config_free(&cfg);
		return 2;
	}
	if (o.db) {
		free(cfg.history.path);
		cfg.history.path = xstrdup(o.db);
	}
	const char *data = data_dir();
	char *www = o.www ? xstrdup(o.www) : xasprintf("%s/www", data);
	char *schema = xasprintf("%s/schema", data);
	if (!is_dir(schema)) {
		fprintf(stderr, "switchboard: schema directory %s is missing; reinstall "
			"(make install) or run the binary from its build tree\n", schema);
		return 1;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);   /* before any thread starts */
	int code = gateway_run(&cfg, www, schema);
	curl_global_cleanup();
	free(www);
	free(schema);
	config_free(&cfg);
	return code;
}
