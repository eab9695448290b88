"""builtin:events, the event hub shared by all workers: a WebSocket (HTTP/1.1 upgrade) at any
path of the mount speaking JSON text messages (init, register, query; the server's init_res,
register_res, query_res and events notifications).

Covered: init and the exact init_res; init refusals (a client_token not among
events_client_tokens, a malformed subscription pattern, persisted without a store), each an
init_res with result "error" and then Close 1008; a message that is not JSON (Close 1007), a
register before init and a second init (Close 1008); register with and without a response,
event ids (server from events_server_id, increasing instance), timestamps, source timestamps
and payloads echoed; an invalid event type refusing the batch ("events": null); subscription
matching end to end ("?", "*" last, [], the publisher's own events, init's server_id); delivery
to subscribers spread over four workers, complete, in order and without duplicates; query
(event types, order, max_results and more_follows, the timestamp and source timestamp windows,
server_id); retention (events_retention_max_events); the hub process (comm hornet-events)
killed and respawned by the master with workers untouched, new clients served and old ones
served or closed with 1011, and told "standby" then "operational"; "standby" before the
drain's Close 1001 on a graceful stop; the same messages over plain HTTP (POST register and
query, GET query by query string, tokens as Bearer or in the query, 400/403/405/413) and as
Server-Sent Events; 426 for a plain GET; hornet -t on a bad events_server_id.

Clients: the `websockets` library (10.4, asyncio; its sync client is newer than Debian 12's).
Every receive has a deadline; the one wait for "nothing arrives" is bounded by a fence event
the other subscribers already received.
"""

import asyncio
import contextlib
import json
import os
import re
import signal
import time
import urllib.parse

import httpx
import pytest
import websockets

from hornet_fixture import run_hornet, socket_inodes, tcp_entry, wait_until, write_config

HUB_COMM = "hornet-events"


# ---------------------------------------------------------------------------------------------
# processes


def comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return None


def hub_pids_logged(srv):
    """Pids that logged "event hub ready": under valgrind every process's comm is
    valgrind's own, so the name set by prctl cannot tell the hub from a worker there."""
    return {int(m) for m in re.findall(r"\[(\d+)\] \[INFO\] events: event hub ready",
                                       srv.stderr_text())}


def hubs(srv):
    logged = hub_pids_logged(srv)
    return [p for p in srv.workers() if comm(p) == HUB_COMM or p in logged]


def workers(srv):
    h = set(hubs(srv))
    return [p for p in srv.workers() if p not in h]


def wait_settled(srv, n_workers):
    """Wait for n_workers workers and one hub; returns (worker pids, hub pid)."""
    def settled():
        w, h = workers(srv), hubs(srv)
        if len(w) == n_workers and len(h) == 1 and len(srv.workers()) == n_workers + 1:
            return sorted(w), h[0]
        return None
    return wait_until(settled, what="%d workers and one %s process" % (n_workers, HUB_COMM))


def events_server(hornet_server, workers=1, **cfg):
    """builtin:events with the events_* keys given (plus `workers`), settled."""
    cfg["workers"] = workers
    srv = hornet_server(app="builtin:events", config=cfg)
    wait_settled(srv, workers)
    return srv


def owner(srv, ws):
    """The worker pid holding the server's end of WebSocket ws, or None."""
    p = tcp_entry(srv.port, ws.local_address[1])
    if p is None:
        return None
    inode = int(p[9])
    for pid in workers(srv):
        if inode in socket_inodes(pid):
            return pid
    return None


# ---------------------------------------------------------------------------------------------
# protocol


def run(coro, timeout=60):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def ws_connect(srv, path="/"):
    return websockets.connect("ws://127.0.0.1:%d%s" % (srv.port, path), compression=None,
                              ping_interval=None, open_timeout=10, close_timeout=5,
                              max_size=None)


async def recv_json(ws, timeout=5.0):
    msg = await asyncio.wait_for(ws.recv(), timeout)
    assert isinstance(msg, str), "a binary message: %r" % msg[:200]
    return json.loads(msg)


