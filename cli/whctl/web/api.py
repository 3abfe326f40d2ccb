"""The REST API under /api/v1: JSON twins of every section of the dashboard."""
from __future__ import annotations

from datetime import date, timedelta

from flask import Blueprint, current_app, jsonify, request

from whctl import health, quality
from whctl.web import openapi, reads
from whctl.web.errors import ApiError, bounded_int, check_params, choice_arg, date_arg, int_arg

blueprint = Blueprint("api", __name__)
blueprint.teardown_app_request(reads.close_warehouse)

MAX_LIMIT = 1000
MAX_RANGE_DAYS = 3660
MAX_MINUTES = 48 * 60          # what ops.prune_apply_batches keeps


@blueprint.get("/")
def index():
    check_params()
    return jsonify(endpoints=["/api/v1" + path for path in openapi.PATHS] + ["/api/v1/openapi.json"])


@blueprint.get("/openapi.json")
def openapi_document():
    check_params()
    return jsonify(openapi.DOCUMENT)


@blueprint.get("/health")
def get_health():
    """The checks of `whctl status`: same verdicts, same exit-code meaning (0 ok, 2 degraded, 1 failing)."""
    check_params()
    return jsonify(health.status(current_app.extensions["whctl"]["settings"]))


@blueprint.get("/pipeline")
def get_pipeline():
    check_params("minutes")
    return jsonify(reads.pipeline(int_arg("minutes", 180, 1, MAX_MINUTES)))


@blueprint.get("/latency")
def get_latency():
    """p50/p95 of each stage (source commit -> Kafka append -> landed -> applied) over the last minutes."""
    check_params("minutes")
    return jsonify(health.stage_latency(reads.warehouse(), window_s=60 * int_arg("minutes", 2, 1, MAX_MINUTES)))


@blueprint.get("/quarantine")
def get_quarantine():
    check_params("limit")
    return jsonify(reads.quarantine(int_arg("limit", 20, 1, MAX_LIMIT)))


@blueprint.get("/incidents")
def get_incidents():
    check_params("state", "limit")
    return jsonify(reads.incidents(choice_arg("state", "all", ("open", "all")), int_arg("limit", 20, 1, MAX_LIMIT)))


@blueprint.get("/quality")
def get_quality():
    """The checks of `whctl verify` as its last run recorded them."""
    check_params()
    return jsonify(quality.latest(reads.warehouse()))


@blueprint.get("/kpis")
def list_kpis():
    check_params()
    return jsonify(kpis=reads.kpi_catalogue())


@blueprint.get("/kpis/<kpi_id>")
def get_kpi(kpi_id: str):
    check_params("from", "to", "limit")
    limit = int_arg("limit", 10, 1, MAX_LIMIT)
    if kpi_id in reads.VIEW_KPIS:
        for name in ("from", "to"):
            if name in request.args:
                raise ApiError(f"{kpi_id} is a type-7 view over every fact: it takes no date range", name)
        return jsonify(reads.kpi(kpi_id, None, None, limit))
    end = date_arg("to", date.today())
    start = date_arg("from", end - timedelta(days=30))
    if start > end:
        raise ApiError(f"the date range is backwards: from {start} is after to {end}", "from")
    if (end - start).days > MAX_RANGE_DAYS:
        raise ApiError(f"the date range spans more than {MAX_RANGE_DAYS} days", "from")
    return jsonify(reads.kpi(kpi_id, start, end, limit))


def _natural_key(raw: str) -> int:
    return bounded_int(raw, "id")


@blueprint.get("/customers/<raw_id>/versions")
def customer_versions(raw_id: str):
    check_params("limit")
    return jsonify(reads.versions("customer", _natural_key(raw_id), int_arg("limit", 100, 1, MAX_LIMIT)))


@blueprint.get("/products/<raw_id>/versions")
def product_versions(raw_id: str):
    check_params("limit")
    return jsonify(reads.versions("product", _natural_key(raw_id), int_arg("limit", 100, 1, MAX_LIMIT)))


@blueprint.get("/orders/<raw_id>")
def get_order(raw_id: str):
    check_params()
    return jsonify(reads.order(_natural_key(raw_id)))
