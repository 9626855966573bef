"""Per-request plumbing: the request id, and strict JSON body decoding.

Litestar converts bodies in lax mode (``"50"`` would become ``50``); a public API should say
a string is not an integer, so ``StrictRequest`` decodes JSON straight into the handler's
msgspec model with ``strict=True`` and reports each bad field. The model is resolved once per
route handler and cached.
"""

from __future__ import annotations

import re
import uuid
import weakref
from typing import Any

import msgspec
from litestar import Request
from litestar.exceptions import ClientException, HTTPException, ValidationException
from litestar.types import Message, Scope

REQUEST_ID_HEADER = "x-request-id"
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{8,128}$")
_STATE_KEY = "trellis_request_id"
_MSGSPEC_PATH = re.compile(r" - at `\$(?P<path>[^`]*)`$")
_MSGSPEC_NAMED_FIELD = re.compile(r"^Object (?:missing required|contains unknown) field `(?P<name>[^`]+)`$")


def request_id(scope: Scope) -> str:
    """The request's id: the client's ``X-Request-ID`` when sane, else a new one (cached)."""
    state = scope.setdefault("state", {})
    found = state.get(_STATE_KEY)
    if found is not None:
        return str(found)
    chosen = None
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            candidate = value.decode("latin-1")
            if _SANE_REQUEST_ID.match(candidate):
                chosen = candidate
            break
    state[_STATE_KEY] = chosen = chosen or uuid.uuid4().hex
    return chosen


async def add_request_id_header(message: Message, scope: Scope) -> None:
    """``before_send`` hook: every response, errors and 404s included, names its request id."""
    if message["type"] == "http.response.start":
        headers = list(message.get("headers", ()))
        headers.append((b"x-request-id", request_id(scope).encode("latin-1")))
        message["headers"] = headers


# Keyed by the handler object itself, weakly: an ``id()`` key outlives its handler, and CPython
# hands that id to a later object, so a new app's handler could get a dead handler's model.
_body_models: weakref.WeakKeyDictionary[Any, type[msgspec.Struct] | None] = weakref.WeakKeyDictionary()


def _body_model(request: Request[Any, Any, Any]) -> type[msgspec.Struct] | None:
    handler = request.route_handler
    if handler not in _body_models:
        data = handler.parsed_fn_signature.parameters.get("data")
        annotation = data.annotation if data is not None else None
        is_struct = isinstance(annotation, type) and issubclass(annotation, msgspec.Struct)
        _body_models[handler] = annotation if is_struct else None
    return _body_models[handler]


def _field_of(message: str) -> tuple[str, str]:
    match = _MSGSPEC_PATH.search(message)
    path, text = (match.group("path"), message[: match.start()]) if match else ("", message)
    parts = [p for p in re.split(r"\.|\[(\d+)\]", path) if p]
    # msgspec names a missing or unknown key in the message, at the path of the object holding it.
    if named := _MSGSPEC_NAMED_FIELD.match(text):
        parts.append(named.group("name"))
    return ".".join(["body", *parts]), text


def _integral(value: Any) -> Any:
    """``value`` with every float that has no fraction (``85.0``) made an int."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_integral(item) for item in value]
    if isinstance(value, dict):
        return {key: _integral(item) for key, item in value.items()}
    return value


_INT_GOT_FLOAT = re.compile(r"Expected `int(?: \| null)?`, got `float`")  # an optional int too


def _decode(body: bytes, model: type[msgspec.Struct]) -> msgspec.Struct:
    """Strict decoding, except that an integer may be written ``85.0``.

    JSON has one number type and JSON Schema counts ``85.0`` as an integer, so the OpenAPI
    document accepts it for ``progress``; strict msgspec refused it ("Expected `int`, got
    `float`"). Only that refusal is retried, with integral floats made ints; strings still never
    become numbers.
    """
    try:
        return msgspec.json.decode(body, type=model, strict=True)
    except msgspec.ValidationError as exc:
        if not _INT_GOT_FLOAT.search(str(exc)):
            raise
        return msgspec.convert(_integral(msgspec.json.decode(body)), type=model, strict=True)


class StrictRequest(Request[Any, Any, Any]):
    async def json(self) -> Any:
        model = _body_model(self)
        if model is None:
            return await super().json()
        if isinstance(self._json, model):
            return self._json
        media_type = self.content_type[0]
        if media_type != "application/json" and not media_type.endswith("+json"):
            raise HTTPException(
                status_code=415,
                detail="Send the body as JSON with Content-Type: application/json.",
            )
        body = await self.body()
        if not body.strip():
            raise ValidationException(
                detail="The request body is empty; a JSON object is required.",
                extra=[{"key": "body", "message": "a JSON object is required", "source": "body"}],
            )
        try:
            value = _decode(body, model)
        except msgspec.ValidationError as exc:
            field, text = _field_of(str(exc))
            raise ValidationException(
                detail="The request body is not valid.",
                extra=[{"key": field, "message": text, "source": "body"}],
            ) from None
        except msgspec.DecodeError:
            raise ClientException("The request body is not valid JSON.") from None
        self._json = self._connection_state.json = value
        return value