async def send_json(ws, obj):
    await ws.send(json.dumps(obj))


def init_msg(subscriptions=(), mid=1, client_name="t", client_token=None, server_id=None,
             persisted=False):
    return {"type": "init", "id": mid, "client_name": client_name, "client_token": client_token,
            "subscriptions": [list(s) for s in subscriptions], "server_id": server_id,
            "persisted": persisted}


def ev(etype, payload=None, source_timestamp=None, with_payload=True):
    """An event to register; with_payload=False leaves the payload key out."""
    e = {"type": list(etype), "source_timestamp": source_timestamp}
    if with_payload:
        e["payload"] = payload
    return e


def query_msg(event_types=(("*",),), mid=3, t_from=None, t_to=None, source_t_from=None,
              source_t_to=None, server_id=None, order="descending", max_results=None):
    return {"type": "query", "id": mid, "event_types": [list(t) for t in event_types],
            "t_from": t_from, "t_to": t_to, "source_t_from": source_t_from,
            "source_t_to": source_t_to, "server_id": server_id, "order": order,
            "max_results": max_results}


async def expect_closed(ws, code, timeout=5.0):
    """The server closes ws with code, sending no further message first."""
    try:
        msg = await asyncio.wait_for(ws.recv(), timeout)
    except websockets.ConnectionClosed:
        pass
    else:
        raise AssertionError("expected Close %d, got a message %r" % (code, msg[:300]))
    await asyncio.wait_for(ws.wait_closed(), timeout)
    assert ws.close_code == code, (ws.close_code, ws.close_reason)


def eid(event):
    return (event["id"]["session"], event["id"]["instance"])


def check_event(e, server):
    assert set(e) == {"id", "type", "timestamp", "source_timestamp", "payload"}, e
    assert set(e["id"]) == {"server", "session", "instance"}, e
    assert e["id"]["server"] == server, e
    assert type(e["id"]["session"]) is int and e["id"]["session"] > 0, e
    assert type(e["id"]["instance"]) is int, e
    assert isinstance(e["timestamp"], (int, float)) and not isinstance(e["timestamp"], bool), e


def check_increasing(events):
    """Registration order: (session, instance) strictly increasing, instance strictly
    increasing within a session."""
    ids = [eid(e) for e in events]
    assert ids == sorted(ids) and len(set(ids)) == len(ids), ids


class Client:
    """A WebSocket after a successful init. next(kind) returns the next message of that type,
    keeping the others (a register_res and the notification of the same events may come in
    either order) for later calls."""

    def __init__(self, ws, server=1):
        self.ws = ws
        self.server = server
        self.pending = []
        self.next_id = 100

    async def next(self, kind, timeout=5.0):
        for i, m in enumerate(self.pending):
            if m["type"] == kind:
                return self.pending.pop(i)
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError("no %s message within %ss; had %r"
                                     % (kind, timeout, self.pending[:5]))
            try:
                m = await recv_json(self.ws, remaining)
            except asyncio.TimeoutError:
                raise AssertionError("no %s message within %ss; had %r"
                                     % (kind, timeout, self.pending[:5])) from None
            if m["type"] == kind:
                return m
            self.pending.append(m)

    def _id(self):
        self.next_id += 1
        return self.next_id

    async def register(self, events, with_response=True):
        """Registers events; returns register_res's events (None when refused)."""
        mid = self._id()
        await send_json(self.ws, {"type": "register", "id": mid, "events": list(events),
                                  "with_response": with_response})
        if not with_response:
            return None
        res = await self.next("register_res")
        assert set(res) == {"type", "id", "events"} and res["id"] == mid, res
        if res["events"] is not None:
            assert len(res["events"]) == len(events), res
            for e in res["events"]:
                check_event(e, self.server)
        return res["events"]

    async def query(self, **kw):
        """Returns (events, more_follows)."""
        mid = self._id()
        await send_json(self.ws, query_msg(mid=mid, **kw))
        res = await self.next("query_res")
        assert set(res) == {"type", "id", "events", "more_follows"} and res["id"] == mid, res
        assert type(res["more_follows"]) is bool, res
        for e in res["events"]:
            check_event(e, self.server)
        return res["events"], res["more_follows"]

    async def notified(self, timeout=5.0):
        """The events of the next events notification."""
        m = await self.next("events", timeout)
        assert set(m) == {"type", "id", "events", "ack"}, m
        assert m["ack"] is False and type(m["id"]) is int, m
        assert isinstance(m["events"], list) and m["events"], m
        for e in m["events"]:
            check_event(e, self.server)
        return m["events"]

    async def events_until(self, last, timeout=10.0):
        """Every event notified up to and including the one whose id is last's."""
        got = []
        deadline = time.monotonic() + timeout
        while not got or eid(got[-1]) != eid(last):
            batch = await self.notified(max(0.01, deadline - time.monotonic()))
            for e in batch:
                got.append(e)
                if eid(e) == eid(last):
                    assert e is batch[-1], "events after the fence in its batch: %r" % batch
        return got


