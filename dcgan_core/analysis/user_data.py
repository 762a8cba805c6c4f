"""What people save while exploring a model (concept sets, annotations): which weights it belongs to, and where it lives.

**Model identity.** Saved codes and boxes only mean something for the weights they were made with
(the same z draws another picture after more training), so each file records the model's name
(for people) and a fingerprint of its generator (for the machine): SHA-256 over the model config
and the generator's weights rounded to fp16 (`checkpoints.generator_fingerprint`), so a shipped
fp16 export matches the checkpoint it came from and any further training step does not. The name
alone never decides: the same weights under another name are the same model; another run under
the same name is not.

Each file format stores the fields it needs (`ModelIdentity.to_dict(keys)`) and checks what it
reads in its own way (concept sets: `concept_sets.py`; annotations: `annotations.py`).

**Folders.** Everything goes under $XDG_DATA_HOME/dcgan-explorer/ (default ~/.local/share/...),
one folder per kind, each movable with its own environment variable; file names are made from
names people typed by `safe_name`, never from a path.

    identity = model_identity("faces", load_model("faces"))
    identity.describe()                  # 'model faces (step 12,000, weights 3f2a9c...)'
    concepts_dir() / safe_name("smiling woman")
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..checkpoints import generator_fingerprint
from ..models import Generator

CONCEPTS_DIR_ENV = "DCGAN_CONCEPTS_DIR"
ANNOTATIONS_DIR_ENV = "DCGAN_ANNOTATIONS_DIR"


@dataclass(frozen=True)
class ModelIdentity:
    """Which weights saved work belongs to: a name for people, a fingerprint for the machine.

    `z_prior` and `image_size` are "" / 0 when the file it was read from does not record them
    (annotation files carry no prior, concept set files no image size). They take no part in
    equality: the fingerprint covers the model config they come from.
    """

    name: str
    fingerprint: str  # hex SHA-256 of config + generator weights (fp16-rounded), see `generator_fingerprint`
    nz: int
    z_prior: str = field(default="", compare=False)
    step: int = 0
    image_size: int = field(default=0, compare=False)

    @classmethod
    def of(cls, name: str, generator: Generator, step: int = 0) -> ModelIdentity:
        cfg = generator.config
        return cls(name=str(name), fingerprint=generator_fingerprint(generator), nz=cfg.nz, z_prior=cfg.z_prior,
                   step=int(step), image_size=cfg.image_size)

    def describe(self) -> str:
        return f"model {self.name} (step {self.step:,}, weights {self.fingerprint[:12]})"

    def to_dict(self, keys: Sequence[str] = ("name", "fingerprint", "nz", "z_prior", "step", "image_size")) -> dict:
        """The fields a file format stores, by name (each format keeps the keys it has always written)."""
        return {k: getattr(self, k) for k in keys}

    @classmethod
    def from_dict(cls, d: Mapping, required: Sequence[str] = ("name", "fingerprint", "nz")) -> ModelIdentity:
        """From a stored dict: the `required` keys must be there, the others take their defaults when absent.

        Raises KeyError, TypeError or ValueError when malformed (the file format says what that means to people).
        """
        return cls(**{k: _FIELD_TYPES[k](d[k]) for k in _FIELD_TYPES if k in required or k in d})


_FIELD_TYPES = {"name": str, "fingerprint": str, "nz": int, "z_prior": str, "step": int, "image_size": int}


def model_identity(name: str, model) -> ModelIdentity:
    """Identity of a `LoadedModel` (its generator and checkpoint step) under the name people know it by."""
    return ModelIdentity.of(name, model.generator, model.checkpoint.step)


def user_data_dir(kind: str, env: str) -> Path:
    """$`env` if set, else $XDG_DATA_HOME/dcgan-explorer/`kind` (default ~/.local/share/dcgan-explorer/`kind`)."""
    override = os.environ.get(env)
    if override:
        return Path(override).expanduser()
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home).expanduser() / "dcgan-explorer" / kind


def concepts_dir() -> Path:
    """$DCGAN_CONCEPTS_DIR, else $XDG_DATA_HOME/dcgan-explorer/concepts (default ~/.local/share/...)."""
    return user_data_dir("concepts", CONCEPTS_DIR_ENV)


def annotations_dir() -> Path:
    """$DCGAN_ANNOTATIONS_DIR, else $XDG_DATA_HOME/dcgan-explorer/annotations (default ~/.local/share/...)."""
    return user_data_dir("annotations", ANNOTATIONS_DIR_ENV)


def parse_json(text: str | bytes, where: str, what: str, error: type[Exception], not_json: str = "is not JSON"):
    """json.loads for files people bring (uploads, saved sets): anything unreadable raises `error` with one line
    naming `where` (e.g. "upload.json {not_json}: ...", or nested too deeply to be `what`)."""
    try:
        return json.loads(text)
    except (ValueError, UnicodeDecodeError) as e:  # JSONDecodeError, or a number of more than 4,300 digits
        raise error(f"{where} {not_json}: {e}") from None
    except RecursionError:  # e.g. "[[[[..." past Python's recursion limit
        raise error(f"{where} is nested too deeply to be {what}") from None


def safe_name(text: str, default: str = "") -> str:
    """A file-name part from a name people typed: letters, digits, '_' and '-' only (anything else becomes '_'),
    at most 64 characters; `default` when nothing is left."""
    return re.sub(r"[^A-Za-z0-9_-]+", "_", str(text)).strip("_")[:64] or default
