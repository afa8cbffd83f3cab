"""The items an import takes, declared once as pydantic models: one model per item
gives the import API's OpenAPI schema and the faults of a batch, named by row and
field (``lines[2].quantity``), with the messages of Guichet's parsers.

A model is an :class:`ImportItem` whose fields are typed with the builders below
(:func:`text_field`, :func:`parsed_field`, :func:`choice_field`,
:func:`client_code_field`, :func:`currency_field`, :func:`list_field`);
rules between fields live in a ``model_validator(mode="after")`` that raises
:class:`FieldErrors`. ``read_batch`` validates every item of a batch with it::

    class Contract(ImportItem):
        number: text_field(40, required=True)
        product: text_field(required=True)
        client_code: client_code_field()
        start_date: parsed_field(parse_date, DATE)
        end_date: parsed_field(parse_date, DATE, required=False) = None

        @model_validator(mode="after")
        def dates_in_order(self):
            if self.end_date and self.end_date < self.start_date:
                raise FieldErrors([("end_date", "is before start_date")])
            return self
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PlainValidator,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
)

from core.importing import Fault, ImportRejected

TEXT_LIMIT = 200


class ImportItem(BaseModel):
    """The base of an import's item model: unknown fields are ignored, values are
    read only."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class FieldErrors(ValueError):
    """Faults between fields of one item, each (field, message): what a model's
    ``model_validator`` raises (``lines``, "the lines' amounts do not add up")."""

    def __init__(self, faults: Iterable[tuple[str, str]]):
        self.faults = list(faults)
        super().__init__("; ".join(f"{f}: {m}" for f, m in self.faults))


def _text(value: Any, max_length: int, required: bool) -> str:
    value = "" if value is None else str(value).strip()
    if "\x00" in value:  # no database column can store it
        raise ValueError("contains a NUL character")
    if not value and required:
        raise ValueError("is required")
    if len(value) > max_length:
        raise ValueError(f"is longer than {max_length} characters")
    return value


def _schema(kind: str | list[str], extra: dict[str, Any]) -> WithJsonSchema:
    return WithJsonSchema({"type": kind, **{k: v for k, v in extra.items() if v}})


def text_field(
    max_length: int = TEXT_LIMIT,
    *,
    required: bool = False,
    description: str = "",
    examples: tuple[str, ...] = (),
) -> Any:
    """A text field: stripped, ``""`` when absent or empty (a fault when
    ``required``), at most ``max_length`` characters."""

    def check(value: Any) -> str:
        return _text(value, max_length, required)

    schema = {"maxLength": max_length, "description": description, "examples": list(examples)}
    return Annotated[str, PlainValidator(check), _schema("string", schema)]


def parsed_field(
    parse: Callable[[Any], Any],
    schema: dict[str, Any],
    *,
    required: bool = True,
) -> Any:
    """A field read by ``parse`` (``parse_amount``, ``parse_date``...), whose
    :class:`ValueError` message becomes the fault's; ``None`` when absent or empty
    (a fault when ``required``). ``schema`` is its JSON Schema."""

    def check(value: Any) -> Any:
        if value is None or value == "":
            if required:
                raise ValueError("is required")
            return None
        return parse(value)

    if not required:  # null, or nothing: none given
        kinds = schema.get("type", [])
        schema = {**schema, "type": [*(kinds if isinstance(kinds, list) else [kinds]), "null"]}
    return Annotated[Any, PlainValidator(check), WithJsonSchema(schema)]


def choice_field(*choices: str, default: str) -> Any:
    """One of ``choices``; ``default`` when absent or empty."""

    def check(value: Any) -> str:
        value = value or default
        if value not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}")
        return value

    return Annotated[str, PlainValidator(check), WithJsonSchema({"enum": list(choices)})]