async def init(ws, mid=1, **kw):
    """Sends init and returns init_res."""
    await send_json(ws, init_msg(mid=mid, **kw))
    return await recv_json(ws)


async def client(stack, srv, subscriptions=(), path="/", server=1, **kw):
    """A connected, initialised Client (closed when the AsyncExitStack closes)."""
    ws = await stack.enter_async_context(ws_connect(srv, path))
    res = await init(ws, subscriptions=subscriptions, **kw)
    assert res == {"type": "init_res", "id": 1, "result": "success", "status": "operational"}, res
    return Client(ws, server)


async def refused(srv, word, **kw):
    """init is answered with result "error" naming word, then Close 1008."""
    async with ws_connect(srv) as ws:
        res = await init(ws, mid=5, **kw)
        assert set(res) == {"type", "id", "result", "error"}, res
        assert (res["type"], res["id"], res["result"]) == ("init_res", 5, "error"), res
        assert isinstance(res["error"], str) and word in res["error"], res
        await expect_closed(ws, 1008)


# ---------------------------------------------------------------------------------------------
# init


def test_init_success_and_errors(hornet_server):
    srv = events_server(hornet_server)

    async def main():
        async with ws_connect(srv, "/") as ws:
            res = await init(ws, subscriptions=[["chat", "?", "msg"]])
            assert res == {"type": "init_res", "id": 1, "result": "success",
                           "status": "operational"}
        async with ws_connect(srv, "/any/path/at/all") as ws:
            res = await init(ws, mid=42, client_name="b", subscriptions=[])
            assert res == {"type": "init_res", "id": 42, "result": "success",
                           "status": "operational"}
        await refused(srv, "pattern", subscriptions=[["chat", "*", "msg"]])
        await refused(srv, "pattern", subscriptions=[["ok"], ["chat", "", "msg"]])
        await refused(srv, "persisted", subscriptions=[["chat", "*"]], persisted=True)
    run(main())


def test_init_client_token(hornet_server):
    srv = events_server(hornet_server, events_client_tokens=["s3cret"])

    async def main():
        await refused(srv, "client_token", client_token="wrong")
        await refused(srv, "client_token", client_token=None)
        async with contextlib.AsyncExitStack() as stack:
            c = await client(stack, srv, [["t"]], client_token="s3cret")
            [e] = await c.register([ev(["t"], "ok")])
            assert (await c.notified()) == [e]
    run(main())


def test_malformed_json_1007_and_out_of_order_1008(hornet_server):
    srv = events_server(hornet_server)

    async def main():
        async with ws_connect(srv) as ws:
            assert (await init(ws))["result"] == "success"
            await ws.send('{"type": "query", "id": 3,')
            await expect_closed(ws, 1007)
        async with ws_connect(srv) as ws:
            await send_json(ws, {"type": "register", "id": 2, "events": [ev(["a"], 1)],
                                 "with_response": True})
            await expect_closed(ws, 1008)
        async with ws_connect(srv) as ws:
            assert (await init(ws))["result"] == "success"
            await send_json(ws, init_msg(mid=2))
            await expect_closed(ws, 1008)
    run(main())


