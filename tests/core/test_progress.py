"""Progress bars show only on a terminal unless asked for (the Python API's default, as the CLI's)."""

import io
import sys
import types

import pytest

from zhaug.progress import progress_bar


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("progress", "terminal", "shown"), [
    (None, False, False), (None, True, True), (True, False, True), (False, True, False),
])
def test_a_bar_shows_as_progress_and_the_terminal_say(progress, terminal, shown, monkeypatch):
    out = Terminal() if terminal else io.StringIO()
    monkeypatch.setattr("sys.stderr", out)
    monkeypatch.delitem(sys.modules, "ipykernel", raising=False)
    with progress_bar(range(3), progress=progress, file=out, desc="work") as bar:
        list(bar)
    assert ("work" in out.getvalue()) is shown



def test_a_notebook_gets_bars_though_its_stream_is_no_terminal(monkeypatch):
    out = io.StringIO()
    monkeypatch.setattr("sys.stderr", out)
    monkeypatch.setitem(sys.modules, "ipykernel", types.ModuleType("ipykernel"))
    with progress_bar(range(3), file=out, desc="work") as bar:
        list(bar)
    assert "work" in out.getvalue()
