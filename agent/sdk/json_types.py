"""The types of JSON values and of configuration sections, for annotations instead of ``Any``.

A webhook body, an event's native form and a rendered payload are JSON: ``JsonValue``
says exactly which Python values that is (what ``orjson.loads`` returns), so mypy
checks the code that walks them. ``JsonObject`` is one JSON object. A validated
configuration section is a ``ConfigDict``: read-only and keyed by option name, its
values whatever the schema allows, narrowed with ``isinstance`` where they are used.

Parameters that accept *any* Python value and narrow it themselves take ``object``;
the two aliases here are for values known to be JSON.
"""

from __future__ import annotations

from typing import Mapping, TypeAlias, Union

__all__ = ["JsonValue", "JsonObject", "ConfigDict"]

#: A JSON value as the parser returns it: null, true/false, a number, a string, an array or an object.
JsonValue: TypeAlias = Union[None, bool, int, float, str, list["JsonValue"], dict[str, "JsonValue"]]
#: A JSON object (a webhook body's root, an event's native form).
JsonObject: TypeAlias = dict[str, JsonValue]
#: A validated configuration section, read only: option name -> value.
ConfigDict: TypeAlias = Mapping[str, object]