# ---------------------------------------------------------------------------------------------
# register


def test_register_ids_timestamps_payloads(hornet_server):
    srv = events_server(hornet_server, events_server_id=7)

    async def main():
        async with contextlib.AsyncExitStack() as stack:
            c = await client(stack, srv, [], server=7)
            sent = [ev(["chat", "r1", "msg"], {"text": "hi", "n": [1, 2.5, None, True]},
                       1700000000.5),
                    ev(["chat", "r2", "msg"], "a string"),
                    ev(["chat", "r3"], 42, 12.25),
                    ev(["chat"], None),
                    ev(["chat", "x"], with_payload=False)]
            before = time.time()
            got = await c.register(sent)
            after = time.time()
            assert [e["type"] for e in got] == [e["type"] for e in sent]
            assert [e["payload"] for e in got] == [{"text": "hi", "n": [1, 2.5, None, True]},
                                                   "a string", 42, None, None]
            assert [e["source_timestamp"] for e in got] == [1700000000.5, None, 12.25, None,
                                                            None]
            assert len({e["id"]["session"] for e in got}) == 1, got
            check_increasing(got)
            for e in got:
                assert before - 5 <= e["timestamp"] <= after + 5, (before, e, after)
            more = await c.register([ev(["chat", "later"], -1.5)])
            assert more[0]["payload"] == -1.5
            check_increasing(got + more)

            # an invalid type refuses the whole batch: null, nothing stored
            for bad in (["chat", "?"], ["chat", "*"], ["chat", "", "msg"], []):
                assert await c.register([ev(["chat", "fine"], 1), ev(bad, 2)]) is None, bad
            events, _ = await c.query(event_types=[["*"]], order="ascending")
            assert events == sorted(got + more, key=lambda e: (e["timestamp"],) + eid(e))

            # without a response: no reply at all, the next message is the query's
            await c.register([ev(["chat", "quiet"], 3)], with_response=False)
            await send_json(c.ws, query_msg(mid=77, max_results=1))
            res = await recv_json(c.ws)
            assert (res["type"], res["id"]) == ("query_res", 77), res
    run(main())


# ---------------------------------------------------------------------------------------------
# notifications


def test_subscription_matching(hornet_server):
    srv = events_server(hornet_server)

    async def main():
        async with contextlib.AsyncExitStack() as stack:
            one = await client(stack, srv, [["chat", "?", "msg"], ["fence"]])
            star = await client(stack, srv, [["chat", "*"], ["fence"]])
            other = await client(stack, srv, [["other"], ["fence"]])
            every = await client(stack, srv, [["*"]])
            ours = await client(stack, srv, [["fence"]], server_id=1)
            none = await client(stack, srv, [])
            foreign = await client(stack, srv, [["*"]], server_id=999)
            pub = await client(stack, srv, [["chat", "r1", "*"], ["fence"]])  # publisher
            types = [["chat", "r1", "msg"], ["chat"], ["chat", "r1", "msg", "x"],
                     ["chat", "msg"], ["other"], ["other", "x"], ["chatter", "r1", "msg"],
                     ["x", "chat", "r1", "msg"], ["chat", "r2", "msg"]]
            got = await pub.register([ev(t, i) for i, t in enumerate(types[:5])])
            got += await pub.register([ev(t, i + 5) for i, t in enumerate(types[5:])])
            [fence] = await pub.register([ev(["fence"], "end")])
            check_increasing(got + [fence])
            by_type = {tuple(e["type"]): e for e in got}

            def want(*ts):
                return [by_type[tuple(t)] for t in ts] + [fence]

            expected = {
                "one": want(["chat", "r1", "msg"], ["chat", "r2", "msg"]),
                "star": want(["chat", "r1", "msg"], ["chat"], ["chat", "r1", "msg", "x"],
                             ["chat", "msg"], ["chat", "r2", "msg"]),
                "other": want(["other"]),
                "every": got + [fence],
                "ours": [fence],
                "pub": want(["chat", "r1", "msg"], ["chat", "r1", "msg", "x"]),
            }
            for name, c in (("one", one), ("star", star), ("other", other), ("every", every),
                            ("ours", ours), ("pub", pub)):
                assert await c.events_until(fence) == expected[name], name
                assert c.pending == [], (name, c.pending)

            # the fence reached everyone else: nothing is on its way to these two
            async def silent(c):
                with pytest.raises(asyncio.TimeoutError):
                    m = await recv_json(c.ws, 0.5)
                    raise AssertionError("unexpected message %r" % m)
            await asyncio.gather(silent(none), silent(foreign))
    run(main())


