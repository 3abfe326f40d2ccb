"""The REST API of `whctl serve` with Flask's test client over a real warehouse: every endpoint, the
OpenAPI document against the real responses, bad input, the token rule, read-only by the database."""
from __future__ import annotations

import re
from datetime import timedelta

import jsonschema
import psycopg
import pytest
from openapi_spec_validator import validate as validate_spec
from prometheus_client.parser import text_string_to_metric_families

from whctl import health
from whctl.output import WhctlError
from whctl.web import create_app, openapi, reads

# One real request per documented path (the test below checks none is missing).
EXAMPLES = {
    "/": "/api/v1/",
    "/health": "/api/v1/health",
    "/pipeline": "/api/v1/pipeline?minutes=60",
    "/latency": "/api/v1/latency?minutes=5",
    "/quarantine": "/api/v1/quarantine?limit=5",
    "/incidents": "/api/v1/incidents?state=all",
    "/quality": "/api/v1/quality",
    "/kpis": "/api/v1/kpis",
    "/kpis/{kpi}": "/api/v1/kpis/daily-revenue",
    "/customers/{id}/versions": "/api/v1/customers/1/versions",
    "/products/{id}/versions": "/api/v1/products/10/versions",
    "/orders/{id}": "/api/v1/orders/101",
}


