#!/usr/bin/python3
"""agent.py URL REALM SERIALIZER [AUTH] - one Autobahn|Python (asyncio) WAMP
session driven by the end-to-end tests over JSON lines.

AUTH (optional) is a JSON object: {"authmethods": [..], "authid", "authextra",
"seed" (cryptosign: the Ed25519 private key seed in hex),
"ticket": for ticket, "secret": for wampcra (salted when the CHALLENGE carries a
salt: the key is derived with autobahn.wamp.auth.derive_key)}.  Without it the
session joins as before (anonymous, HELLO without authmethods).

Run with Debian's /usr/bin/python3 (python3-autobahn).  SERIALIZER is "json"
or "msgpack".  Everything the session sees is written to stdout as one JSON
object per line; commands are read from stdin, one JSON object per line.
Binary values cross the pipe as {"__bytes__": "<base64>"} in both directions.

Out (stdout):
  {"ev": "joined", "session": id, "authid", "authrole", "realm",
   "authmethod", "authprovider", "authextra"}
  {"ev": "challenge", "method", "extra"}                  (with AUTH only)
  {"ev": "event", "sub": TAG, "args", "kwargs", "details": {...}}
  {"ev": "invocation", "reg": TAG, "args", "kwargs", "details": {...}}
  {"ev": "interrupt", "request": INVOCATION id, "mode": m, "tag": args[0] of the invocation}
  {"ev": "interrupted", "reg": TAG, "tag": args[0]}     the endpoint saw CancelledError
  {"ev": "progress", "call": ID, "args", "kwargs"}
  {"ev": "left", "reason", "message"} / {"ev": "disconnected"}
  {"re": ID, "ok": true, ...} / {"re": ID, "ok": false, "error": uri, "args", "kwargs"}

In (stdin):
  {"op": "subscribe", "id", "topic", "tag", "options": {"match": ..}}
  {"op": "publish", "id", "topic", "args", "kwargs", "options": {..PublishOptions..}}
  {"op": "register", "id", "procedure", "tag", "options": {"match", "invoke"},
       "mode": "echo" | "hold" | "progress" | "error",
       "progress": n (for "progress"), "on_interrupt": [args] (answer after an INTERRUPT;
       default: let the cancellation propagate)}
  {"op": "answer", "tag": args[0] of a held invocation, "args", "kwargs"}
  {"op": "call", "id", "procedure", "args", "kwargs", "options": {"timeout", "receive_progress"}}
  {"op": "cancel", "call": ID of the call, "mode": "kill" | "killnowait" | "skip" | null}
       an explicit mode sends [49, req, {"mode": m}] on the wire and keeps waiting for
       the router's answer; null cancels the future (Autobahn's own [49, req, {}])
  {"op": "leave", "id"}
"""

import asyncio
import base64
import json
import sys
import threading

import txaio
txaio.use_asyncio()

from autobahn.asyncio.wamp import ApplicationRunner, ApplicationSession  # noqa: E402
from autobahn.wamp import auth, cryptosign, message, types  # noqa: E402
from autobahn.wamp.exception import ApplicationError  # noqa: E402
from autobahn.wamp.serializer import JsonSerializer, MsgPackSerializer  # noqa: E402


def enc(v):
    if isinstance(v, (bytes, bytearray)):
        return {"__bytes__": base64.b64encode(bytes(v)).decode()}
    if isinstance(v, (list, tuple)):
        return [enc(x) for x in v]
    if isinstance(v, dict):
        return {k: enc(x) for k, x in v.items()}
    return v


def dec(v):
    if isinstance(v, dict):
        if set(v.keys()) == {"__bytes__"}:
            return base64.b64decode(v["__bytes__"])
        return {k: dec(x) for k, x in v.items()}
    if isinstance(v, list):
        return [dec(x) for x in v]
    return v


def out(obj):
    sys.stdout.write(json.dumps(enc(obj)) + "\n")
    sys.stdout.flush()


def details_dict(d):
    r = {}
    for k in ("publication", "publisher", "publisher_authid", "publisher_authrole", "topic",
              "caller", "caller_authid", "caller_authrole", "procedure", "enc_algo"):
        if hasattr(d, k) and getattr(d, k) is not None:
            r[k] = getattr(d, k)
    if getattr(d, "progress", None) is not None:
        r["receive_progress"] = True
    return r