def test_delivery_across_four_workers(hornet_server):
    srv = events_server(hornet_server, workers=4)
    n = 50

    async def main():
        async with contextlib.AsyncExitStack() as stack:
            subs, owners = [], set()
            while len(subs) < 16 or (len(owners) < 2 and len(subs) < 64):
                c = await client(stack, srv, [["load", "*"]])
                subs.append(c)
                pid = wait_until(lambda: owner(srv, c.ws), 5,
                                 what="the worker holding connection %d" % len(subs))
                owners.add(pid)
            assert len(owners) >= 2, "%d connections all went to worker %s" % (len(subs),
                                                                               owners)
            pub = await client(stack, srv, [])
            for i in range(n):
                await pub.register([ev(["load", "n"], i)], with_response=False)
            [fence] = await pub.register([ev(["load", "end"], "end")])
            lists = await asyncio.gather(*(c.events_until(fence, 15) for c in subs))
            first = lists[0]
            assert [e["payload"] for e in first] == list(range(n)) + ["end"]
            assert first[-1] == fence
            check_increasing(first)
            for i, got in enumerate(lists):
                assert got == first, "subscriber %d (worker %s) differs" % (i, owner(srv,
                                                                                     subs[i].ws))
    run(main())


# ---------------------------------------------------------------------------------------------
# query and retention


def test_query(hornet_server):
    srv = events_server(hornet_server, events_server_id=3)

    async def main():
        async with contextlib.AsyncExitStack() as stack:
            c = await client(stack, srv, [], server=3)
            got = []
            for i in range(10):
                got += await c.register([ev(["q", str(i)], i, 1000.0 + i)])
            [nosrc] = await c.register([ev(["r", "nosrc"], "no source timestamp")])
            check_increasing(got + [nosrc])
            asc = sorted(got, key=lambda e: (e["timestamp"],) + eid(e))
            desc = sorted(got, key=lambda e: (e["timestamp"],) + eid(e), reverse=True)
            q = [["q", "*"]]

            assert await c.query(event_types=q, order="ascending") == (asc, False)
            assert await c.query(event_types=q, order="descending") == (desc, False)
            assert await c.query(event_types=q) == (desc, False)  # descending as sent
            assert await c.query(event_types=q, max_results=3) == (desc[:3], True)
            assert await c.query(event_types=q, order="ascending",
                                 max_results=4) == (asc[:4], True)
            assert await c.query(event_types=q, max_results=10) == (desc, False)

            # timestamp window, inclusive, with the timestamps register_res gave
            t_from, t_to = got[3]["timestamp"], got[6]["timestamp"]
            window = [e for e in asc if t_from <= e["timestamp"] <= t_to]
            assert got[3] in window and got[6] in window
            assert await c.query(event_types=q, order="ascending", t_from=t_from,
                                 t_to=t_to) == (window, False)
            assert await c.query(event_types=q, order="ascending", t_from=t_from) == (
                [e for e in asc if e["timestamp"] >= t_from], False)
            assert await c.query(event_types=q, order="ascending", t_to=t_to) == (
                [e for e in asc if e["timestamp"] <= t_to], False)

            # source timestamp window; an event without one matches no source bound
            assert await c.query(event_types=q, order="ascending", source_t_from=1003.0,
                                 source_t_to=1005.0) == (got[3:6], False)
            events, more = await c.query(event_types=[["*"]], order="ascending",
                                         source_t_from=0.0)
            assert (events, more) == (asc, False)
            events, more = await c.query(event_types=[["*"]], order="ascending",
                                         source_t_to=1001.0)
            assert (events, more) == (got[:2], False)
            events, more = await c.query(event_types=[["*"]], order="ascending")
            assert nosrc in events and len(events) == 11 and not more

            # server_id
            assert await c.query(event_types=q, order="ascending", server_id=3) == (asc, False)
            assert await c.query(event_types=q, server_id=999) == ([], False)

            # event types
            assert await c.query(event_types=[["q", "2"], ["q", "7"]], order="ascending") == (
                [got[2], got[7]], False)
            assert await c.query(event_types=[["q", "?", "x"], ["nope"]]) == ([], False)
            assert await c.query(event_types=[["r", "?"]]) == ([nosrc], False)
    run(main())


