"""`whctl serve`: the read-only monitoring dashboard and REST API (Flask application factory).

Datasette-style (style.md, practice 11): the page is a thin view over the JSON API, read-only by
construction (warehouse data is read as the analyst role, which cannot write), bad parameters get a
4xx naming the parameter. Health comes from `whctl.health.status`, the one health model.
No global state: everything an app needs hangs off the app made by `create_app(settings)`.
"""
from __future__ import annotations

import hmac

from flask import Flask, jsonify, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import HTTPException

from whctl.config import Settings, is_loopback
from whctl.output import WhctlError, json_default
from whctl.web import api, metrics, page
from whctl.web.errors import ApiError

# Everything the page needs comes from this server: no CDN, no inline script or style.
CONTENT_SECURITY_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                           "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


class _JSONProvider(DefaultJSONProvider):
    """ISO 8601 times and numbers for numerics, as `whctl … --json` prints them."""
    sort_keys = False

    @staticmethod
    def default(o):
        return json_default(o)


def create_app(settings: Settings) -> Flask:
    """The dashboard application for one warehouse and pipeline (settings as for every command)."""
    token = settings.serve_token
    if not is_loopback(settings.serve_host) and not token:
        raise WhctlError(f"serving on {settings.serve_host} (not loopback) requires a token",
                         hint="set WH_SERVE_TOKEN to a long random secret, or serve on 127.0.0.1")
    app = Flask(__name__)
    app.json = _JSONProvider(app)
    app.extensions["whctl"] = {"settings": settings, "token": token}
    app.register_blueprint(api.blueprint, url_prefix="/api/v1")
    app.register_blueprint(metrics.make_blueprint())
    app.register_blueprint(page.blueprint)

    if token:
        @app.before_request
        def _require_token():
            given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip() or request.args.get("token", "")
            if not hmac.compare_digest(given.encode(), token.encode()):
                response = jsonify(error="a valid token is required (Authorization: Bearer <token>, or ?token=)",
                                   parameter="token")
                response.status_code = 401
                response.headers["WWW-Authenticate"] = 'Bearer realm="whctl"'
                return response
            return None

    @app.after_request
    def _headers(response):
        response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        body = {"error": exc.message}
        if exc.parameter:
            body["parameter"] = exc.parameter
        return jsonify(body), exc.status

    @app.errorhandler(WhctlError)
    def _unavailable(exc: WhctlError):
        # a stopped database or Connect: say which, never a trace
        return jsonify(error=exc.message.splitlines()[0]), 503

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        return jsonify(error=exc.description or exc.name), exc.code

    @app.errorhandler(Exception)
    def _internal(exc: Exception):
        app.logger.exception("request failed: %s %s", request.method, request.path)
        return jsonify(error="internal error (see the server's log)"), 500

    return app
