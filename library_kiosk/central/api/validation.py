"""One validation layer for the central API: every request's parameters and body are checked against its
operation in the OpenAPI document (api/openapi.py), with jsonschema and the document's own schemas, before the
route runs and so before anything is read or written (auth.py calls ``check_request`` after the token check and
before it notes the device's contact). Routes read the checked body with ``body()``.

A fault is a 400 in the API's error shape with the field at fault, ``{"error": {"code", "message", "field"}}``:
``invalid_parameter`` for a query, path or header parameter and ``invalid_body`` for the body, unless the operation
keeps an older code for a field (``x-error-codes`` on the operation, by the body's top-level field; ``""`` for the
body as a whole) or a parameter names its own (``x-error-code``, with ``x-error-status`` when it is not a 400: a
missing visit is 403 ``visit_required``). A body larger than its operation's limit (``x-body-limit`` on the
request body; a route without one takes none) is a 413 ``too_large``, refused before it is read.

At start, ``init_app`` checks that every route of the app is in the document (and fails the start otherwise), so
no route escapes the layer."""
from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field

import jsonschema
from flask import Flask, current_app, g, request
from jsonschema.exceptions import ValidationError, best_match
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from library_kiosk.central.api.errors import ApiError

DOCUMENT_URI = "urn:library-kiosk:central-openapi"
UNDOCUMENTED = frozenset({"health", "api.openapi"})  # /health and the document itself
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_WHOLE_NUMBER = re.compile(r"-?[0-9]{1,40}")

FORMATS = jsonschema.FormatChecker()


@FORMATS.checks("date-time", raises=ValueError)
def _date_time(instance: object) -> bool:
    """RFC 3339 ``date-time``: the form, with a zone, and a real date and time."""
    if not isinstance(instance, str):
        return True
    if not _RFC3339.match(instance):
        return False
    dt.datetime.fromisoformat(instance.upper().replace("Z", "+00:00"))
    return True


@dataclass
class Parameter:
    name: str
    where: str  # query, path, header
    required: bool
    schema: dict
    validator: jsonschema.Draft202012Validator
    code: str
    status: int


@dataclass
class Operation:
    parameters: list[Parameter] = field(default_factory=list)
    body: jsonschema.Draft202012Validator | None = None
    body_required: bool = False
    body_limit: int = 0
    codes: dict = field(default_factory=dict)


def _pointer(*parts: str) -> str:
    return "/" + "/".join(part.replace("~", "~0").replace("/", "~1") for part in parts)


