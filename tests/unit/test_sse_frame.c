/* Test that SSE framing produces what an EventSource parses back into the
 * original data: one data: line per line (CRLF, CR and LF all split), id
 * and event lines, UTF-8 untouched, comments that cannot dispatch. */
#include <stdlib.h>

#include "sse.h"
#include "tap.h"
#include "util.h"

static char *frame(const char *id, const char *event, const char *data)
{
	struct buf b = {0};
	sse_frame_build(&b, id, event, data, strlen(data));
	return b.data;
}

static char *comment(const char *text)
{
	struct buf b = {0};
	sse_comment_build(&b, text);
	return b.data;
}

static const struct {
	const char *id, *event, *data, *want, *what;
} cases[] = {
	{"1", NULL, "{\"topic\":\"a\"}", "id: 1\ndata: {\"topic\":\"a\"}\n\n", "one-line JSON"},
	{"42", "price", "x", "id: 42\nevent: price\ndata: x\n\n", "event name"},
	{NULL, NULL, "a\nb", "data: a\ndata: b\n\n", "LF splits lines"},
	{NULL, NULL, "a\r\nb", "data: a\ndata: b\n\n", "CRLF splits once"},
	{NULL, NULL, "a\rb", "data: a\ndata: b\n\n", "lone CR splits (the client treats it as a line end)"},
	{NULL, NULL, "a\n\nb", "data: a\ndata: \ndata: b\n\n", "empty middle line kept"},
	{NULL, NULL, "a\n", "data: a\ndata: \n\n", "trailing newline kept"},
	{NULL, NULL, "", "data: \n\n", "empty data still dispatches"},
	{NULL, NULL, " lead", "data:  lead\n\n", "leading space survives (one space is eaten)"},
	{"7", NULL, "h\xc3\xa9llo \xf0\x9f\x98\x80", "id: 7\ndata: h\xc3\xa9llo \xf0\x9f\x98\x80\n\n",
	 "UTF-8 (2- and 4-byte) bytes untouched"},
};

int main(void)
{
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		char *got = frame(cases[i].id, cases[i].event, cases[i].data);
		is_str(got, cases[i].want, "frame: %s", cases[i].what);
		free(got);
	}
	char *c = comment("history: expired");
	is_str(c, ": history: expired\n\n", "comment block");
	free(c);
	c = comment("two\nlines");
	is_str(c, ": two\n: lines\n\n", "a multi-line comment stays a comment on every line");
	free(c);
	return done_testing();
}
