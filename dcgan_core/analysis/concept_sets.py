"""Concept sets: k exemplar codes of one concept ("smiling woman") for one model, saved as JSON.

The paper (section 6.3.2) found single samples unstable, so a concept is the average z of a few
exemplars (`arithmetic.concept_mean`). A set is saved atomically with its codes, where each came
from (seed, index) and the model it belongs to (`user_data.ModelIdentity`). Loading checks z's
size and prior first, then the fingerprint; every refusal names the set, the model it was made
for, the model in use and what to do.

    me = model_identity("faces", model)                       # model = load_model("faces")
    smiling = ConceptSet("smiling woman", sample_z(32, model.config, seed=0)[[1, 4, 9]], me, ((0, 1), (0, 4), (0, 9)))
    save_concept_set(concept_set_path("faces", smiling.name), smiling)
    load_concept_set(concept_set_path("faces", "smiling woman"), expect=me)

Files live in `user_data.concepts_dir()` / MODEL / SET.json.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch

from ..files import write_json_atomic
from .user_data import ModelIdentity, concepts_dir, parse_json, safe_name

FORMAT = "dcgan-explorer-concepts/1"
IDENTITY_KEYS = ("name", "fingerprint", "nz", "z_prior", "step")  # what a concept set file records of its model


class ConceptSetError(ValueError):
    """A concept set that cannot be used here (damaged file, other model, wrong z size); the message says why."""


@dataclass(frozen=True, eq=False)
class ConceptSet:
    """k exemplar codes of one concept ("smiling woman"), for one model.

    `sources` says where each code came from as (seed, index): code `index` of `sample_z(n, config, seed)`
    for any n > index. Empty when unknown.
    """

    name: str
    z: torch.Tensor  # (k, nz) float32, CPU
    model: ModelIdentity
    sources: tuple[tuple[int, int], ...] = ()

    def __post_init__(self) -> None:
        z = torch.as_tensor(self.z, dtype=torch.float32).detach().cpu()
        if z.dim() == 1:
            z = z[None]
        object.__setattr__(self, "z", z)
        object.__setattr__(self, "sources", tuple((int(s), int(i)) for s, i in self.sources))
        if not str(self.name).strip():
            raise ConceptSetError("a concept set needs a name, e.g. 'smiling woman'")
        if z.dim() != 2 or z.shape[0] < 1:
            raise ConceptSetError(f"concept set {self.name!r} needs at least one code as a (k, nz) array, got shape {tuple(z.shape)}")
        if z.shape[1] != self.model.nz:
            raise ConceptSetError(
                f"concept set {self.name!r} holds {z.shape[1]}-d codes, but {self.model.describe()} takes {self.model.nz}-d codes"
            )
        if not torch.isfinite(z).all():
            raise ConceptSetError(f"concept set {self.name!r} holds codes that are not finite numbers")
        if self.sources and len(self.sources) != z.shape[0]:
            raise ConceptSetError(f"concept set {self.name!r} has {z.shape[0]} codes but {len(self.sources)} sources")

    def __len__(self) -> int:
        return self.z.shape[0]

    @property
    def mean(self) -> torch.Tensor:
        """(nz,) the concept's vector: the average of its exemplars."""
        return self.z.mean(0)

    def to_dict(self) -> dict:
        return {
            "format": FORMAT,
            "name": self.name,
            "model": self.model.to_dict(IDENTITY_KEYS),
            "z": [[float(v) for v in row] for row in self.z.tolist()],  # float32 values round-trip exactly
            "sources": [{"seed": s, "index": i} for s, i in self.sources],
        }

    @classmethod
    def from_dict(cls, d: Mapping, where: str = "the file") -> ConceptSet:
        if not isinstance(d, Mapping) or d.get("format") != FORMAT:
            raise ConceptSetError(f"{where} is not a concept set (expected format {FORMAT!r})")
        try:
            return cls(
                name=str(d["name"]),
                z=torch.tensor(d["z"], dtype=torch.float32),
                model=ModelIdentity.from_dict(d["model"], required=IDENTITY_KEYS[:-1]),  # step may be absent
                sources=tuple((int(s["seed"]), int(s["index"])) for s in d.get("sources", [])),
            )
        except ConceptSetError:
            raise
        except RecursionError:
            raise ConceptSetError(f"{where} is nested too deeply to be a concept set") from None
        except (KeyError, TypeError, ValueError, AttributeError, IndexError, OverflowError, RuntimeError) as e:
            # RuntimeError: torch.tensor of a malformed list
            raise ConceptSetError(f"{where} is a damaged concept set: {type(e).__name__}: {str(e)[:200]}") from None


def check_model(concept: ConceptSet, identity: ModelIdentity) -> None:
    """Raise ConceptSetError, naming both models, unless `concept` was made with exactly these weights."""
    made = concept.model
    again = f"Pick {made.name} in the sidebar to use it, or pick the samples again with {identity.name}."
    if made.nz != identity.nz:
        raise ConceptSetError(
            f"concept set {concept.name!r} holds {made.nz}-d codes of {made.describe()}; {identity.describe()} takes "
            f"{identity.nz}-d codes. {again}"
        )
    if made.z_prior != identity.z_prior:
        raise ConceptSetError(
            f"concept set {concept.name!r} holds codes of a {made.z_prior} prior ({made.describe()}); "
            f"{identity.describe()} draws z from a {identity.z_prior} prior. {again}"
        )
    if made.fingerprint != identity.fingerprint:
        raise ConceptSetError(
            f"concept set {concept.name!r} was made for {made.describe()}, not for {identity.describe()}: other weights "
            f"draw other faces from the same z. {again}"
        )


def concept_set_to_json(concept: ConceptSet) -> str:
    return json.dumps(concept.to_dict(), indent=2, sort_keys=True) + "\n"


def concept_set_from_json(text: str | bytes, expect: ModelIdentity | None = None, where: str = "the file") -> ConceptSet:
    """Parse a concept set; with `expect`, refuse one made for other weights (ConceptSetError)."""
    d = parse_json(text, where, "a concept set", ConceptSetError)
    concept = ConceptSet.from_dict(d, where)
    if expect is not None:
        check_model(concept, expect)
    return concept


def save_concept_set(path: str | Path, concept: ConceptSet) -> None:
    """Write `concept` as JSON, atomically (temp file + rename)."""
    write_json_atomic(path, concept.to_dict())


def load_concept_set(path: str | Path, expect: ModelIdentity | None = None) -> ConceptSet:
    """Read a concept set saved by `save_concept_set`; with `expect`, refuse one made for other weights."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise FileNotFoundError(f"no concept set at {path}") from None
    return concept_set_from_json(text, expect, where=str(path))



def concept_set_path(model_name: str, set_name: str, root: str | Path | None = None) -> Path:
    """Where the set `set_name` of model `model_name` is saved: ROOT/MODEL/SET.json, both parts made file-safe."""
    folder, stem = safe_name(model_name) or "model", safe_name(set_name)
    if not stem:
        raise ConceptSetError(f"{set_name!r} cannot name a file: use letters or digits, e.g. 'smiling woman'")
    return Path(root if root is not None else concepts_dir()) / folder / f"{stem}.json"


def list_concept_sets(model_name: str, root: str | Path | None = None) -> list[Path]:
    """Saved concept set files of a model (by name; each is still checked against the weights when loaded)."""
    folder = Path(root if root is not None else concepts_dir()) / (safe_name(model_name) or "model")
    return sorted(folder.glob("*.json")) if folder.is_dir() else []