def _validator(registry: Registry, pointer: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator({"$ref": f"{DOCUMENT_URI}#{pointer}"}, registry=registry,
                                           format_checker=FORMATS)


def compile_operation(document: dict, registry: Registry, path: str, method: str) -> Operation:
    spec = document["paths"][path][method]
    found = Operation(codes=spec.get("x-error-codes", {}))
    for index, parameter in enumerate(spec.get("parameters", [])):
        found.parameters.append(Parameter(
            parameter["name"], parameter["in"], bool(parameter.get("required")), parameter["schema"],
            _validator(registry, _pointer("paths", path, method, "parameters", str(index), "schema")),
            parameter.get("x-error-code", "invalid_parameter"), parameter.get("x-error-status", 400)))
    body = spec.get("requestBody")
    if body is not None:
        found.body = _validator(registry, _pointer("paths", path, method, "requestBody", "content",
                                                   "application/json", "schema"))
        found.body_required = bool(body.get("required"))
        found.body_limit = int(body["x-body-limit"])
    return found


def openapi_path(rule: str) -> str:
    """A Flask rule as an OpenAPI path: ``/a/<int:b>`` is ``/a/{b}``."""
    return re.sub(r"<(?:[^<>:]+:)?([^<>:]+)>", r"{\1}", rule)


def build(app: Flask, document: dict) -> dict[tuple[str, str], Operation]:
    """Every route of ``app`` (rule, method) with its compiled operation; RuntimeError for a route the document
    does not describe."""
    registry = Registry().with_resource(DOCUMENT_URI, DRAFT202012.create_resource(document))
    operations = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint in UNDOCUMENTED:
            continue
        path = openapi_path(rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            if method.lower() not in document["paths"].get(path, {}):
                raise RuntimeError(f"{method} {path} ({rule.endpoint}) is not in the OpenAPI document")
            operations[(rule.rule, method)] = compile_operation(document, registry, path, method.lower())
    return operations


def init_app(app: Flask, document: dict) -> None:
    app.extensions["api_operations"] = build(app, document)


def body() -> dict:
    """This request's body as checked (an absent optional body is ``{}``)."""
    found = g.get("checked_body")
    return found if isinstance(found, dict) else {}


def check_request() -> None:
    """Check this request against its operation (a HEAD as its GET); ApiError (400, 403 or 413) names the first
    fault. OPTIONS runs no route: nothing to check."""
    if request.url_rule is None or request.method == "OPTIONS":
        return
    method = "GET" if request.method == "HEAD" else request.method
    operation = current_app.extensions["api_operations"].get((request.url_rule.rule, method))
    if operation is None:  # /health, the document
        return
    for parameter in operation.parameters:
        _check_parameter(parameter)
    g.checked_body = _checked_body(operation)


def _raw_parameter(parameter: Parameter) -> tuple[bool, object]:
    """Whether the parameter was given, and its value (a query parameter as its type says)."""
    if parameter.where == "path":
        values = request.view_args or {}
        return parameter.name in values, values.get(parameter.name)
    if parameter.where == "header":
        value = request.headers.get(parameter.name)
        return value is not None, value
    values = request.args.getlist(parameter.name)
    if not values:
        return False, None
    if len(values) > 1:
        raise ApiError(400, parameter.code, f"{parameter.name} is given more than once.", parameter.name)
    return True, _typed(values[0], parameter.schema)


def _typed(text: str, schema: dict) -> object:
    """A query parameter's text as the JSON value its schema describes (left as text when it is not one)."""
    kinds = schema.get("type")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    if "integer" in kinds and _WHOLE_NUMBER.fullmatch(text):
        return int(text)
    if "boolean" in kinds and text in ("true", "false"):
        return text == "true"
    return text


def _check_parameter(parameter: Parameter) -> None:
    given, value = _raw_parameter(parameter)
    if not given:
        if parameter.required:
            raise ApiError(parameter.status, parameter.code, f"{parameter.name} is required.", parameter.name)
        return
    if _holds_nul(value):
        raise ApiError(parameter.status, parameter.code, f"{parameter.name} {NUL_FAULT}", parameter.name)
    error = _first(parameter.validator.iter_errors(value))
    if error is not None:
        raise ApiError(parameter.status, parameter.code, f"{parameter.name} {_fault(error)}", parameter.name)


NUL_FAULT = "holds a NUL character, which no value may hold."  # PostgreSQL's text cannot store one (it was a 500)


def _holds_nul(value: object) -> bool:
    """Whether a text anywhere in ``value`` (a parameter or a JSON body) holds U+0000."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_nul(v) for v in value)
    return False


def _checked_body(operation: Operation) -> object:
    length = request.content_length
    if length is not None and length > operation.body_limit:
        raise _too_large(operation)
    raw = request.get_data(cache=True)
    if len(raw) > operation.body_limit:
        raise _too_large(operation)
    if operation.body is None or not raw:
        if operation.body_required:
            raise ApiError(400, operation.codes.get("", "invalid_body"), "The body is required: a JSON object.", "")
        return {}
    try:
        found = json.loads(raw, parse_float=_number, parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "invalid_body", "The body is not valid JSON (corrupt or truncated).", "") from None
    if _holds_nul(found):
        raise ApiError(400, operation.codes.get("", "invalid_body"), f"The body {NUL_FAULT}", "")
    error = _first(operation.body.iter_errors(found))
    if error is not None:
        where = _field(error)
        code = operation.codes.get(where.split(".")[0].split("[")[0], "invalid_body")
        raise ApiError(400, code, f"{where or 'The body'} {_fault(error)}", where)
    return found


def _number(text: str) -> float | int:
    """A JSON number with a fraction or exponent: a whole one (``2.0``, ``1e3``) is the integer it equals, as JSON
    Schema counts it, so the routes see ``int``; NaN and infinities are no JSON."""
    value = float(text)
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError("not a finite number")
    return int(value) if value.is_integer() and abs(value) <= 2**63 else value


def _no_constant(text: str) -> None:
    raise ValueError(f"{text} is not JSON")


def _first(errors) -> ValidationError | None:
    """The fault to report: jsonschema's best match, and within a ``oneOf`` (an operation of one type, a PIN or a
    password) the fault of the form the value was meant to have: the one whose ``const`` it matches, else the one
    it misses least."""
    error = best_match(errors)
    while error is not None and error.validator in ("oneOf", "anyOf") and error.context:
        forms: dict[int, list[ValidationError]] = {}
        for inner in error.context:
            forms.setdefault(inner.relative_schema_path[0], []).append(inner)
        meant = [faults for faults in forms.values() if not any(f.validator == "const" for f in faults)]
        error = best_match(min(meant or forms.values(), key=len))
    return error


def _too_large(operation: Operation) -> ApiError:
    if operation.body is None:
        return ApiError(413, "too_large", "This route takes no body.", "")
    return ApiError(413, "too_large", f"The body is larger than {operation.body_limit} bytes.", "")


def _field(error: ValidationError) -> str:
    """The instance path of a fault as ``ops[0].payload.loan_ids[2]``; for a missing or unexpected property, that
    property."""
    parts = list(error.absolute_path)
    if error.validator == "required" and isinstance(error.instance, dict):
        parts.append(next(name for name in error.validator_value if name not in error.instance))
    elif error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = set(error.schema.get("properties", {}))
        parts.append(sorted(str(name) for name in error.instance if name not in known)[0])
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


_TYPES = {"string": "a string", "integer": "a whole number", "number": "a number", "boolean": "true or false",
          "array": "a list", "object": "a JSON object", "null": "null"}


def _fault(error: ValidationError) -> str:
    """What is wrong, in words (never the value sent back in full)."""
    rule, value = error.validator, error.validator_value
    if rule == "type":
        kinds = value if isinstance(value, list) else [value]
        return "must be " + " or ".join(_TYPES.get(k, k) for k in kinds) + "."
    if rule == "required":
        return "is required."
    if rule == "additionalProperties":
        return "is not a field this operation takes."
    if rule in ("enum", "const"):
        choices = value if rule == "enum" else [value]
        return "must be one of " + ", ".join(json.dumps(c) for c in choices) + "."
    words = {"minimum": f"must be at least {value}.", "maximum": f"must be at most {value}.",
             "minLength": f"must be at least {value} characters long.",
             "maxLength": f"must be at most {value} characters long.",
             "minItems": f"must hold at least {value} items.", "maxItems": f"must hold at most {value} items.",
             "minProperties": f"must hold at least {value} entries.",
             "maxProperties": f"must hold at most {value} entries.",
             "pattern": "does not have the expected form.", "format": f"must be a {value}.",
             "propertyNames": "has a key of the wrong form.", "oneOf": "matches none of the accepted forms.",
             "not": "has a field it may not have here."}
    return words.get(str(rule), "is not valid.")