def client_code_field(
    *, required: bool = True, description: str = "the account's client code"
) -> Any:
    """A client code (a text of 32 characters at most) that names a known account when
    the validation's context holds ``accounts`` (by client code, see
    ``accounts_by_code``)."""

    def check(value: Any, info: ValidationInfo) -> str:
        code = _text(value, 32, required)
        accounts = (info.context or {}).get("accounts")
        if code and accounts is not None and code not in accounts:
            raise ValueError(f"unknown client code {code}")
        return code

    schema = _schema("string", {"maxLength": 32, "description": description})
    return Annotated[str, PlainValidator(check), schema]


def currency_field() -> Any:
    """A currency's three-letter code (``EUR`` when absent), in capitals."""

    def check(value: Any) -> str:
        code = str(value or "EUR").strip().upper()
        if len(code) != 3 or not code.isalpha():
            raise ValueError("must be a three-letter code such as EUR")
        return code

    schema = {"type": "string", "default": "EUR", "pattern": "^[A-Za-z]{3}$"}
    return Annotated[str, PlainValidator(check), WithJsonSchema(schema)]


def list_field(model: type[BaseModel]) -> Any:
    """A list of ``model`` items (absent or ``null``: an empty list)."""
    return Annotated[list[model], BeforeValidator(lambda value: [] if value is None else value)]


def faults_of(error: ValidationError, row: int, what: str) -> Iterator[Fault]:
    """The faults of ``error`` (a model's validation of the item of ``row``), each
    named by its field's path (``lines[2].label``, 1-based like rows)."""
    for found in error.errors(include_url=False):
        path = _path(found["loc"]) or what
        raised = (found.get("ctx") or {}).get("error")
        if isinstance(raised, FieldErrors):
            yield from (Fault(row, field, message) for field, message in raised.faults)
        elif found["type"] == "missing":
            yield Fault(row, path, "is required")
        elif isinstance(raised, ValueError):
            yield Fault(row, path, str(raised))
        elif found["type"] in ("model_type", "model_attributes_type", "dict_type"):
            yield Fault(row, path, "must be an object")
        elif found["type"] == "list_type":
            yield Fault(row, path, "must be a list")
        else:
            yield Fault(row, path, found["msg"])


def _path(loc: tuple) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part + 1}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def json_schema(model: type[BaseModel], components: dict[str, Any]) -> dict[str, Any]:
    """``model``'s JSON Schema for the OpenAPI document, its nested models moved into
    ``components`` (the document's ``components/schemas``)."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, definition in schema.pop("$defs", {}).items():
        if components.setdefault(name, definition) != definition:
            raise ValueError(f"two import models are named {name}: name one of them apart")
    return schema


def read_batch(
    batch: Any,
    what: str,
    model: type[BaseModel],
    read: Callable[[Any], dict[str, Any]],
    key: str = "number",
    field: str | None = None,
    context: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Validate every item of ``batch`` with ``model`` (``context`` goes to its
    validators: ``{"accounts": ...}`` for :func:`client_code_field`), turn each valid one into
    the values to write with ``read``, and check that no ``key`` appears twice (a fault
    on ``field``, the item's name for it, ``key`` by default). Raises
    :class:`~core.importing.ImportRejected` with every fault of the batch (``what``
    names an item that is not an object); else returns the values in order."""
    if not isinstance(batch, list):
        raise ImportRejected([Fault(0, f"{what}s", "must be a list")])
    faults: list[Fault] = []
    rows, seen = [], {}
    for number, raw in enumerate(batch, start=1):
        item = validate_item(model, raw, number, what, faults, context)
        if item is None:
            continue
        values = read(item)
        if values[key] in seen:
            faults.append(Fault(number, field or key, f"already in row {seen[values[key]]}"))
            continue
        seen[values[key]] = number
        rows.append(values)
    if faults:
        raise ImportRejected(faults)
    return rows


def validate_item(
    model: type[BaseModel],
    raw: Any,
    row: int,
    what: str,
    faults: list[Fault],
    context: dict[str, Any] | None = None,
) -> BaseModel | None:
    """``raw`` (the item of ``row``) validated with ``model``, or ``None`` with its
    faults added to ``faults``."""
    try:
        return model.model_validate(raw, context=context)
    except ValidationError as error:
        faults += faults_of(error, row, what)
        return None
