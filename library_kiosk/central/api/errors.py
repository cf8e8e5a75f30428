"""JSON errors with a stable code and a human message."""
from __future__ import annotations

from flask import jsonify, request
from werkzeug.exceptions import HTTPException


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def int_arg(name: str, default: int, low: int, high: int) -> int:
    """A whole-number query parameter within [low, high], or a 400 saying what is wrong."""
    raw = request.args.get(name, default)
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise ApiError(400, "invalid_parameter", f"{name} must be a whole number.") from None
    if not low <= value <= high:
        raise ApiError(400, "invalid_parameter", f"{name} must be between {low} and {high}.")
    return value


def error_response(status: int, code: str, message: str):
    return jsonify(error={"code": code, "message": message}), status


def init_app(app) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        return error_response(exc.status, exc.code, exc.message)

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
        code = (exc.name or "error").lower().replace(" ", "_")
        return error_response(exc.code or 500, code, exc.description or exc.name)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        app.logger.exception("unexpected error")
        return error_response(500, "internal_error", "The central store could not complete the request.")