def test_retention_max_events(hornet_server):
    srv = events_server(hornet_server, events_retention_max_events=5)

    async def main():
        async with contextlib.AsyncExitStack() as stack:
            c = await client(stack, srv, [])
            got = []
            for i in range(8):
                got += await c.register([ev(["ret", str(i)], i)])
            events, more = await c.query(event_types=[["*"]], order="ascending")
            assert [e["payload"] for e in events] == [3, 4, 5, 6, 7], events
            assert events == got[3:] and more is False
            events, more = await c.query(event_types=[["ret", "0"], ["ret", "2"]])
            assert (events, more) == ([], False)
    run(main())


# ---------------------------------------------------------------------------------------------
# the hub process


def test_hub_killed_is_respawned(hornet_server):
    srv = events_server(hornet_server, workers=2)
    workers_before, hub = wait_settled(srv, 2)

    async def fresh_client_roundtrip(stack):
        """A new connection: init, register with a response, its own notification."""
        ws = await stack.enter_async_context(ws_connect(srv))
        res = await init(ws, subscriptions=[["crash", "*"]])
        if res.get("result") != "success":
            return None, "init_res %r" % res
        c = Client(ws)
        got = await c.register([ev(["crash", "after"], "after")])
        if got is None:
            return None, "register_res with events null"
        assert await c.notified() == got
        return got[0], None

    async def main():
        async with contextlib.AsyncExitStack() as stack:
            old = await client(stack, srv, [["crash", "*"]])
            async with contextlib.AsyncExitStack() as pub_stack:
                pub = await client(pub_stack, srv, [])
                [before] = await pub.register([ev(["crash", "before"], "before")])
            assert await old.notified() == [before]

            os.kill(hub, signal.SIGKILL)
            new_hub = wait_until(lambda: (lambda h: h[0] if len(h) == 1 and h[0] != hub
                                          else None)(hubs(srv)),
                                 what="a new %s process" % HUB_COMM)
            assert new_hub != hub

            # a new client is served (the workers may take a moment to reach the new hub)
            deadline = time.monotonic() + 10
            while True:
                async with contextlib.AsyncExitStack() as attempt:
                    try:
                        after, why = await fresh_client_roundtrip(attempt)
                    except websockets.ConnectionClosed as e:
                        after, why = None, "closed: %r" % e
                if after is not None:
                    break
                assert time.monotonic() < deadline, "no new client served after the " \
                    "restart within 10s; last: %s" % why
                await asyncio.sleep(0.1)

            # the old connection is served too, or closed with 1011: never left hanging
            try:
                while True:
                    batch = await old.notified(10)
                    if any(eid(e) == eid(after) for e in batch):
                        assert after in batch
                        break
                # told the hub was gone, then that it is back, before the new event
                statuses = [m["status"] for m in old.pending if m["type"] == "status"]
                assert statuses == ["standby", "operational"], old.pending
            except websockets.ConnectionClosed:
                await asyncio.wait_for(old.ws.wait_closed(), 5)
                assert old.ws.close_code == 1011, (old.ws.close_code, old.ws.close_reason)
    run(main())

    assert srv.alive()
    assert wait_settled(srv, 2)[0] == workers_before
    assert srv.stop() == 0


