"""Who is annotating, and whose boxes a fit uses (issue 24, item 3): two small widgets for the annotation pages.

Every box is saved under an annotator's name (`dcgan_core.analysis.annotations`: records are per
(seed, index, annotator)). The name is typed once per browser session and kept in
`st.session_state[app_state.ANNOTATOR]`; until then it is "anonymous", the name files written
before annotators existed are read with, so a single person's work goes on in the same records.
"""

from __future__ import annotations

import streamlit as st

from dcgan_core.analysis.annotations import (
    DEFAULT_ANNOTATOR, INSTRUMENT, MAX_ANNOTATOR_CHARS, AnnotationSet, valid_annotator_name,
)

from . import app_state as keys

ALL = ""  # `fit_on_picker`'s choice "all annotators" (never a name: names are not empty)


def clean_annotator_name(typed: str | None) -> str | None:
    """The name as saved (spaces around it removed; empty: DEFAULT_ANNOTATOR), or None when it cannot be one."""
    name = (typed or "").strip() or DEFAULT_ANNOTATOR
    return name if valid_annotator_name(name) and name != INSTRUMENT else None


def annotator_name(where=st) -> str:
    """A text field "Annotator" (in `where`, e.g. a column) for this session's name; the name to save boxes under.

    A name that cannot be one ("instrument", over 64 characters, control characters) shows an error
    and gives DEFAULT_ANNOTATOR, so nothing is saved under a name nobody chose.
    """
    typed = where.text_input(
        "Annotator", DEFAULT_ANNOTATOR, max_chars=MAX_ANNOTATOR_CHARS, key=keys.ANNOTATOR, persist_state="session",
        help="Your name: every box you draw is saved under it, so several people can annotate the same images and "
        "their agreement can be measured (page *Do annotators agree?*). Kept while this browser tab is open.",
    )
    name = clean_annotator_name(typed)
    if name is None:
        where.error(f"{typed!r} cannot be an annotator's name (\"{INSTRUMENT}\" is the room instrument's; use up to "
                    f"{MAX_ANNOTATOR_CHARS} printable characters): saving as {DEFAULT_ANNOTATOR}.", icon=":material/error:")
        return DEFAULT_ANNOTATOR
    return name


def fit_on_picker(where, notes: AnnotationSet) -> tuple[str | None, AnnotationSet]:
    """A "Fit on" choice: all annotators, or one of them; (the choice, the annotations to fit: one record per image)."""
    options = [ALL, *notes.annotators] if len(notes.annotators) > 1 else [ALL]
    fit_on = where.selectbox(
        "Fit on", options, format_func=lambda a: "all annotators" if a == ALL else a,
        help="Whose boxes the regression is fitted on. All: where several people annotated an image, the union of "
        "their boxes (a position is a negative only where nobody drew near it).", disabled=len(options) == 1,
    )
    fit_on = None if fit_on == ALL else fit_on
    return fit_on, notes.for_fit(fit_on)


def current_annotator() -> str:
    """The name this session saves boxes under (what `annotator_name` last read; DEFAULT_ANNOTATOR before it ran or
    when the typed name cannot be one)."""
    return clean_annotator_name(st.session_state.get(keys.ANNOTATOR)) or DEFAULT_ANNOTATOR
