"""Saved codes on every page: your inverted images (and any concept set) as z's the pages start from.

A set of saved codes is a concept set (`dcgan_core.analysis.concept_sets`): a name, k codes and the
fingerprint of the weights they belong to, one JSON file per set under $DCGAN_CONCEPTS_DIR/MODEL/.
The "Your images" page writes them; the walk takes them as waypoints, the arithmetic page as A, B
or C, the concept axes page as the faces it moves, and the window-removal page as the rooms it edits.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

from dcgan_core.analysis import concept_sets
from dcgan_core.analysis.user_data import ModelIdentity

from .arithmetic import identity_of

NONE = ""  # the pickers' "no saved codes" choice


def saved_set_names(model) -> list[str]:
    """Names (file stems) of the sets saved for `model`, sorted; each is checked against the weights when loaded."""
    return [p.stem for p in concept_sets.list_concept_sets(model.name)]


def identity(model) -> ModelIdentity:
    """The picked model's identity (name + weights fingerprint), computed once per weights."""
    return identity_of(model.loaded, model.key, model.name)


@st.cache_data(max_entries=64, show_spinner=False)
def _read(path: str, mtime_ns: int, expect: ModelIdentity) -> concept_sets.ConceptSet:
    # mtime_ns is only part of the key: a set saved again under the same name is read again
    return concept_sets.load_concept_set(path, expect=expect)


def load_saved_codes(model, name: str) -> concept_sets.ConceptSet:
    """The saved set `name` of `model`; ConceptSetError (one line) when it is damaged or made with other weights."""
    path = concept_sets.concept_set_path(model.name, name)
    try:
        mtime = path.stat().st_mtime_ns
    except FileNotFoundError:
        raise concept_sets.ConceptSetError(f"no saved codes named {name!r} for model {model.name}") from None
    return _read(str(path), mtime, identity(model))


def saved_codes_picker(model, label: str, key: str, help: str | None = None) -> concept_sets.ConceptSet | None:
    """A select box of the model's saved sets (first choice: none); the picked set, or None.

    A set that cannot be used (damaged, other weights) is reported in one line and treated as none.
    """
    names = saved_set_names(model)
    if st.session_state.get(key) not in [NONE, *names]:
        st.session_state[key] = NONE
    name = st.selectbox(label, [NONE, *names], key=key, help=help,
                        format_func=lambda n: n or ("none" if names else "none saved yet (see the Your images page)"))
    return picked_codes(model, name)


def picked_codes(model, name: str | None) -> concept_sets.ConceptSet | None:
    """The saved set `name` (None for none), or None after saying in one line why it cannot be used."""
    if not name:
        return None
    try:
        return load_saved_codes(model, name)
    except (concept_sets.ConceptSetError, OSError) as e:
        st.error(f"Could not use the saved codes {name!r}: {e}", icon=":material/error:")
        return None


def codes_of(saved: concept_sets.ConceptSet | None, limit: int | None = None) -> np.ndarray | None:
    """float32 (k, nz) codes of a saved set (at most `limit`), or None."""
    if saved is None:
        return None
    z = saved.z.numpy().astype(np.float32)
    return z[:limit] if limit is not None else z


def saved_path_hint(model) -> str:
    """Where the model's saved sets live, for captions."""
    return str(Path(concept_sets.concept_set_path(model.name, "x")).parent)
