"""The session (explorer/session.py): the window's state, Qt-free, broadcast once per change."""

from __future__ import annotations

import subprocess
import sys

import pytest

from explorer.session import Session


def test_a_change_reaches_every_subscriber_once_and_an_equal_value_none():
    session = Session()
    seen = []
    session.subscribe("selection", lambda s: seen.append(("a", s)))
    session.subscribe("selection", lambda s: seen.append(("b", s)))
    assert session.set_selection((0, 1))
    assert not session.set_selection((0, 1))  # equal: nothing to tell
    assert session.set_selection((2, 3))
    assert seen == [("a", (0, 1)), ("b", (0, 1)), ("a", (2, 3)), ("b", (2, 3))]


def test_every_trace_is_news_and_unsubscribing_stops_the_news():
    session = Session()
    seen = []
    stop = session.subscribe("trace", seen.append)
    trace = object()
    assert session.set_trace(trace)
    assert not session.set_trace(trace)  # the same object
    stop()
    assert session.set_trace(object())
    assert seen == [trace]


def test_an_unknown_field_is_refused():
    with pytest.raises(KeyError, match="no field"):
        Session().subscribe("colour", print)


def test_the_session_imports_no_qt():
    code = "import sys, explorer.session; print(any(m.startswith('PySide6') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_the_window_state_is_the_session_state(make_window):
    window = make_window(text="the king")
    assert window.trace is window.session.trace and window.trace.text == "the king"
    assert window.model_info is window.session.model_info
    seen = []
    window.session.subscribe("selection", seen.append)
    window.select_head(1, 1)
    assert seen and seen[-1] == window.selection and (window.selection.layer, window.selection.head) == (1, 1)
    assert all(p.selection == window.selection for p in window.panels if hasattr(p, "selection"))
