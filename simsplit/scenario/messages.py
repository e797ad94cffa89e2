"""Pydantic's validation errors as one line naming the scenario field: ``FILE: dotted.path: expected ...``."""

from __future__ import annotations

import types
import typing
from typing import Annotated, Any, Union

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from simsplit.core.config import FieldValueError
from simsplit.core.errors import InputError
from simsplit.core.registry import NestedError


def input_error(exc: ValidationError, root: type[BaseModel], data: Any, source: str) -> InputError:
    """The first error of ``exc`` (raised validating ``data`` as ``root``) as an InputError naming ``source``
    and the field; errors inside a block chosen by ``kind`` are followed into that block."""
    prefix: tuple = ()
    while True:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        cause = err.get("ctx", {}).get("error")
        if not isinstance(cause, NestedError):
            break
        prefix, exc, root, data = prefix + loc, cause.error, cause.config, _at(data, loc)
    if err["type"] == "union_tag_invalid":
        loc = loc + ("kind",)
    if isinstance(cause, FieldValueError):
        loc = loc + (cause.field,)
    inner = _dotted(loc, data)
    where = [str(p) for p in prefix] + ([] if inner == "(top level)" else [inner])
    return InputError(source, ".".join(where) or "(top level)", _message(err, root))


def _at(data: Any, loc: tuple) -> Any:
    """The part of ``data`` at the pydantic error location ``loc`` (None where the location leaves it)."""
    node = data
    for item in loc:
        node = node[item] if isinstance(node, (dict, list)) else None
    return node


def _dotted(loc: tuple, data: Any) -> str:
    """Turn a pydantic error location into the YAML path, skipping union tags that are not keys."""
    parts, node = [], data
    for item in loc:
        if (isinstance(node, dict) and item in node
                or isinstance(node, list) and isinstance(item, int) and item < len(node)):
            parts.append(str(item))
            node = node[item]
        elif isinstance(item, str) and isinstance(node, dict) and node.get("kind") == item:
            continue  # discriminated-union tag
        else:
            parts.append(str(item))
            node = None
    return ".".join(parts) or "(top level)"


def _unwrap(tp: Any) -> list[Any]:
    """The model classes an annotation may hold (through Optional, Annotated, Union, list)."""
    origin = typing.get_origin(tp)
    if origin is Annotated:
        return _unwrap(typing.get_args(tp)[0])
    if origin in (Union, types.UnionType, list):
        return [m for arg in typing.get_args(tp) for m in _unwrap(arg)]
    return [tp] if isinstance(tp, type) and issubclass(tp, BaseModel) else []


def _allowed_fields(root: type[BaseModel], loc: tuple) -> list[str]:
    """Field names of the schema model that holds the field at ``loc`` (relative to ``root``)."""
    candidates: list[Any] = [root]
    for item in loc[:-1]:
        if isinstance(item, int):
            continue
        nxt = []
        for model in candidates:
            if item in model.model_fields:
                nxt += _unwrap(model.model_fields[item].annotation)
            else:  # a union tag picks the member with that kind
                nxt += [model] if "kind" in model.model_fields and item in typing.get_args(
                    model.model_fields["kind"].annotation) else []
        candidates = nxt or candidates
    tagged = [m for m in candidates if "kind" in m.model_fields and len(loc) > 1
              and loc[-2] in typing.get_args(m.model_fields["kind"].annotation)]
    models = tagged or candidates
    return sorted({f for m in models for f in m.model_fields})


def _message(err: ErrorDetails, root: type[BaseModel]) -> str:
    kind, ctx, value = err["type"], err.get("ctx", {}), err.get("input")
    got = f", got {value!r}"
    simple = {
        "greater_than": lambda: f"expected a number > {ctx.get('gt')}",
        "greater_than_equal": lambda: f"expected a number >= {ctx.get('ge')}",
        "less_than": lambda: f"expected a number < {ctx.get('lt')}",
        "less_than_equal": lambda: f"expected a number <= {ctx.get('le')}",
        "float_parsing": lambda: "expected a number", "float_type": lambda: "expected a number",
        "finite_number": lambda: "expected a finite number",
        "int_parsing": lambda: "expected an integer", "int_type": lambda: "expected an integer",
        "int_from_float": lambda: "expected an integer",
        "string_type": lambda: "expected a string", "bool_parsing": lambda: "expected true or false",
        "bool_type": lambda: "expected true or false",
        "list_type": lambda: "expected a list", "model_type": lambda: "expected a mapping",
        "dict_type": lambda: "expected a mapping",
        "literal_error": lambda: f"expected {ctx.get('expected')}",
        "union_tag_invalid": lambda: f"expected kind {ctx.get('expected_tags')}",
        "union_tag_not_found": lambda: "expected a mapping with a 'kind' field",
        "too_short": lambda: f"expected at least {ctx.get('min_length')} item(s)",
        "string_too_short": lambda: "expected a non-empty string",
        "string_pattern_mismatch": lambda: "expected a name of letters, digits, '.', '_' or '-'",
    }
    if kind == "missing":
        return "expected a value: this field is required"
    if kind == "extra_forbidden":
        return f"unknown field; expected one of {_allowed_fields(root, tuple(err['loc']))}"
    if kind == "union_tag_invalid":
        return simple[kind]() + f", got {ctx.get('tag')!r}"
    if kind in ("value_error", "assertion_error"):
        return str(ctx.get("error", err["msg"]))
    if kind in simple:
        return simple[kind]() + got
    return err["msg"] + got
