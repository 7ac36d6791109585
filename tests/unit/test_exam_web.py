"""The web board's JSON and server-sent events, through aiohttp's in-process test client (real store, no cluster)."""

from __future__ import annotations

import asyncio
import json
import socket
import urllib.request
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer

from breakfix.clock import CLOCK
from breakfix.errors import BreakfixError
from breakfix.exam.session import ExamRunner
from breakfix.exam.view import public_board, steady
from breakfix.exam.web import BoardServer, Source, create_app
from breakfix.state import State
from tests.exam_fakes import EXAM, SPOILERS, TITLES, bob_fixes_it, exam_with_grades, exam_with_tasks


def source_for(store: State) -> Source:
    runner = ExamRunner(store)
    return lambda: public_board(runner.board(EXAM), TITLES, CLOCK.wall())


def with_client(app_source: Source, test: Callable[[TestClient[Any, Any]], Awaitable[None]], **opts: float) -> None:
    async def main() -> None:
        async with TestClient(TestServer(create_app(app_source, **opts), host="127.0.0.1")) as client:
            await asyncio.wait_for(test(client), timeout=20)

    asyncio.run(main())


async def next_event(response: ClientResponse) -> tuple[str, Any]:
    """The next event (name, decoded data) or comment ("", text) on an event stream."""
    name, data = "", ""
    while True:
        line = (await response.content.readline()).decode()
        if line in ("\n", ""):
            if name or data:
                return name, json.loads(data) if data else None
            continue
        if line.startswith(":"):
            return "", line[1:].strip()
        key, _, value = line.rstrip("\n").partition(": ")
        if key == "event":
            name = value
        elif key == "data":
            data += value
        # retry: is for the browser


def test_the_board_json_has_every_student_and_no_spoilers() -> None:
    store = State()
    exam_with_grades(store)

    async def test(client: TestClient[Any, Any]) -> None:
        response = await client.get("/api/board")
        assert response.status == 200 and response.headers["Cache-Control"] == "no-store"
        text = await response.text()
        board = json.loads(text)
        assert [s["student"] for s in board["students"]] == ["alice", "bob", "carol"]
        assert [t["title"] for t in board["tasks"]] == list(TITLES.values())
        alice, bob, carol = board["students"]
        assert alice["cells"][0]["passed"] is True and alice["score"] == 100.0 and alice["cells"][1:] == [None, None]
        assert bob["cells"][1]["checks_passed"] == 1 and bob["cells"][1]["checks_total"] == 2 and bob["hints"] == 1
        assert [c["title"] for c in bob["cells"][1]["checks"]] == ["dns answers", "nothing redeployed"]
        assert carol["cells"][2]["state"] == "not started" and carol["score"] is None
        assert board["fixed"] == 1 and board["seats"] == 3 and board["left"] == pytest.approx(1200, abs=5)
        for spoiler in (*SPOILERS, '"c1"', '"cluster"', '"message"', '"detail"'):
            assert spoiler not in text

    with_client(source_for(store), test)


def test_with_several_tasks_a_column_is_a_task_and_each_cell_names_its_lab_by_title() -> None:
    store = State()
    exam_with_tasks(store)
    view = public_board(ExamRunner(store).board("cka"), TITLES, CLOCK.wall())
    assert [t["title"] for t in view["tasks"]] == ["Task 1", "Task 2", "Task 3"]
    alice, bob = view["students"]
    assert [c["title"] for c in alice["cells"]] == list(TITLES.values())
    assert [c["passed"] for c in alice["cells"]] == [True, True, False] and alice["score"] == pytest.approx(66.7)
    assert bob["cells"][2] is None and bob["cells"][0]["title"] == TITLES["svc-wrong-selector"]
    text = json.dumps(view)
    for spoiler in (*SPOILERS, '"a1"', '"cluster"', '"message"', '"detail"'):
        assert spoiler not in text


