"""JSON errors with a stable code and a human message."""
from __future__ import annotations

from flask import jsonify
from werkzeug.exceptions import HTTPException


class ApiError(Exception):
    """An answer with ``status`` and the error shape; ``field`` names the input at fault, when one is (the
    validation layer, api/validation.py: ``ops[0].seq``; ``""`` for the body as a whole)."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field


def error_response(status: int, code: str, message: str, field: str | None = None):
    error = {"code": code, "message": message} if field is None else {"code": code, "message": message, "field": field}
    return jsonify(error=error), status


def init_app(app) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        return error_response(exc.status, exc.code, exc.message, exc.field)

    from library_kiosk.central.upstream.base import UpstreamError, UpstreamUnavailable

    @app.errorhandler(UpstreamUnavailable)
    def _upstream_away(exc: UpstreamUnavailable):  # on any route: the library system did not answer
        app.logger.warning("library system unavailable: %s", exc.message)
        return error_response(503, "upstream_unavailable",
                              "The library system cannot be reached just now. Try again in a moment.")

    @app.errorhandler(UpstreamError)
    def _upstream_refused(exc: UpstreamError):  # on any route: it answered, but not with what we asked
        app.logger.warning("library system error %s: %s", exc.code, exc.message)
        return error_response(502, exc.code or "upstream_error",
                              exc.message or "The library system gave an answer the central store could not use.")

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        code = (exc.name or "error").lower().replace(" ", "_")  # 413: request_entity_too_large ([central] limit)
        response, status = error_response(exc.code or 500, code, exc.description or exc.name)
        for name, value in exc.get_headers():  # a 405's Allow (RFC 9110), a 401's WWW-Authenticate...
            if name.lower() != "content-type":
                response.headers[name] = value
        return response, status

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        if connection_lost(exc):  # a PostgreSQL backend killed or restarted: expected, one line, retried
            app.logger.warning("database connection lost, request refused (the client retries): %s",
                               str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__)
            _drop_connection()
            return error_response(503, "database_unavailable",
                                  "The central store's database connection was lost. Try again in a moment.")
        app.logger.exception("unexpected error")
        return error_response(500, "internal_error", "The central store could not complete the request.")


LOST = ("terminating connection", "server closed the connection", "connection already closed",
        "connection to server", "could not connect to server", "ssl connection has been closed",
        "the connection is closed", "cursor already closed", "connection not open")


def connection_lost(exc: BaseException) -> bool:
    """Whether ``exc`` is the database connection gone (a PostgreSQL backend killed, the server restarted), not a
    bug: peewee's ``OperationalError``/``InterfaceError`` with psycopg2's words for it."""
    import peewee

    return isinstance(exc, (peewee.OperationalError, peewee.InterfaceError)) and any(
        words in str(exc).lower() for words in LOST)


def _drop_connection() -> None:
    """Close this request's broken connection for good, so the pool never hands it out again (the next request
    takes a new one): peewee's pool would otherwise keep a connection whose backend is gone."""
    from library_kiosk.central.store.db import database

    try:
        if not database.is_closed():
            manual = getattr(database.obj, "manual_close", None)
            (manual or database.close)()
    except Exception:  # (already unusable: nothing more to give back)
        pass
