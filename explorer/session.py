"""Widgets whose value must survive page switches and may also be set by code (a callback, a button).

Streamlit 1.67 loses such values: a keyed widget with `persist_state="session"` whose value was
first put into `st.session_state` by code (not by the user) shows its own default again after the
first page switch, and the seeded value after the next one. That made the sidebar's model picker
flip from `rooms` to `faces` (the first option) and back on every other click in the navigation.

So the value lives under a plain session-state key that no widget owns, and the widget is only a
view of it: before each draw the widget's own key gets the value, and the widget's change callback
writes the user's choice back. Code reads and writes the plain key; no widget state is ever seeded.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

WIDGET_SUFFIX = "_widget"


def widget_key(key: str) -> str:
    """The key of the widget that shows the value stored under `key`."""
    return key + WIDGET_SUFFIX


def bound(key: str, default: Any) -> dict:
    """Keyword arguments that make a widget a view of `st.session_state[key]` (set to `default` when absent).

    Call it right before drawing the widget, once per run: `st.selectbox("Model", names, **bound(MODEL, "rooms"))`.
    """
    if key not in st.session_state:
        st.session_state[key] = default
    st.session_state[widget_key(key)] = st.session_state[key]
    return {"key": widget_key(key), "on_change": _keep, "args": (key,)}


def _keep(key: str) -> None:
    st.session_state[key] = st.session_state[widget_key(key)]