def test_the_page_is_one_file_that_listens_for_events() -> None:
    async def test(client: TestClient[Any, Any]) -> None:
        response = await client.get("/")
        page = await response.text()
        assert response.status == 200 and response.content_type == "text/html"
        assert 'new EventSource("api/events")' in page and "<script src" not in page and "http" not in page.lower()

    with_client(lambda: {}, test)


def test_events_send_the_board_then_each_change(monkeypatch: pytest.MonkeyPatch) -> None:
    store = State()
    sessions = exam_with_grades(store)

    async def test(client: TestClient[Any, Any]) -> None:
        response = await client.get("/api/events")
        assert response.status == 200 and response.headers["Content-Type"] == "text/event-stream"
        name, board = await next_event(response)
        assert name == "board" and board["fixed"] == 1
        name, comment = await next_event(response)  # nothing changed: only the clock moved
        assert (name, comment) == ("", "keepalive")
        await asyncio.to_thread(bob_fixes_it, store, sessions)
        name, board = await next_event(response)
        while name == "":  # a keepalive may come first
            name, board = await next_event(response)
        assert name == "board" and board["fixed"] == 2 and board["students"][1]["cells"][1]["passed"] is True
        await asyncio.to_thread(ExamRunner(store).pause, EXAM)
        name, board = await next_event(response)
        while name == "":
            name, board = await next_event(response)
        assert board["paused"] is True and board["deadline"] is None

    with_client(source_for(store), test, interval=0.05, keepalive=0.1)


def test_a_board_that_cannot_be_read_is_a_problem_event_and_a_503() -> None:
    def broken() -> dict[str, Any]:
        raise BreakfixError("no exam named 'week-9' (known: none)")

    async def test(client: TestClient[Any, Any]) -> None:
        response = await client.get("/api/board")
        assert response.status == 503 and (await response.json()) == {"error": "no exam named 'week-9' (known: none)"}
        events = await client.get("/api/events")
        assert await next_event(events) == ("problem", {"error": "no exam named 'week-9' (known: none)"})

    with_client(broken, test, interval=0.05)


def test_an_unexpected_error_is_a_problem_too_and_the_server_stays_up() -> None:
    calls = []

    def flaky() -> dict[str, Any]:
        calls.append(1)
        if len(calls) == 1:
            raise OSError("disk gone")
        return {"exam": EXAM}

    async def test(client: TestClient[Any, Any]) -> None:
        response = await client.get("/api/board")
        assert response.status == 503 and "unexpected error: OSError: disk gone" in (await response.json())["error"]
        await asyncio.sleep(0.1)
        assert (await (await client.get("/api/board")).json()) == {"exam": EXAM}

    with_client(flaky, test, interval=0.05)


def test_only_requests_addressed_to_this_machine_are_answered() -> None:
    async def test(client: TestClient[Any, Any]) -> None:
        for host in ("evil.example", "192.168.1.5:8765"):
            response = await client.get("/api/board", headers={"Host": host})
            assert response.status == 403
        assert (await client.get("/api/board", headers={"Host": "localhost:8765"})).status == 200

    with_client(lambda: {"exam": EXAM}, test)


def test_steady_leaves_out_what_only_the_clock_changes() -> None:
    store = State()
    exam_with_grades(store)
    runner = ExamRunner(store)
    one = public_board(runner.board(EXAM), TITLES, 1000.0)
    two = public_board(runner.board(EXAM), TITLES, 1005.0)
    assert one != two and steady(one) == steady(two)


def test_the_server_listens_on_loopback_and_says_when_the_port_is_taken() -> None:
    server = BoardServer(create_app(lambda: {"exam": EXAM}), port=0)
    url = server.start()
    try:
        assert url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(url + "api/board", timeout=10) as response:
            assert json.load(response) == {"exam": EXAM}
        taken = BoardServer(create_app(lambda: {}), port=server.port)
        with pytest.raises(BreakfixError, match=rf"cannot serve the board on 127.0.0.1:{server.port} .*--port"):
            taken.start()
    finally:
        server.stop()
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", server.port)) != 0  # stopped
