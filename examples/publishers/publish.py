#!/usr/bin/env python3
"""publish.py - publish events to Switchboard from Python, standard library only.

Copy publish() into your application, or run it from a shell:

    SWITCHBOARD_URL=http://127.0.0.1:8080 python3 publish.py com.example.news '["hello"]' '{"n": 1}'

publish() returns the publication id once the event is stored, and raises
PublishError (with the gateway's error URI and sentence) when it was not
published.
"""
import json
import os
import sys
import urllib.error
import urllib.request

SWITCHBOARD_URL = os.environ.get("SWITCHBOARD_URL", "http://127.0.0.1:8080")


class PublishError(Exception):
    def __init__(self, status, error, message):
        super().__init__(f"HTTP {status}: {error}: {message}")
        self.status, self.error, self.message = status, error, message


def publish(topic, args=None, kwargs=None, options=None, url=SWITCHBOARD_URL, timeout=10):
    body = {"topic": topic}
    if args is not None:
        body["args"] = list(args)
    if kwargs is not None:
        body["kwargs"] = dict(kwargs)
    if options is not None:
        body["options"] = dict(options)
    request = urllib.request.Request(
        url.rstrip("/") + "/publish",
        data=json.dumps(body).encode("utf-8"),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, reply = response.status, json.load(response)
    except urllib.error.HTTPError as e:
        # 4xx: the gateway could not accept the request; the body says why.
        status, reply = e.code, json.load(e)
    # 200 {"error": ...} is a refusal by WAMP (not authorized, reserved topic).
    if status != 200 or "error" in reply:
        raise PublishError(status, reply.get("error"), (reply.get("args") or [""])[0])
    return reply["id"]


def main(argv):
    if len(argv) < 2:
        print("usage: publish.py TOPIC [ARGS_JSON] [KWARGS_JSON]", file=sys.stderr)
        return 2
    args = json.loads(argv[2]) if len(argv) > 2 else []
    kwargs = json.loads(argv[3]) if len(argv) > 3 else {}
    try:
        print(json.dumps({"id": publish(argv[1], args, kwargs)}))
    except (PublishError, urllib.error.URLError) as e:
        print(f"publish.py: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
