"""Strict parsing of params.yaml sections (and ``--param`` overrides) into typed, frozen dataclasses.

An unknown key is an error with a did-you-mean, a missing required key is an error naming its path, a
value of the wrong type is refused, and a numeric field declared with :func:`ranged` is range-checked
before any work starts."""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar, get_args, get_type_hints

from bench.errors import UserError

T = TypeVar("T")
_RANGE = "distrack.range"
REQUIRED: Any = dataclasses.MISSING  # ranged(REQUIRED, ...): no default, the key must be given


def ranged(default: Any, *, ge: float | None = None, gt: float | None = None, le: float | None = None) -> Any:
    """A dataclass field whose value (or each value of a tuple) must be >= ``ge``, > ``gt`` and <= ``le``."""
    return dataclasses.field(default=default, metadata={_RANGE: (ge, gt, le)})


def did_you_mean(name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def require_choice(value: str, choices: tuple[str, ...], where: str) -> None:
    """Raise :class:`UserError` naming ``where`` unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise UserError(f"{where}: expected one of {', '.join(choices)}, got {value!r}{did_you_mean(value, choices)}")


def reject_unknown(raw: Mapping[str, Any], allowed: Iterable[str], where: str) -> None:
    allowed = list(allowed)
    unknown = sorted(set(raw) - set(allowed))
    if unknown:
        hints = "".join(did_you_mean(str(name), allowed) for name in unknown[:1])
        raise UserError(f"{where}: unknown key(s) {', '.join(map(str, unknown))}{hints}; allowed: {', '.join(allowed)}")


def parse_section(cls: type[T], raw: Any, where: str) -> T:
    """Build dataclass ``cls`` from a mapping, rejecting unknown keys, wrong types and out-of-range values."""
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise UserError(f"{where}: expected a mapping, got {type(raw).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    reject_unknown(raw, fields, where)
    hints = get_type_hints(cls)
    values: dict[str, Any] = {}
    for name, spec in fields.items():
        if name not in raw:
            if spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING:
                raise UserError(f"{where}.{name}: required key is missing")
            continue
        values[name] = _coerce(raw[name], hints[name], f"{where}.{name}")
        _check_range(values[name], spec, f"{where}.{name}")
    return cls(**values)


def _check_range(value: Any, spec: dataclasses.Field, where: str) -> None:
    ge, gt, le = spec.metadata.get(_RANGE, (None, None, None))
    if value is None:
        return
    for item in value if isinstance(value, tuple) else (value,):
        for bound, ok, text in (
            (ge, lambda v, b: v >= b, ">="),
            (gt, lambda v, b: v > b, ">"),
            (le, lambda v, b: v <= b, "<="),
        ):
            if bound is not None and not ok(item, bound):
                raise UserError(f"{where}: must be {text} {bound}, got {item!r}")


def _coerce(value: Any, hint: Any, where: str) -> Any:
    text = str(hint)
    if value is None:
        if "None" in text:
            return None
        raise UserError(f"{where}: must not be null")
    options = [arg for arg in get_args(hint) if arg is not type(None)]
    if isinstance(hint, types.UnionType | typing._UnionGenericAlias) and len(options) == 1:  # type: ignore[attr-defined]
        return _coerce(value, options[0], where)  # X | None with a value: check it as an X
    if hint is bool:
        if not isinstance(value, bool):
            raise UserError(f"{where}: expected true/false, got {value!r}")
        return value
    if hint is int or text.startswith("int"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise UserError(f"{where}: expected an integer, got {value!r}")
        return value
    if hint is float or text.startswith("float"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise UserError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise UserError(f"{where}: expected a string, got {value!r}")
        return value
    if text.startswith("tuple"):
        item_type = get_args(hint)[0]
        if not isinstance(value, list | tuple) or not all(
            isinstance(v, item_type) and not isinstance(v, bool) for v in value
        ):
            raise UserError(f"{where}: expected a list of {item_type.__name__} values, got {value!r}")
        return tuple(value)
    if text.startswith(("dict", "collections.abc.Mapping", "typing.Mapping")):
        if not isinstance(value, Mapping):
            raise UserError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    return value
