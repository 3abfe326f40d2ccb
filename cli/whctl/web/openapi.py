"""The OpenAPI 3.1 document of /api/v1 (served at /api/v1/openapi.json; a test validates real
responses against it)."""
from __future__ import annotations

from whctl import __version__
from whctl.health import STAGES


def _obj(required: list[str], **props) -> dict:
    return {"type": "object", "required": required, "properties": props}


NUM = {"type": ["number", "null"]}
TIME = {"type": "string", "format": "date-time"}
TIME_OR_NULL = {"type": ["string", "null"]}
STR_OR_NULL = {"type": ["string", "null"]}
VERDICT = {"type": "string", "enum": ["ok", "warn", "fail"]}

SCHEMAS = {
    "Error": _obj(["error"], error={"type": "string"}, parameter={"type": "string"}),
    "Check": _obj(["name", "verdict", "detail"], name={"type": "string"}, verdict=VERDICT, detail={"type": ["string", "null"]}),
    "Health": _obj(["healthy", "verdict", "exit_code", "checks"], healthy={"type": "boolean"}, verdict=VERDICT,
                   exit_code={"type": "integer", "enum": [0, 1, 2], "description": "as `whctl status`: 0 healthy, 2 degraded, 1 failing"},
                   checked_at=TIME, checks={"type": "array", "items": {"$ref": "#/components/schemas/Check"}}),
    "Pipeline": _obj(["minutes", "series", "totals"], minutes={"type": "integer"},
                     series={"type": "array", "items": _obj(
                         ["minute", "batches", "events", "quarantined", "latency_min_s", "latency_max_s", "heartbeat_lag_s"],
                         minute=TIME, batches={"type": "integer"}, events={"type": "integer"}, quarantined={"type": "integer"},
                         latency_min_s={**NUM, "description": "apply time minus the newest source commit time of a batch"},
                         latency_max_s={**NUM, "description": "apply time minus the oldest source commit time of a batch"},
                         heartbeat_lag_s={**NUM, "description": "the connector's heartbeats: landing time minus source commit time (max)"})},
                     totals={"type": "array", "items": _obj(
                         ["landing_table", "batches", "events", "quarantined", "last_applied_at"],
                         landing_table={"type": "string"}, batches={"type": "integer"}, events={"type": "integer"},
                         quarantined={"type": "integer"}, last_applied_at=TIME_OR_NULL)}),
    "Latency": _obj(["window_s", "batches", "events", "stages", "slowest", "newest_batch_s", "newest_batch_age_s"], window_s={"type": "number"},
                    batches={"type": "integer", "description": "the newest applied batches read"},
                    events={"type": "integer", "description": "their events (the newest batches covering about 2,000)"},
                    stages=_obj(list(STAGES), **{st: _obj(["p50_s", "p95_s"], p50_s=NUM, p95_s=NUM) for st in STAGES}),
                    slowest={"type": ["string", "null"], "enum": [*STAGES[:-1], None],
                             "description": "the stage with the highest p95 (end to end aside)"},
                    newest_batch_s={**NUM, "description": "end to end of the oldest event of the newest batch"},
                    newest_batch_age_s={**NUM, "description": "seconds since the newest batch was applied"}),
    "Quarantine": _obj(["total", "by_reason", "events"], total={"type": "integer"},
                       by_reason={"type": "array", "items": _obj(["landing_table", "reason", "events", "last_at"],
                                                                 landing_table={"type": "string"}, reason={"type": "string"},
                                                                 events={"type": "integer"}, last_at=TIME)},
                       events={"type": "array", "items": _obj(
                           ["quarantine_id", "landing_table", "landing_id", "reason", "quarantined_at", "event"],
                           quarantine_id={"type": "integer"}, landing_table={"type": "string"}, landing_id={"type": "integer"},
                           reason={"type": "string"}, quarantined_at=TIME, event={"type": "object"})}),
    "Incidents": _obj(["open", "incidents"], open={"type": "integer"}, incidents={"type": "array", "items": _obj(
        ["incident_id", "opened_at", "component", "cause", "action", "resolved_at", "recovered_after_s", "detail"],
        incident_id={"type": "integer"}, opened_at=TIME, component={"type": "string"}, cause={"type": "string"},
        action=STR_OR_NULL, resolved_at=TIME_OR_NULL, recovered_after_s=NUM, detail={"type": "object"})}),
    "Quality": _obj(["checked_at", "verdict", "checks"], checked_at=TIME_OR_NULL,
                    verdict={"type": ["string", "null"], "enum": ["ok", "warn", "fail", None]},
                    checks={"type": "array", "items": _obj(["name", "verdict", "detail", "checked_at", "result"],
                                                           name={"type": "string"}, verdict=VERDICT, detail={"type": "string"},
                                                           checked_at=TIME, result={"type": "object"})}),
    "KpiList": _obj(["kpis"], kpis={"type": "array", "items": _obj(
        ["id", "name", "kind", "parameters"], id={"type": "string"}, name={"type": "string"},
        kind={"type": "string", "enum": ["proposal query", "type-7 view"]}, parameters={"type": "array", "items": {"type": "string"}})}),
    "Kpi": _obj(["id", "name", "from", "to", "limit", "columns", "rows"], id={"type": "string"}, name={"type": "string"},
                **{"from": {"type": ["string", "null"], "format": "date"}}, to={"type": ["string", "null"], "format": "date"},
                limit={"type": "integer"}, columns={"type": "array", "items": {"type": "string"}},
                rows={"type": "array", "items": {"type": "object"}}),
    "OrderLine": _obj(["order_id", "order_item_id", "order_date", "order_status", "quantity", "unit_price", "line_total"],
                      order_id={"type": "integer"}, order_item_id={"type": "integer"}, order_date=TIME_OR_NULL,
                      order_status=STR_OR_NULL, quantity={"type": "integer"}, unit_price={"type": "number"},
                      line_total={"type": "number"}),
    "Version": _obj(["version", "valid_from", "valid_to", "is_current", "is_inferred", "orders"],
                    version={"type": "integer"}, valid_from={"type": "string"}, valid_to={"type": "string"},
                    is_current={"type": "boolean"}, is_inferred={"type": "boolean"},
                    orders={"type": "array", "items": {"$ref": "#/components/schemas/OrderLine"}}),
    "CustomerVersions": _obj(["customer_id", "versions", "orders_per_version_limit"], customer_id={"type": "integer"},
                             versions={"type": "array", "items": {"allOf": [
                                 {"$ref": "#/components/schemas/Version"}, _obj(["customer_key", "city", "country"],
                                                                                customer_key={"type": "integer"})]}},
                             orders_per_version_limit={"type": "integer"}),
    "ProductVersions": _obj(["product_id", "versions", "orders_per_version_limit"], product_id={"type": "integer"},
                            versions={"type": "array", "items": {"allOf": [
                                {"$ref": "#/components/schemas/Version"}, _obj(["product_key", "product_name", "price"],
                                                                               product_key={"type": "integer"}, price=NUM)]}},
                            orders_per_version_limit={"type": "integer"}),
    "Order": _obj(["order_id", "order_date", "order_status", "total", "lines"], order_id={"type": "integer"},
                  order_date=TIME_OR_NULL, order_status=STR_OR_NULL, total={"type": "number"},
                  lines={"type": "array", "items": _obj(
                      ["order_item_id", "quantity", "unit_price", "line_total", "customer_version", "product_version"],
                      order_item_id={"type": "integer"}, quantity={"type": "integer"}, unit_price={"type": "number"},
                      line_total={"type": "number"},
                      customer_version=_obj(["customer_key", "customer_id", "version", "valid_from", "valid_to"],
                                            customer_key={"type": "integer"}, version={"type": "integer"}),
                      product_version=_obj(["product_key", "product_id", "version", "valid_from", "valid_to", "price"],
                                           product_key={"type": "integer"}, version={"type": "integer"}, price=NUM))}),
    "Index": _obj(["endpoints"], endpoints={"type": "array", "items": {"type": "string"}}),
}


