"""Finding models by name: the shipped ones in the repo's models/ and the user's in $DCGAN_MODELS_DIR."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

REPO_MODELS_DIR = Path(__file__).resolve().parent.parent / "models"


def models_dirs() -> list[Path]:
    """Where models are looked up, in order: $DCGAN_MODELS_DIR (if set), then the shipped models/."""
    dirs = []
    env = os.environ.get("DCGAN_MODELS_DIR")
    if env:
        dirs.append(Path(env).expanduser())
    dirs.append(REPO_MODELS_DIR)
    return dirs


def resolve_checkpoint(name_or_path: str | Path) -> Path:
    """A checkpoint file from a path, a run folder, or a model name in the models folders.

    Accepts: a .safetensors file; a run folder (uses checkpoints/last.safetensors);
    a name such as "rooms" found as NAME.safetensors or NAME/model.safetensors in a
    models folder.
    """
    p = Path(name_or_path).expanduser()
    if p.is_file():
        return p
    if p.is_dir():
        for candidate in (p / "checkpoints" / "last.safetensors", p / "model.safetensors"):
            if candidate.is_file():
                return candidate
        raise FileNotFoundError(f"{p} is a folder without checkpoints/last.safetensors or model.safetensors")
    name = str(name_or_path)
    if "/" not in name and not name.endswith(".safetensors"):
        for d in models_dirs():
            for found_name, candidate in _candidates(d):
                if found_name == name:
                    return candidate
        searched = ", ".join(str(d) for d in models_dirs())
        raise FileNotFoundError(f"no model named {name!r} in {searched}; give a checkpoint path or a run folder instead")
    raise FileNotFoundError(f"checkpoint {p} does not exist")


@dataclass(frozen=True)
class ModelEntry:
    """One model found on disk, described from its header alone (no weights read)."""

    name: str  # what `--model NAME` and the app's picker call it
    path: Path  # the checkpoint file
    source: str  # "shipped" (the repo's models/) or "user" ($DCGAN_MODELS_DIR)
    config: dict  # ModelConfig as a dict
    step: int
    meta: dict
    card: Path | None  # README.md beside it, if any


def _candidates(d: Path) -> list[tuple[str, Path]]:
    """(name, checkpoint) pairs in a models folder: NAME.safetensors, NAME/model.safetensors, NAME/checkpoints/last.safetensors."""
    found = []
    if not d.is_dir():
        return found
    for p in sorted(d.iterdir()):
        if p.is_file() and p.suffix == ".safetensors" and not p.name.endswith(".encoder.safetensors"):  # X.encoder: X's encoder
            found.append((p.stem, p))
        elif p.is_dir() and p.name != "instruments":
            for c in (p / "model.safetensors", p / "checkpoints" / "last.safetensors"):
                if c.is_file():
                    found.append((p.name, c))
                    break
    return found


def list_models() -> tuple[list[ModelEntry], list[str]]:
    """Every model in the models folders, and one message per file that could not be read.

    A name found in $DCGAN_MODELS_DIR hides a shipped model of the same name.
    """
    from .models import ModelConfig  # torch: imported only when listing, so `dcgan --help` stays quick
    from .safetensors_files import read_metadata

    entries: list[ModelEntry] = []
    problems: list[str] = []
    seen: set[str] = set()
    for d in models_dirs():
        source = "shipped" if d.resolve() == REPO_MODELS_DIR.resolve() else "user"
        for name, path in _candidates(d):
            if name in seen:
                continue
            try:
                meta = read_metadata(path)
                config = json.loads(meta["model_config"])
                try:  # a config out of range is reported here, not when loading
                    ModelConfig.from_dict(config)
                except (ValueError, TypeError) as e:
                    raise ValueError(f"its model config is impossible ({e}); the file is damaged or not a dcgan-explorer model") from None
                free_meta = json.loads(meta.get("meta", "{}"))
                if not isinstance(free_meta, dict):
                    raise ValueError("its 'meta' header entry is not a JSON object")
                entry = ModelEntry(
                    name=name,
                    path=path,
                    source=source,
                    config=config,
                    step=int(meta.get("step", 0)),
                    meta=free_meta,
                    card=(path.parent / "README.md") if (path.parent / "README.md").is_file() else None,
                )
            except KeyError as e:
                problems.append(f"skipped {path}: its header has no {e} entry")
                continue
            except (ValueError, TypeError, OSError) as e:  # CheckpointError and JSONDecodeError are ValueErrors
                problems.append(f"skipped {path}: {e}")
                continue
            seen.add(name)
            entries.append(entry)
    return entries, problems