def _validate(document: dict, path: str, status: int, body) -> None:
    schema = document["paths"][path]["get"]["responses"][str(status)]["content"]["application/json"]["schema"]
    jsonschema.validate(body, {**schema, "components": document["components"]},
                        cls=jsonschema.Draft202012Validator, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def test_the_openapi_document_is_valid_and_documents_every_route(client, app):
    document = client.get("/api/v1/openapi.json").get_json()
    validate_spec(document)
    routes = {re.sub(r"<(?:raw_id|kpi_id)>", lambda m: "{id}" if m[0] == "<raw_id>" else "{kpi}", r.rule).removeprefix("/api/v1") or "/"
              for r in app.url_map.iter_rules() if r.endpoint.startswith("api.") and r.endpoint != "api.openapi_document"}
    assert routes == set(document["paths"]) == set(EXAMPLES)


@pytest.mark.parametrize("path", sorted(EXAMPLES))
def test_every_endpoint_answers_as_documented(client, history, path):
    response = client.get(EXAMPLES[path])
    assert response.status_code == 200, response.get_json()
    assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")
    _validate(client.get("/api/v1/openapi.json").get_json(), path, 200, response.get_json())


def test_health_is_the_status_model(client, settings):
    body = client.get("/api/v1/health").get_json()
    expected = health.status(settings)
    assert [(c["name"], c["verdict"]) for c in body["checks"]] == [(c["name"], c["verdict"]) for c in expected["checks"]]
    # Connect and the source are unreachable here: failing, exit code 1 as `whctl status` exits
    assert (body["verdict"], body["exit_code"], body["healthy"]) == ("fail", 1, False)


def test_latency_gives_each_stage_of_the_applied_batches(client, history):
    body = client.get("/api/v1/latency?minutes=5").get_json()
    # every event the history landed, read as the analyst; they were committed days ago and landed
    # without a Kafka record time (straight into landing), so only the landed stages are known
    assert (body["window_s"], body["events"]) == (300, 13)
    stages = body["stages"]
    assert stages["end_to_end"]["p50_s"] > 86400 and stages["landed_to_applied"]["p95_s"] < 60
    assert stages["source_to_kafka"] == stages["kafka_to_landed"] == {"p50_s": None, "p95_s": None}
    assert body["slowest"] == "landed_to_applied"
    assert client.get("/api/v1/latency?minutes=0").status_code == 400


def test_pipeline_counts_the_batches_the_engine_applied(client, history, warehouse_dsn):
    body = client.get("/api/v1/pipeline?minutes=30").get_json()
    assert len(body["series"]) == 30
    with psycopg.connect(warehouse_dsn) as wh:
        applied, quarantined = wh.execute("SELECT sum(events), sum(quarantined) FROM ops.apply_stats").fetchone()
    assert sum(m["events"] for m in body["series"]) == applied == 13
    assert sum(m["quarantined"] for m in body["series"]) == quarantined == 1
    busy = [m for m in body["series"] if m["events"]]
    # the landed events were committed days ago: the latency says so
    assert all(m["latency_max_s"] > 86400 for m in busy)
    lags = [m["heartbeat_lag_s"] for m in body["series"] if m["heartbeat_lag_s"] is not None]
    assert len(lags) == 1 and 1.5 <= lags[0] < 60
    assert {t["landing_table"]: t["events"] for t in body["totals"]} == {"customers": 3, "products": 3, "orders": 3, "order_items": 4}


def test_quarantine_incidents_and_quality(client, history):
    q = client.get("/api/v1/quarantine").get_json()
    assert q["total"] == 1 and q["events"][0]["landing_table"] == "order_items" and "order_item_id" in q["events"][0]["reason"]
    i = client.get("/api/v1/incidents?state=open").get_json()
    assert i == {"open": 0, "incidents": []}
    assert client.get("/api/v1/incidents").get_json()["incidents"][0]["action"] == "restarted the task"
    quality = client.get("/api/v1/quality").get_json()
    assert quality["verdict"] == "fail"
    assert {c["name"]: c["verdict"] for c in quality["checks"]} == {"fact keys resolve": "ok", "order lines reconcile": "fail"}
    assert quality["checks"][1]["result"]["failures"] == 1


def test_history_of_a_customer_and_a_product_with_their_orders(client, history):
    c = client.get("/api/v1/customers/1/versions").get_json()
    assert [(v["version"], v["city"], [o["order_id"] for o in v["orders"]]) for v in c["versions"]] == [
        (1, "London", [100]), (2, "Paris", [101, 101])]
    assert c["versions"][1]["valid_from"] == history["moved"].isoformat()
    p = client.get("/api/v1/products/10/versions").get_json()
    assert [(v["version"], v["price"], [o["order_item_id"] for o in v["orders"]]) for v in p["versions"]] == [
        (1, 20, [1000]), (2, 25, [1001])]
    o = client.get("/api/v1/orders/101").get_json()
    assert o["total"] == 40
    assert [(line["order_item_id"], line["product_version"]["version"], line["product_version"]["price"],
             line["customer_version"]["city"]) for line in o["lines"]] == [(1001, 2, 25, "Paris"), (1002, 1, 5, "Paris")]


def test_kpis_run_the_proposal_queries_and_the_type_7_views(client, history):
    listed = [k["id"] for k in client.get("/api/v1/kpis").get_json()["kpis"]]
    assert listed == [*reads.PROPOSAL_KPIS, *reads.VIEW_KPIS]
    for kpi in listed:
        assert client.get(f"/api/v1/kpis/{kpi}").status_code == 200, kpi
    revenue = client.get("/api/v1/kpis/daily-revenue").get_json()
    # the last 30 days by default: orders 100 (19 days ago, 40) and 101 (2 days ago, 40)
    assert [(r["num_orders"], r["daily_revenue"]) for r in revenue["rows"]] == [(1, 40), (1, 40)]
    since = (history["now"] - timedelta(days=10)).date()
    recent = client.get(f"/api/v1/kpis/daily-revenue?from={since}").get_json()
    assert [r["date"] for r in recent["rows"]] == [(history["now"] - timedelta(days=2)).date().isoformat()]
    top = client.get("/api/v1/kpis/product-sales?limit=1").get_json()
    assert [(r["product_id"], r["units_sold"], r["revenue"]) for r in top["rows"]] == [(10, 3, 65)]


BAD = [
    ("/api/v1/customers/abc/versions", 400, "id"),
    ("/api/v1/customers/1;DROP TABLE dw.fact_orders/versions", 400, "id"),
    ("/api/v1/products/0/versions", 400, "id"),
    ("/api/v1/orders/99999999999", 400, "id"),
    ("/api/v1/orders/-5", 400, "id"),
    ("/api/v1/customers/1/versions?limit=1000000", 400, "limit"),
    ("/api/v1/customers/424242/versions", 404, "id"),
    ("/api/v1/orders/424242", 404, "id"),
    ("/api/v1/kpis/revenue-by-magic", 404, "kpi"),
    ("/api/v1/kpis/daily-revenue?from=2025-02-01&to=2025-01-01", 400, "from"),
    ("/api/v1/kpis/daily-revenue?from=yesterday", 400, "from"),
    ("/api/v1/kpis/daily-revenue?to=2025-13-01", 400, "to"),
    ("/api/v1/kpis/daily-revenue?from=1900-01-01&to=2025-01-01", 400, "from"),
    ("/api/v1/kpis/top-products?limit=1000000", 400, "limit"),
    ("/api/v1/kpis/top-products?limit=ten", 400, "limit"),
    ("/api/v1/kpis/product-sales?from=2025-01-01", 400, "from"),
    ("/api/v1/pipeline?minutes=0", 400, "minutes"),
    ("/api/v1/pipeline?minutes=100000", 400, "minutes"),
    ("/api/v1/quarantine?limit=-1", 400, "limit"),
    ("/api/v1/incidents?state=closed", 400, "state"),
    ("/api/v1/health?verbose=1", 400, "verbose"),
]


@pytest.mark.parametrize("url,status,parameter", BAD)
def test_bad_input_gets_a_4xx_naming_the_parameter(client, history, url, status, parameter):
    response = client.get(url)
    body = response.get_json()
    assert (response.status_code, body["parameter"]) == (status, parameter), body
    assert "Traceback" not in response.get_data(as_text=True)
    jsonschema.validate(body, openapi.SCHEMAS["Error"])


def test_an_unknown_path_is_a_json_404(client):
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404 and "error" in response.get_json()


def test_a_stopped_warehouse_is_a_503_not_a_trace(settings):
    client = create_app(settings.with_overrides(warehouse_dsn="postgresql://postgres@127.0.0.1:1/none")).test_client()
    response = client.get("/api/v1/quarantine")
    assert response.status_code == 503 and "cannot connect to the warehouse" in response.get_json()["error"]
    # nothing answers at all: health says so, as `whctl status` does, without a trace
    response = client.get("/api/v1/health")
    assert response.status_code == 503 and response.get_json()["error"].startswith("the pipeline is down")


def test_off_loopback_a_token_is_required(settings):
    with pytest.raises(WhctlError, match="WH_SERVE_TOKEN"):
        create_app(settings.with_overrides(serve_host="0.0.0.0"))
    client = create_app(settings.with_overrides(serve_host="0.0.0.0", serve_token="s3cret-token-for-test")).test_client()
    for url in ("/api/v1/kpis", "/", "/metrics", "/api/v1/openapi.json"):
        assert client.get(url).status_code == 401, url
        assert client.get(url, headers={"Authorization": "Bearer wrong"}).status_code == 401, url
    denied = client.get("/api/v1/kpis")
    assert denied.get_json()["parameter"] == "token" and denied.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/api/v1/kpis", headers={"Authorization": "Bearer s3cret-token-for-test"}).status_code == 200
    assert client.get("/?token=s3cret-token-for-test").status_code == 200
    # on loopback no token is asked
    assert create_app(settings).test_client().get("/api/v1/kpis").status_code == 200


def test_the_apps_connection_cannot_write(app, history):
    with app.test_request_context():
        conn = reads.warehouse()
        assert conn.info.user == "wh_analyst"
        conn.execute("SET default_transaction_read_only = off")   # the role itself must refuse, not only this setting
        for statement in ("DELETE FROM dw.fact_orders", "INSERT INTO ops.incidents (component, cause) VALUES ('x', 'y')",
                          "UPDATE ops.quality_results SET verdict = 'ok'", "INSERT INTO landing.customers (customer_id) VALUES (1)",
                          "CREATE TABLE dw.scratch (x int)"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
        reads.close_warehouse()


def test_the_page_loads_only_from_this_server(client):
    response = client.get("/")
    assert response.status_code == 200
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "connect-src 'self'" in csp and "unsafe-inline" not in csp
    html = response.get_data(as_text=True)
    references = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert references and all(r.startswith("/") or r.startswith("data:") for r in references), references
    for asset in (r for r in references if r.startswith("/static/")):
        assert client.get(asset).status_code == 200, asset


def test_metrics_expose_health_and_the_engines_counters(client, history):
    response = client.get("/metrics")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(response.get_data(as_text=True)) for s in family.samples}
    assert samples[("whctl_up", ())] == 1
    assert samples[("whctl_health_verdict", ())] == 2 and samples[("whctl_health_exit_code", ())] == 1
    assert samples[("whctl_events_applied_total", (("landing_table", "order_items"),))] == 4
    assert samples[("whctl_events_quarantined_total", (("landing_table", "order_items"),))] == 1
    assert samples[("whctl_quarantine_events", ())] == 1
    assert samples[("whctl_check_verdict", (("check", "quarantine"),))] == 1
    assert samples[("whctl_check_value", (("check", "quarantine"), ("field", "quarantined")))] == 1
    # the stages of the history's batches: committed days ago, landed without a Kafka record time
    assert samples[("whctl_stage_latency_seconds", (("quantile", "0.5"), ("stage", "end_to_end")))] > 86400
    assert 0 <= samples[("whctl_stage_latency_seconds", (("quantile", "0.95"), ("stage", "landed_to_applied")))] < 60
    assert not any(name == "whctl_stage_latency_seconds" and dict(labels)["stage"] == "source_to_kafka" for name, labels in samples)
