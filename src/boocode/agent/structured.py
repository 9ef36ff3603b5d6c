"""Structured output: checking a JSON schema before an agent starts, and validating what it returns."""

from __future__ import annotations

import json
import re
from typing import Any

import jsonschema
from jsonschema.exceptions import SchemaError as JsonSchemaError
from jsonschema.validators import validator_for

from boocode.errors import SchemaError

_FENCE = re.compile(r"^\s*```(?:json)?\s*\n(.*?)\n?\s*```\s*$", re.DOTALL)


def check_schema(schema: Any) -> None:
    """Refuse a schema that is not valid JSON Schema, whose root is not an object, or that contradicts
    itself (so no valid answer could exist); the message names the problem."""
    if not isinstance(schema, dict):
        raise SchemaError(f"schema must be a JSON object, got {type(schema).__name__}")
    try:
        validator_for(schema).check_schema(schema)
    except JsonSchemaError as exc:
        raise SchemaError(f"invalid JSON schema: {exc.message}") from None
    if schema.get("type") != "object":
        raise SchemaError('schema root must have "type": "object" (a tool input is always an object)')
    problem = _contradiction(schema, "schema")
    if problem:
        raise SchemaError(f"contradictory schema: {problem}")


def _contradiction(node: Any, where: str) -> str | None:
    if not isinstance(node, dict):
        return None
    props = node.get("properties", {})
    required = node.get("required", [])
    for key in required:
        if node.get("additionalProperties") is False and key not in props:
            return f"{where} requires {key!r} but additionalProperties is false and {key!r} is not a property"
        if props.get(key) is False:
            return f"{where} requires {key!r} but its property schema is false"
    if "enum" in node and not node["enum"]:
        return f"{where} has an empty enum"
    for low, high in (("minimum", "maximum"), ("minLength", "maxLength"), ("minItems", "maxItems")):
        if low in node and high in node and node[low] > node[high]:
            return f"{where} has {low} {node[low]} greater than {high} {node[high]}"
    if isinstance(node.get("minProperties"), int) and node.get("maxProperties", 10**9) < len(required):
        return f"{where} requires {len(required)} keys but maxProperties is {node['maxProperties']}"
    for key, sub in props.items():
        found = _contradiction(sub, f"{where}.{key}")
        if found:
            return found
    if isinstance(node.get("items"), dict):
        return _contradiction(node["items"], f"{where}[]")
    return None


def parse_json_text(text: str) -> Any:
    """Parse a model's reply as JSON, accepting one surrounding ``` fence; raise ValueError if it is not."""
    match = _FENCE.match(text)
    return json.loads(match.group(1) if match else text)


def validation_error(instance: Any, schema: dict[str, Any]) -> str | None:
    """The most relevant validation failure as one line, or None when `instance` is valid."""
    validator = validator_for(schema)(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(instance))
    if error is None:
        return None
    path = "".join(f"[{p!r}]" for p in error.absolute_path) or "(root)"
    return f"at {path}: {error.message}"
