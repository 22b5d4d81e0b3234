"""Recipes: named, YAML-described compositions of operations plus the gates that check them.

A recipe file looks like::

    name: eda
    description: EDA's four word-level edits, one per copy
    op:
      one_of:
        - synonym_swap: {rate: 0.1}
        - random_swap: {rate: 0.1}
    long_text: {k: 3, min_chars: 300}   # optional: edit k sentences of long texts
    gates: [rules, dedup]

An operation is written ``{name: {params}}``; ``one_of`` and ``sequence`` take a list of
operations (or ``{ops: [...], weights: [...]}``), ``sometimes`` takes ``{p: 0.5, op: ...}``.
Named recipes live in ``configs/recipes/`` and ship with the package.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from zhaug.augment import ops  # noqa: F401  (registers the operations)
from zhaug.augment.base import OPERATIONS, Operation
from zhaug.augment.compose import OneOf, PerSentence, Sequential, Sometimes
from zhaug.augment.gates import build_gate
from zhaug.augment.gates.base import Gate
from zhaug.errors import ZhaugError
from zhaug.specs import build, parse_spec, read_yaml_mapping


@dataclass
class Recipe:
    """An operation (possibly composed) and the gates its outputs must pass."""

    name: str
    op: Operation
    gates: list[Gate] = field(default_factory=list)
    description: str = ""


COMPOSITES: dict[str, type[Operation]] = {"one_of": OneOf, "sequence": Sequential, "sometimes": Sometimes,
                                          "per_sentence": PerSentence}
"""Operations made of operations: ``ops`` (a list) or ``op``, built first."""


def build_op(spec: Any, overrides: dict[str, dict[str, Any]] | None = None) -> Operation:
    """An operation from its YAML form (see the module docstring); ``overrides`` maps an operation
    name to parameters that replace the recipe's wherever that operation occurs."""
    name, params = parse_spec(spec, "operation")
    if name in COMPOSITES:
        params = {"ops": params} if isinstance(params, list) else dict(params)
        inner = "ops" if name in ("one_of", "sequence") else "op"
        if inner not in params:
            raise ZhaugError(f"operation {name!r} needs '{inner}'")
        params[inner] = ([build_op(child, overrides) for child in params[inner]] if inner == "ops"
                         else build_op(params[inner], overrides))
        return build(COMPOSITES, "operation", name, params)
    return build(OPERATIONS, "operation", name, {**params, **(overrides or {}).get(name, {})})


RECIPE_KEYS = {"name", "op", "gates", "long_text", "description"}


def recipe_from_dict(
    config: dict[str, Any], default_name: str = "custom", overrides: dict[str, dict[str, Any]] | None = None
) -> Recipe:
    """A recipe from a parsed YAML mapping (``overrides``: see :func:`build_op`)."""
    unknown = sorted(set(config) - RECIPE_KEYS)
    if unknown:  # a misspelt 'gates' would otherwise drop every gate, silently
        raise ZhaugError(f"recipe {config.get('name', default_name)!r}: unknown key(s) {unknown}; "
                         f"known: {sorted(RECIPE_KEYS)}")
    if "op" not in config:
        raise ZhaugError(f"recipe {config.get('name', default_name)!r} has no 'op'")
    op = build_op(config["op"], overrides)
    if config.get("long_text"):
        op = _per_sentence(op, config["long_text"])
    gates = [build_gate(spec) for spec in config.get("gates") or []]
    return Recipe(config.get("name", default_name), op, gates, config.get("description", ""))


def _per_sentence(op: Operation, params: dict[str, Any]) -> Operation:
    """Wrap each branch of a top-level ``one_of`` (so the chosen branch stays visible), else the op."""
    if isinstance(op, OneOf):
        return OneOf([PerSentence(child, **params) for child in op.ops], weights=op.weights)
    return PerSentence(op, **params)


def named_recipes() -> list[str]:
    """Names of the recipes that ship with zhaug."""
    folder = resources.files("zhaug.configs") / "recipes"
    return sorted(Path(p.name).stem for p in folder.iterdir() if p.name.endswith(".yaml"))


def load_recipe(name_or_path: str | Path, overrides: dict[str, dict[str, Any]] | None = None) -> Recipe:
    """A shipped recipe by name (``eda``, ``aeda``, ``noise``, ``bt``, ``mixed``, ...) or a YAML file;
    ``overrides`` (e.g. ``{"back_translate": {"forward": PATH}}``): see :func:`build_op`."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml"):
        config, default = read_yaml_mapping(path, "recipe file"), path.stem
    else:
        name = str(name_or_path)
        if name not in named_recipes():  # a name is never a path (no ../ into the package)
            raise ZhaugError(f"unknown recipe {name!r}; choose from {named_recipes()} or pass a YAML file")
        resource = resources.files("zhaug.configs") / "recipes" / f"{name}.yaml"
        config, default = read_yaml_mapping(resource, "recipe"), name
    try:
        return recipe_from_dict(config, default, overrides)
    except ZhaugError as exc:
        raise ZhaugError(f"{name_or_path}: {exc}") from None


WORD_LEVEL_RECIPES = ("eda-classic",)
"""Recipes whose gates ``zhaug gate`` runs by default: rules, fluency and dedup, the gates made for
copies from tools that edit any word (classic EDA, nlpaug, a language model)."""


def word_level_gates() -> list[Gate]:
    """The gates of the word-level recipes, each name once, in recipe order."""
    gates: dict[str, Gate] = {}
    for recipe in WORD_LEVEL_RECIPES:
        for each in load_recipe(recipe).gates:
            gates.setdefault(each.name, each)
    return list(gates.values())
