from __future__ import annotations

from typing import Any

import pytest

from boocode.agent.structured import check_schema, parse_json_text, validation_error
from boocode.errors import SchemaError

OBJ: dict[str, Any] = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}


def test_a_sound_schema_passes() -> None:
    check_schema(OBJ)


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ([1], "must be a JSON object"),
        ({"type": "array"}, "root must have"),
        ({"type": "object", "properties": {"a": {"type": "nope"}}}, "invalid JSON schema"),
        (
            {"type": "object", "properties": {}, "required": ["x"], "additionalProperties": False},
            "requires 'x' but additionalProperties is false",
        ),
        ({"type": "object", "properties": {"a": {"enum": []}}}, "schema.a has an empty enum"),
        (
            {"type": "object", "properties": {"a": {"type": "integer", "minimum": 5, "maximum": 1}}},
            "minimum 5 greater than maximum 1",
        ),
        (
            {
                "type": "object",
                "properties": {
                    "a": {"type": "array", "items": {"type": "string", "minLength": 3, "maxLength": 2}}
                },
            },
            r"schema.a\[\] has minLength 3",
        ),
    ],
)
def test_bad_schemas_are_refused_with_the_reason(schema: Any, message: str) -> None:
    with pytest.raises(SchemaError, match=message):
        check_schema(schema)


def test_json_text_with_or_without_fence() -> None:
    assert parse_json_text('{"n": 1}') == {"n": 1}
    assert parse_json_text('```json\n{"n": 2}\n```') == {"n": 2}
    with pytest.raises(ValueError):
        parse_json_text("the answer is 3")


def test_validation_error_names_the_place() -> None:
    assert validation_error({"n": 1}, OBJ) is None
    assert validation_error({"n": "x"}, OBJ) == "at ['n']: 'x' is not of type 'integer'"
    assert "'n' is a required property" in (validation_error({}, OBJ) or "")