class Agent(ApplicationSession):

    def __init__(self, config=None):
        super().__init__(config)
        self.calls = {}          # call id -> future
        self.held = {}           # tag -> future
        self.inv_tags = {}       # INVOCATION request id -> tag (args[0])

    def onMessage(self, msg):
        # See the raw INVOCATION / INTERRUPT messages (the high-level API hides
        # the request ids and the INTERRUPT mode).
        if isinstance(msg, message.Invocation):
            self.inv_tags[msg.request] = msg.args[0] if msg.args else None
        elif isinstance(msg, message.Interrupt):
            out({"ev": "interrupt", "request": msg.request, "mode": msg.mode,
                 "tag": self.inv_tags.get(msg.request)})
        return super().onMessage(msg)

    def onConnect(self):
        a = AGENT["auth"]
        if a is None:
            return super().onConnect()
        self.join(self.config.realm, authmethods=a.get("authmethods"), authid=a.get("authid"),
                  authextra=a.get("authextra"))

    def onChallenge(self, challenge):
        a = AGENT["auth"] or {}
        out({"ev": "challenge", "method": challenge.method, "extra": challenge.extra})
        if challenge.method == "ticket":
            return a["ticket"]
        if challenge.method == "wampcra":
            extra = challenge.extra
            key = a["secret"]
            if extra.get("salt"):
                key = auth.derive_key(a["secret"], extra["salt"], extra.get("iterations", 1000),
                                      extra.get("keylen", 32))
            return auth.compute_wcs(key, extra["challenge"]).decode("ascii")
        if challenge.method == "cryptosign":
            # Autobahn's own Ed25519 (PyNaCl): the signature over the challenge
            # bytes, followed by them, in hex.
            key = cryptosign.CryptosignKey.from_bytes(bytes.fromhex(a["seed"]))
            return key.sign_challenge(challenge)
        raise Exception("agent.py: no credentials for authmethod " + challenge.method)

    async def onJoin(self, details):
        AGENT["session"] = self
        out({"ev": "joined", "session": details.session, "authid": details.authid,
             "authrole": details.authrole, "realm": details.realm,
             "authmethod": details.authmethod, "authprovider": details.authprovider,
             "authextra": details.authextra})

    def onLeave(self, details):
        out({"ev": "left", "reason": details.reason, "message": details.message})
        self.disconnect()

    def onDisconnect(self):
        out({"ev": "disconnected"})
        asyncio.get_event_loop().call_later(0.05, asyncio.get_event_loop().stop)

    # ---- commands ----------------------------------------------------------

    async def handle(self, cmd):
        op = cmd.get("op")
        cid = cmd.get("id")
        try:
            if op == "subscribe":
                await self.do_subscribe(cmd)
            elif op == "publish":
                opts = types.PublishOptions(**(cmd.get("options") or {}))
                pub = self.publish(cmd["topic"], *(dec(cmd.get("args") or [])),
                                   options=opts, **(dec(cmd.get("kwargs") or {})))
                if pub is not None:
                    pub = await pub
                out({"re": cid, "ok": True, "publication": pub.id if pub is not None else None})
            elif op == "register":
                await self.do_register(cmd)
            elif op == "answer":
                fut = self.held.pop(cmd["tag"])
                fut.set_result((dec(cmd.get("args") or []), dec(cmd.get("kwargs") or {})))
                out({"re": cid, "ok": True})
            elif op == "call":
                await self.do_call(cmd)
            elif op == "cancel":
                fut = self.calls[cmd["call"]]
                mode = cmd.get("mode")
                if mode is None:
                    fut.cancel()
                else:
                    req = next(r for r, c in self._call_reqs.items() if c.on_reply is fut)
                    self._transport.send(message.Cancel(req, mode=mode))
                out({"re": cid, "ok": True})
            elif op == "leave":
                self.leave()
                out({"re": cid, "ok": True})
            else:
                out({"re": cid, "ok": False, "error": "agent.unknown_op", "args": [op]})
        except ApplicationError as e:
            out({"re": cid, "ok": False, "error": e.error, "args": list(e.args), "kwargs": e.kwargs})
        except Exception as e:  # noqa: BLE001
            out({"re": cid, "ok": False, "error": "agent.exception", "args": [repr(e)]})

    async def do_subscribe(self, cmd):
        tag = cmd.get("tag") or cmd["topic"]

        def on_event(*args, **kwargs):
            details = kwargs.pop("details")
            out({"ev": "event", "sub": tag, "args": list(args), "kwargs": kwargs,
                 "details": details_dict(details)})

        o = cmd.get("options") or {}
        sub = await self.subscribe(on_event, cmd["topic"],
                                   options=types.SubscribeOptions(match=o.get("match"), details=True))
        out({"re": cmd.get("id"), "ok": True, "subscription": sub.id})

    async def do_register(self, cmd):
        tag = cmd.get("tag") or cmd["procedure"]
        mode = cmd.get("mode", "echo")
        on_interrupt = cmd.get("on_interrupt")

        async def endpoint(*args, **kwargs):
            details = kwargs.pop("details")
            key = args[0] if args else None
            out({"ev": "invocation", "reg": tag, "args": list(args), "kwargs": kwargs,
                 "details": details_dict(details)})
            if mode == "echo":
                return types.CallResult(*args, **kwargs)
            if mode == "error":
                raise ApplicationError("com.example.error." + str(tag), *args, **kwargs)
            if mode == "progress":
                n = cmd.get("progress", 3)
                for i in range(n):
                    if details.progress:
                        details.progress(i, key)
                    await asyncio.sleep(0.02)
                return types.CallResult("done", key, n=n)
            # hold: wait for an "answer" command or an INTERRUPT
            fut = asyncio.get_event_loop().create_future()
            self.held[key] = fut
            try:
                a, k = await fut
            except asyncio.CancelledError:
                self.held.pop(key, None)
                out({"ev": "interrupted", "reg": tag, "tag": key})
                if on_interrupt is None:
                    raise
                return types.CallResult(*on_interrupt)
            return types.CallResult(*a, **k)

        o = cmd.get("options") or {}
        reg = await self.register(endpoint, cmd["procedure"], options=types.RegisterOptions(
            match=o.get("match"), invoke=o.get("invoke"), details=True))
        out({"re": cmd.get("id"), "ok": True, "registration": reg.id})

    async def do_call(self, cmd):
        cid = cmd.get("id")
        o = dict(cmd.get("options") or {})
        kw = {}
        if o.get("receive_progress"):
            kw["on_progress"] = lambda *a, **k: out({"ev": "progress", "call": cid, "args": list(a),
                                                      "kwargs": k})
        if o.get("timeout") is not None:
            kw["timeout"] = o["timeout"]
        opts = types.CallOptions(**kw) if kw else None
        kwargs = dec(cmd.get("kwargs") or {})
        if opts:
            kwargs["options"] = opts
        fut = self.call(cmd["procedure"], *(dec(cmd.get("args") or [])), **kwargs)
        self.calls[cid] = fut
        try:
            r = await fut
        except asyncio.CancelledError:
            out({"re": cid, "ok": False, "error": "agent.cancelled_locally", "args": []})
            return
        if isinstance(r, types.CallResult):
            out({"re": cid, "ok": True, "args": list(r.results), "kwargs": r.kwresults})
        elif r is None:
            out({"re": cid, "ok": True, "args": [], "kwargs": {}})
        else:
            out({"re": cid, "ok": True, "args": [r], "kwargs": {}})


AGENT = {"session": None, "auth": None}


def main():
    url, realm, ser = sys.argv[1], sys.argv[2], sys.argv[3]
    if len(sys.argv) > 4:
        AGENT["auth"] = json.loads(sys.argv[4])
    serializers = [MsgPackSerializer()] if ser == "msgpack" else [JsonSerializer()]
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    txaio.config.loop = loop

    def on_line(line):
        try:
            cmd = json.loads(line)
        except ValueError:
            out({"ev": "bad_command", "line": line})
            return
        s = AGENT["session"]
        if s is None:
            out({"re": cmd.get("id"), "ok": False, "error": "agent.not_joined", "args": []})
            return
        loop.create_task(s.handle(cmd))

    def reader():
        for line in sys.stdin:
            line = line.strip()
            if line:
                loop.call_soon_threadsafe(on_line, line)
        loop.call_soon_threadsafe(loop.stop)

    runner = ApplicationRunner(url, realm, serializers=serializers)
    try:
        loop.run_until_complete(runner.run(Agent, start_loop=False))
    except Exception as e:  # noqa: BLE001
        out({"ev": "connect_failed", "error": repr(e)})
        return 1
    threading.Thread(target=reader, daemon=True).start()
    loop.run_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