def test_status_standby_on_graceful_stop(hornet_server):
    """A graceful stop tells every client "standby" before the drain's Close 1001."""
    srv = events_server(hornet_server, workers=2, graceful_timeout="2s")

    async def main():
        async with contextlib.AsyncExitStack() as stack:
            clients = [await client(stack, srv, [["x", "*"]]) for _ in range(4)]
            srv.send_signal(signal.SIGTERM)
            for c in clients:
                m = await c.next("status", timeout=5)
                assert m == {"type": "status", "status": "standby"}, m
                await expect_closed(c.ws, 1001, timeout=5)
    run(main())
    assert srv.wait_exit() == 0


def test_events_hub_key_runs_the_hub_without_the_builtin(hornet_server):
    """events_hub: true runs the hub beside any app (C apps call it through the ABI); a reload
    that turns it off stops the hub, one that turns it on again starts a new one."""
    cfg = {"application_path": "builtin:hello", "workers": 1, "events_hub": True}
    srv = hornet_server(app=None, config=cfg)
    _, hub = wait_settled(srv, 1)

    def reload_to(on, count):
        c = dict(srv.config)
        c["events_hub"] = on
        write_config(srv.config_path, c)
        srv.send_signal(signal.SIGHUP)
        wait_until(lambda: srv.stderr_text().count("reload complete") >= count, 20,
                   what="reload %d" % count)

    reload_to(False, 1)
    wait_until(lambda: hub not in srv.workers(), what="the hub to stop")
    wait_until(lambda: len(srv.workers()) == 1, 20, what="one worker and no hub")
    assert not hubs(srv)
    reload_to(True, 2)
    _, new_hub = wait_settled(srv, 1)
    assert new_hub != hub
    assert srv.request().status == 200
    assert srv.stop() == 0


# ---------------------------------------------------------------------------------------------
# plain HTTP and configuration


def http_json(srv, method, path="/", body=None, headers=None):
    """(status, parsed JSON body) of one plain HTTP exchange."""
    with httpx.Client(timeout=10) as h:
        r = h.request(method, "http://127.0.0.1:%d%s" % (srv.port, path), content=body,
                      headers=headers or {})
        return r.status_code, (r.json() if r.headers.get("content-type") == "application/json"
                               else r.text)


def qs(**params):
    return "/?" + urllib.parse.urlencode({k: json.dumps(v) if not isinstance(v, str) else v
                                          for k, v in params.items()})


