"""Finding models by name: the shipped ones in the repo's models/ and the user's in $DCGAN_MODELS_DIR."""

from __future__ import annotations

import os
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
            for candidate in (d / f"{name}.safetensors", d / name / "model.safetensors"):
                if candidate.is_file():
                    return candidate
        searched = ", ".join(str(d) for d in models_dirs())
        raise FileNotFoundError(f"no model named {name!r} in {searched}; give a checkpoint path or a run folder instead")
    raise FileNotFoundError(f"checkpoint {p} does not exist")
