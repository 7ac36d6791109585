"""`lab exam board --web`: the projector page, served by aiohttp on 127.0.0.1 only; it updates by server-sent events.

GET /            the page (one self-contained HTML file: no CDN, no reload)
GET /api/board   the board as JSON (breakfix.exam.view.public_board: no spoilers)
GET /api/events  server-sent events: `board` with the same JSON whenever it changes, `problem` when it cannot be read
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any

from aiohttp import web

from breakfix.errors import BreakfixError
from breakfix.exam.view import steady

HOST = "127.0.0.1"  # the page is for the instructor's machine (and its projector), never the network
LOCAL_NAMES = frozenset({"127.0.0.1", "localhost"})
Source = Callable[[], dict[str, Any]]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Snapshots:
    """The board read at most once per TTL seconds however many pages watch it (reads run off the event loop)."""

    def __init__(self, source: Source, ttl: float) -> None:
        self.source, self.ttl = source, ttl
        self._view: dict[str, Any] | None = None
        self._error: str | None = None
        self._at = float("-inf")
        self._lock = asyncio.Lock()

    async def get(self) -> dict[str, Any]:
        """The current board; raises BreakfixError with one line when it cannot be read."""
        async with self._lock:
            if time.monotonic() - self._at >= self.ttl:
                try:
                    self._view, self._error = await asyncio.to_thread(self.source), None
                except BreakfixError as exc:
                    self._view, self._error = None, str(exc)
                except Exception as exc:  # the page says so and keeps trying; the server stays up
                    self._view, self._error = None, f"unexpected error: {type(exc).__name__}: {exc}"
                self._at = time.monotonic()
            if self._view is None:
                raise BreakfixError(self._error or "no board yet")
            return self._view


SOURCE = web.AppKey("snapshots", Snapshots)
CLOSING = web.AppKey("closing", asyncio.Event)
SETTINGS: web.AppKey[dict[str, float]] = web.AppKey("settings", dict)


def page() -> str:
    """The projector page."""
    return resources.files("breakfix.exam").joinpath("board.html").read_text(encoding="utf-8")


@web.middleware
async def local_only(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer only requests addressed to this machine by name (no DNS rebinding from another site)."""
    host = (request.host or "").rsplit(":", 1)[0].strip("[]")
    if host not in LOCAL_NAMES:
        return web.json_response({"error": f"this board answers on {HOST} only"}, status=403)
    return await handler(request)


async def _page(_request: web.Request) -> web.Response:
    return web.Response(text=page(), content_type="text/html", headers={"Cache-Control": "no-store"})


async def _board(request: web.Request) -> web.Response:
    try:
        view = await request.app[SOURCE].get()
    except BreakfixError as exc:
        return web.json_response({"error": str(exc)}, status=503)
    return web.json_response(view, headers={"Cache-Control": "no-store"})


def _event(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


async def _events(request: web.Request) -> web.StreamResponse:
    """The board whenever it changes (checked every INTERVAL seconds), a comment every KEEPALIVE seconds otherwise."""
    app = request.app
    interval, keepalive = app[SETTINGS]["interval"], app[SETTINGS]["keepalive"]
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    )
    await response.prepare(request)
    last: str | None = None
    sent = time.monotonic()
    try:
        await response.write(b"retry: 2000\n\n")
        while not app[CLOSING].is_set():
            try:
                name, data = "board", await app[SOURCE].get()
            except BreakfixError as exc:
                name, data = "problem", {"error": str(exc)}
            key = name + json.dumps(steady(data), sort_keys=True)
            if key != last:
                await response.write(_event(name, data))
                last, sent = key, time.monotonic()
            elif time.monotonic() - sent >= keepalive:
                await response.write(b": keepalive\n\n")
                sent = time.monotonic()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(app[CLOSING].wait(), interval)
    except ConnectionResetError:  # the page went away
        pass
    return response


async def _closing(app: web.Application) -> None:
    app[CLOSING].set()


def create_app(source: Source, interval: float = 1.0, keepalive: float = 15.0) -> web.Application:
    """The board's web app: SOURCE gives the board's JSON; pages learn of changes within INTERVAL seconds."""
    app = web.Application(middlewares=[local_only])
    app[SOURCE] = Snapshots(source, ttl=interval / 2)
    app[CLOSING] = asyncio.Event()
    app[SETTINGS] = {"interval": interval, "keepalive": keepalive}
    app.router.add_get("/", _page)
    app.router.add_get("/api/board", _board)
    app.router.add_get("/api/events", _events)
    app.on_shutdown.append(_closing)
    return app


class BoardServer:
    """The app served on 127.0.0.1:PORT (0: any free port) from a thread of its own, until stop()."""

    def __init__(self, app: web.Application, port: int = 0) -> None:
        self.app, self.port = app, port
        self.url = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._failed: BaseException | None = None
        self._stop: asyncio.Event | None = None

    def start(self) -> str:
        """Serve; returns the page's address once it answers, or raises BreakfixError (e.g. the port is taken)."""
        self._thread = threading.Thread(target=self._run, name="exam-board-web", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._failed is not None:
            if isinstance(self._failed, OSError):
                raise BreakfixError(
                    f"cannot serve the board on {HOST}:{self.port} ({self._failed.strerror or self._failed}); "
                    "choose another port with --port"
                ) from None
            raise self._failed
        return self.url

    def _run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=2.0)
        try:
            await runner.setup()
            site = web.TCPSite(runner, HOST, self.port)
            await site.start()
            addresses = runner.addresses
            self.port = int(addresses[0][1])
            self.url = f"http://{HOST}:{self.port}/"
        except BaseException as exc:
            self._failed = exc
            self._ready.set()
            await runner.cleanup()
            return
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await runner.cleanup()

    def stop(self) -> None:
        """Stop serving (open pages are told to go) and wait for the thread."""
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop has just closed
                self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout=10)