def _param(name: str, where: str, schema: dict, description: str, required: bool = False) -> dict:
    return {"name": name, "in": where, "required": required or where == "path", "schema": schema, "description": description}


LIMIT = _param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 1000}, "rows at most")
ID = _param("id", "path", {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}, "the natural key (source id)")


def _get(summary: str, schema: str, parameters: list | None = None, errors: tuple[int, ...] = (400,)) -> dict:
    responses = {"200": {"description": "OK", "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}}
    for code in (*errors, 401, 503):
        responses[str(code)] = {"description": {400: "bad parameter (named in `parameter`)", 401: "token missing or wrong",
                                                404: "not found", 503: "the warehouse or pipeline is unreachable"}[code],
                                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    return {"get": {"summary": summary, "parameters": parameters or [], "responses": responses}}


PATHS = {
    "/": _get("the endpoints of this API", "Index"),
    "/health": _get("the checks of `whctl status` (same verdicts; exit_code as its exit status)", "Health"),
    "/pipeline": _get("events applied and end-to-end latency per minute, and totals per landing table", "Pipeline",
                      [_param("minutes", "query", {"type": "integer", "minimum": 1, "maximum": 2880}, "minutes back from now")]),
    "/latency": _get("p50/p95 seconds of each stage (source commit -> Kafka append -> landed -> applied) over the last minutes",
                     "Latency", [_param("minutes", "query", {"type": "integer", "minimum": 1, "maximum": 2880},
                                        "minutes back from now (default 2)")]),
    "/quarantine": _get("events the engine set aside, by reason, newest first", "Quarantine", [LIMIT]),
    "/incidents": _get("the supervisor's incidents (ops.incidents), newest first", "Incidents",
                       [_param("state", "query", {"type": "string", "enum": ["open", "all"]}, "only open ones, or all"), LIMIT]),
    "/quality": _get("the checks of `whctl verify`, as its last run recorded them", "Quality"),
    "/kpis": _get("the KPI queries and type-7 views", "KpiList"),
    "/kpis/{kpi}": _get("one KPI's rows", "Kpi", [
        _param("kpi", "path", {"type": "string"}, "a KPI id from /kpis"),
        _param("from", "query", {"type": "string", "format": "date"}, "first order date (proposal queries; default 30 days before `to`)"),
        _param("to", "query", {"type": "string", "format": "date"}, "last order date (proposal queries; default today)"),
        {**LIMIT, "description": "rows at most (default 10)"}], errors=(400, 404)),
    "/customers/{id}/versions": _get("every version of a customer, with the orders placed under each", "CustomerVersions",
                                     [ID, {**LIMIT, "description": "order lines per version at most"}], errors=(400, 404)),
    "/products/{id}/versions": _get("every version of a product, with the order lines placed under each", "ProductVersions",
                                    [ID, {**LIMIT, "description": "order lines per version at most"}], errors=(400, 404)),
    "/orders/{id}": _get("an order's facts with the customer and product versions they point to", "Order", [ID], errors=(400, 404)),
}

DOCUMENT = {
    "openapi": "3.1.0",
    "info": {"title": "whctl warehouse API", "version": __version__,
             "description": "Read-only: pipeline health, the pipeline over time, quarantine, incidents, data quality, "
                            "business metrics and version history of the CDC-fed warehouse."},
    "servers": [{"url": "/api/v1"}],
    "components": {"schemas": SCHEMAS,
                   "securitySchemes": {"token": {"type": "http", "scheme": "bearer",
                                                 "description": "required when served off loopback (WH_SERVE_TOKEN)"}}},
    "paths": PATHS,
}
