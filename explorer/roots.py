"""The folders a path typed into the app may point into (the CLI reads any path its user types; the app serves others).

    DCGAN_RUNS_ROOTS   run folders for the training monitor; default: the repo's runs/ and models/, and $DCGAN_MODELS_DIR
    DCGAN_DATA_ROOTS   data sets for the feature probe; default: the repo's data/ and ~/data

Each is a list of folders separated by os.pathsep (":" on Linux and macOS). A typed path is
made absolute (relative to the current folder, `~` expanded) and every symlink in it
resolved before it is checked, so neither `../` nor a link inside a root leads outside.
No Streamlit in this module.
"""

from __future__ import annotations

import os
from pathlib import Path

from dcgan_core.registry import models_dirs

from . import REPO_ROOT

RUNS_ENV = "DCGAN_RUNS_ROOTS"
DATA_ENV = "DCGAN_DATA_ROOTS"


class OutsideRoots(ValueError):
    """A typed path that leads outside the folders the app may read."""


def _from_env(env: str, default: list[Path]) -> list[Path]:
    value = os.environ.get(env, "")
    chosen = [Path(p).expanduser() for p in value.split(os.pathsep) if p.strip()] or default
    return list(dict.fromkeys(p.resolve() for p in chosen))


def runs_roots() -> list[Path]:
    """Folders the training monitor may read run folders from ($DCGAN_RUNS_ROOTS, or the default above)."""
    return _from_env(RUNS_ENV, [REPO_ROOT / "runs", *models_dirs()])


def data_roots() -> list[Path]:
    """Folders the feature probe may read data sets from ($DCGAN_DATA_ROOTS, or the default above)."""
    return _from_env(DATA_ENV, [REPO_ROOT / "data", Path.home() / "data"])


def confine(typed: str | Path, roots: list[Path], env: str) -> Path:
    """The typed path, resolved, if it lies inside one of `roots`; else OutsideRoots with a one-line message.

    Raises OutsideRoots naming the allowed folders and the environment variable that sets them.
    """
    try:
        path = Path(typed).expanduser()
        resolved = (path if path.is_absolute() else Path.cwd() / path).resolve()
    except (OSError, ValueError, RuntimeError) as e:  # a NUL byte, an unknown ~user, a symlink loop
        raise OutsideRoots(f"{typed!r} is not a usable path ({e})") from None
    if any(resolved.is_relative_to(root) for root in roots):
        return resolved
    allowed = ", ".join(str(r) for r in roots)
    raise OutsideRoots(
        f"{typed} is outside the folders this app may read ({allowed}); to allow another, set {env} "
        f"(folders separated by '{os.pathsep}') before starting the app."
    )


def confine_run(typed: str | Path) -> Path:
    """A run folder typed into the training monitor, confined to `runs_roots()`."""
    return confine(typed, runs_roots(), RUNS_ENV)


def confine_data(typed: str | Path) -> Path:
    """A data set location typed into the feature probe, confined to `data_roots()`."""
    return confine(typed, data_roots(), DATA_ENV)
