"""Progress lines: stamped with the time since the command began; live on a terminal, plain when piped."""

from __future__ import annotations

import io
import time

from breakfix.cli.progress_line import CLEAR, ClearsLiveLine, Progress


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_piped_lines_are_plain_and_stamped_with_the_elapsed_time() -> None:
    out, clock = io.StringIO(), Clock()
    progress = Progress(out, began=40.0, clock=clock)
    progress.say("break: step 1 of 2")
    clock.now = 165.0
    progress.say("break: step 2 of 2")
    progress.close()
    assert out.getvalue() == "[    1m] break: step 1 of 2\n[ 2m05s] break: step 2 of 2\n"
    assert "\r" not in out.getvalue()


def test_on_a_terminal_a_live_line_shows_what_runs_and_other_output_takes_it_away() -> None:
    term, clock = Terminal(), Clock()
    progress = Progress(term, began=95.0, clock=clock)
    assert progress.live
    progress.say("verify: settling")
    assert term.getvalue().endswith("  ... verify: settling (5s)")
    stdout = io.StringIO()
    ClearsLiveLine(stdout, progress).write("Fixed. Score 100%.\n")
    assert term.getvalue().endswith(CLEAR) and not progress.shown
    assert stdout.getvalue() == "Fixed. Score 100%.\n"
    progress.close()


def test_the_live_line_ticks_while_nothing_is_printed() -> None:
    term = Terminal()
    progress = Progress(term, began=time.monotonic() - 3)
    progress.say("reset: waiting for the API server")
    deadline = time.monotonic() + 5
    while term.getvalue().count(CLEAR) < 3 and time.monotonic() < deadline:
        time.sleep(0.2)
    progress.close()
    assert term.getvalue().count(CLEAR) >= 3  # redrawn each second
    assert term.getvalue().endswith(CLEAR)  # and taken away at the end


def test_a_real_terminal_gets_the_live_line_and_results_start_clean() -> None:
    """A child process on a pseudo-terminal: a progress line, a second of silence, then a result on stdout."""
    import os
    import pty
    import subprocess
    import sys

    code = (
        "import time\n"
        "from breakfix.cli.output import say, end_progress\n"
        "say('reset: step 1 of 1'); time.sleep(1.6); print('reset: 1 change(s) undone'); end_progress()\n"
    )
    leader, follower = pty.openpty()
    child = subprocess.Popen([sys.executable, "-c", code], stdout=follower, stderr=follower, close_fds=True)
    os.close(follower)
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    assert child.wait(timeout=30) == 0
    text = seen.decode()
    assert "] reset: step 1 of 1" in text and "... reset: step 1 of 1 (" in text
    assert (CLEAR + "reset: 1 change(s) undone") in text.replace("\r\n", "\n")