def test_http_post_register_and_get_query(hornet_server):
    srv = events_server(hornet_server, workers=2, events_client_tokens=["s3cret"],
                        websocket_max_message_size="1KiB")
    auth = {"authorization": "Bearer s3cret"}
    reg = {"type": "register", "id": 9, "with_response": False,
           "events": [ev(["web", "a"], {"n": 1}), ev(["web", "b"], {"n": 2}, 5.0)]}
    status, res = http_json(srv, "POST", body=json.dumps(reg), headers=auth)
    assert status == 200 and res["type"] == "register_res" and res["id"] == 9, res
    assert [e["payload"] for e in res["events"]] == [{"n": 1}, {"n": 2}], res
    for e in res["events"]:
        check_event(e, 1)
    # the same events through a GET query, in the order asked, the token in the query string
    status, got = http_json(srv, "GET", qs(event_types=[["web", "*"]], order="ascending",
                                           max_results=1, client_token="s3cret"))
    assert status == 200 and got["type"] == "query_res", got
    assert got["events"] == res["events"][:1] and got["more_follows"] is True, got
    status, got = http_json(srv, "GET", qs(event_types=[["web", "?"]], source_t_from=4.0,
                                           client_token="s3cret"))
    assert got["events"] == res["events"][1:] and got["more_follows"] is False, got
    # and a POSTed query
    q = query_msg(event_types=[["web", "b"]], mid=4)
    status, got = http_json(srv, "POST", body=json.dumps(q), headers=auth)
    assert status == 200 and got["id"] == 4 and got["events"] == res["events"][1:], got
    # refusals
    assert http_json(srv, "POST", body=json.dumps(reg))[0] == 403
    assert http_json(srv, "POST", body=json.dumps(reg),
                     headers={"authorization": "Bearer wrong"})[0] == 403
    status, err = http_json(srv, "POST", body=b"{not json", headers=auth)
    assert status == 400 and "JSON" in err["error"], err
    status, err = http_json(srv, "POST", body=json.dumps({"type": "init"}), headers=auth)
    assert status == 400 and "register or a query" in err["error"], err
    big = {"type": "register", "events": [ev(["web", "big"], "x" * 2000)]}
    assert http_json(srv, "POST", body=json.dumps(big), headers=auth)[0] == 413
    status, res = http_json(srv, "POST", headers=auth, body=json.dumps(
        {"type": "register", "id": 1, "events": [ev(["bad", "*"])]}))
    assert status == 200 and res["events"] is None, res
    assert http_json(srv, "PUT", body=b"{}", headers=auth)[0] == 405
    assert srv.stop() == 0


def test_server_sent_events(hornet_server):
    """GET with Accept: text/event-stream subscribes: the init_res, then each notification,
    each as one data line holding the WebSocket's message."""
    srv = events_server(hornet_server, workers=2)
    url = "http://127.0.0.1:%d%s" % (srv.port, qs(subscriptions=[["sse", "*"]]))
    with httpx.Client(timeout=10) as h:
        with h.stream("GET", url, headers={"accept": "text/event-stream"}) as r:
            assert r.status_code == 200, r
            assert r.headers["content-type"] == "text/event-stream"
            lines = r.iter_lines()

            def next_message():
                for line in lines:
                    if line.startswith("data: "):
                        return json.loads(line[6:])
                raise AssertionError("the stream ended")

            assert next_message() == {"type": "init_res", "id": None, "result": "success",
                                      "status": "operational"}
            reg = {"type": "register", "id": 1, "events": [ev(["sse", "x"], [1, 2])],
                   "with_response": True}
            status, res = http_json(srv, "POST", body=json.dumps(reg))
            assert status == 200, res
            m = next_message()
            assert m["type"] == "events" and m["events"] == res["events"], m
    status, err = http_json(srv, "GET", qs(subscriptions=[["a", "*", "b"]]),
                            headers={"accept": "text/event-stream"})
    assert status == 400 and "pattern" in err["error"], err
    assert srv.stop() == 0



def test_plain_get_is_426(hornet_server):
    srv = events_server(hornet_server)
    for path in ("/", "/some/path"):
        r = srv.request("GET", path)
        assert r.status == 426, r


def test_config_check(tmp_path):
    path = tmp_path / "hornet.yaml"
    path.write_text("application_path: builtin:events\nevents_server_id: abc\n")
    r = run_hornet(["-t", "-c", str(path)])
    assert r.returncode == 1, r.stderr
    assert re.search(r"^(hornet: )?%s:2:\d+: events_server_id: expected an integer.*\"abc\""
                     % re.escape(str(path)), r.stderr, re.M), r.stderr
    path.write_text("application_path: builtin:events\nevents_server_id: 5\n"
                    "events_client_tokens: [\"a\", \"b\"]\nevents_retention_max_events: 10\n")
    r = run_hornet(["-t", "-c", str(path)])
    assert r.returncode == 0, r.stderr
