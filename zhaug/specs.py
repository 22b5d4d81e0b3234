"""How settings are written: the ``{name: {params}}`` form in which recipes, configs and command
lines name a component (an operation, a gate) and the registries that build it; YAML config files
and the dataclasses they fill."""

from __future__ import annotations

import dataclasses
import inspect
import os
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, TypeVar

import yaml

from zhaug.errors import ZhaugError

T = TypeVar("T")


def parse_spec(spec: Any, what: str) -> tuple[str, dict[str, Any]]:
    """``(name, params)`` of ``"name"`` or ``{name: {params}}`` (``{name: null}`` means no params)."""
    if isinstance(spec, str):
        return spec, {}
    if not isinstance(spec, dict) or len(spec) != 1:
        raise ZhaugError(f"a {what} is written as {{name: {{params}}}}, got {spec!r}")
    (name, params), = spec.items()
    if params is not None and not isinstance(params, (dict, list)):
        raise ZhaugError(f"{what} {name!r}: parameters must be a mapping, got {params!r}")
    return str(name), params if params is not None else {}


def build(registry: dict[str, type[T]], what: str, name: str, params: dict[str, Any]) -> T:
    """``registry[name](**params)``; an unknown name or a bad parameter is a :class:`ZhaugError`."""
    if name not in registry:
        raise ZhaugError(f"unknown {what} {name!r}; choose from {sorted(registry)}")
    known = inspect.signature(registry[name]).parameters
    unknown = sorted(set(params) - set(known))
    if unknown and not any(p.kind is p.VAR_KEYWORD for p in known.values()):
        raise ZhaugError(f"{what} {name!r}: unknown parameter(s) {unknown}; known: {list(known)}")
    try:
        return registry[name](**params)
    except (TypeError, ValueError) as exc:
        raise ZhaugError(f"{what} {name!r}: {exc}") from None


def read_yaml_mapping(path: str | os.PathLike[str] | Traversable, what: str) -> dict[str, Any]:
    """A YAML file (or packaged resource) that must hold a mapping, loaded safely; ``what`` names
    it in errors."""
    file = path if isinstance(path, Traversable) else Path(path)
    if not file.is_file():
        raise ZhaugError(f"{path}: no such {what}")
    try:
        values = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ZhaugError(f"{path}{where}: not valid YAML ({exc.problem or exc.context})") from None
    except yaml.YAMLError as exc:
        raise ZhaugError(f"{path}: not valid YAML ({' '.join(str(exc).split())})") from None
    values = {} if values is None else values
    if not isinstance(values, dict):
        raise ZhaugError(f"{path}: a {what} must be a YAML mapping")
    return values


def dataclass_from_mapping(cls: type[T], values: dict[str, Any], what: str) -> T:
    """``cls(**values)``; keys that are not fields, and required fields left out, are an error
    that names them (a typo must not pass silently, nor surface as a constructor's TypeError)."""
    if not isinstance(values, dict):
        raise ZhaugError(f"{what}: expected a mapping of options, not {values!r}")
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    names = {f.name for f in fields}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ZhaugError(f"unknown {what} option(s) {unknown}; known: {sorted(names)}")
    missing = [f.name for f in fields if f.name not in values and f.init
               and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    if missing:
        raise ZhaugError(f"{what}: missing {', '.join(map(repr, missing))}")
    return cls(**{f.name: _number(f, values[f.name], what) for f in fields if f.name in values})


def _number(field: dataclasses.Field, value: Any, what: str) -> Any:
    """A number written as YAML 1.1 reads it as text (``1e-4``, which needs a dot there) becomes the
    number a reader sees; other text in a numeric option is an error naming it."""
    kind = field.type if isinstance(field.type, str) else getattr(field.type, "__name__", str(field.type))
    if not isinstance(value, str) or not {"float", "int"} & set(kind.replace("|", " ").split()):
        return value
    try:
        number: float | None = float(value)
    except ValueError:
        number = None
    if number is not None and "float" in kind:
        return number
    if number is not None and number.is_integer():
        return int(number)
    raise ZhaugError(f"{what} option {field.name!r}: expected {'a number' if 'float' in kind else 'a whole number'}, "
                     f"got {value!r}")
