#!/usr/bin/python3
"""What one pass of a Python event loop costs when something else (the worker's libev loop)
drives it a pass at a time, as the Python bridge must: python/asgi.py's pump, asyncio's
_run_once, and uvloop, whose only way to run one pass is stop() then run_forever(). Each pass
runs one ready callback, as a request's task step does. Prints microseconds per pass.

    /usr/bin/python3 bench/looppass.py [passes]

The numbers decided worker_class (README, "The Python bridge"): the bridge's pass is the
cheapest, so worker_class: uvloop is served by it.
"""

import asyncio
import heapq
import sys
import time

N = int(sys.argv[1]) if len(sys.argv) > 1 else 200000


def noop():
    pass


def per_pass(name, one_pass, loop):
    for _ in range(1000):
        loop.call_soon(noop)
        one_pass()
    t = time.perf_counter()
    for _ in range(N):
        loop.call_soon(noop)
        one_pass()
    print("%-44s %6.2f us" % (name, (time.perf_counter() - t) / N * 1e6))


def asyncio_passes():
    loop = asyncio.SelectorEventLoop()
    loop._stopping = True  # every pass polls with a zero timeout, as in the bridge
    ready, scheduled = loop._ready, loop._scheduled

    def pump():  # the shape of asgi.py's pump: ready callbacks, due timers, no selector
        if scheduled:
            now = loop.time()
            while scheduled and scheduled[0]._when <= now:
                ready.append(heapq.heappop(scheduled))
        for _ in range(len(ready)):
            handle = ready.popleft()
            if not handle._cancelled:
                handle._run()

    per_pass("asyncio, the bridge's pump (no selector poll)", pump, loop)
    per_pass("asyncio, _run_once (selector polled)", loop._run_once, loop)
    loop.close()


def uvloop_passes():
    try:
        import uvloop
    except ImportError:
        print("uvloop: not installed (python3-uvloop)")
        return
    loop = uvloop.new_event_loop()
    asyncio.set_event_loop(loop)

    def one():
        loop.stop()
        loop.run_forever()

    per_pass("uvloop, stop() + run_forever() (main thread)", one, loop)
    loop.close()


asyncio_passes()
uvloop_passes()
