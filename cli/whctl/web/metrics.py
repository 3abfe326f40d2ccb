"""/metrics in the Prometheus exposition format: health (the one model, every check), freshness,
replication-slot lag, events applied and quarantined. Collected at scrape time, into a registry of
this app's own (no process-global state)."""
from __future__ import annotations

from flask import Blueprint, Response, current_app
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from whctl import health
from whctl.output import WhctlError
from whctl.web import reads

VERDICT_VALUE = {"ok": 0, "warn": 1, "fail": 2}


class _Collector:
    def __init__(self, app):
        self.app = app

    def collect(self):
        settings = self.app.extensions["whctl"]["settings"]
        up = GaugeMetricFamily("whctl_up", "1 when health could be read (warehouse, source or Connect answered)")
        try:
            result = health.status(settings)
        except WhctlError:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        verdict = GaugeMetricFamily("whctl_health_verdict", "overall verdict of `whctl status`: 0 ok, 1 warn, 2 fail")
        verdict.add_metric([], VERDICT_VALUE[result["verdict"]])
        yield verdict
        exit_code = GaugeMetricFamily("whctl_health_exit_code", "the exit status `whctl status` would have (0 healthy, 2 degraded, 1 failing)")
        exit_code.add_metric([], result["exit_code"])
        yield exit_code
        per_check = GaugeMetricFamily("whctl_check_verdict", "each health check: 0 ok, 1 warn, 2 fail", labels=["check"])
        # every numeric value a check carries (freshness, slot lag, consumer lag, dead letters, ...):
        # checks added to the health model show up here without a change
        values = GaugeMetricFamily("whctl_check_value", "numeric values of the health checks", labels=["check", "field"])
        for check in result["checks"]:
            per_check.add_metric([check["name"]], VERDICT_VALUE[check["verdict"]])
            for field, value in check.items():
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    values.add_metric([check["name"], field], value)
        yield per_check
        yield values
        by_name = {c["name"]: c for c in result["checks"]}
        age = by_name.get("freshness", {}).get("heartbeat_age_s")
        if age is not None:
            freshness = GaugeMetricFamily("whctl_freshness_seconds", "age of the newest landed heartbeat (end-to-end freshness)")
            freshness.add_metric([], age)
            yield freshness
        lag = by_name.get("replication slot", {}).get("lag_bytes")
        if lag is not None:
            slot = GaugeMetricFamily("whctl_replication_slot_lag_bytes", "WAL the replication slot has not confirmed")
            slot.add_metric([], lag)
            yield slot
        stages = by_name.get("freshness by stage", {}).get("stages")
        if stages:
            latency = GaugeMetricFamily("whctl_stage_latency_seconds", "p50/p95 of each stage of the pipeline over the last"
                                        " minutes (source_to_kafka, kafka_to_landed, landed_to_applied, end_to_end)",
                                        labels=["stage", "quantile"])
            for stage, q in stages.items():
                for quantile, key in (("0.5", "p50_s"), ("0.95", "p95_s")):
                    if q[key] is not None:
                        latency.add_metric([stage, quantile], q[key])
            yield latency
        yield from self._warehouse()

    def _warehouse(self):
        with self.app.app_context():
            try:
                stats = reads.rows("SELECT landing_table, batches, events, quarantined FROM ops.apply_stats")
                waiting = reads.rows("SELECT count(*) AS n FROM ops.quarantine")[0]["n"]
            except WhctlError:
                return
            finally:
                reads.close_warehouse()
        events = CounterMetricFamily("whctl_events_applied", "change events the engine applied", labels=["landing_table"])
        batches = CounterMetricFamily("whctl_batches_applied", "batches the engine applied", labels=["landing_table"])
        quarantined = CounterMetricFamily("whctl_events_quarantined", "events the engine set aside", labels=["landing_table"])
        for s in stats:
            events.add_metric([s["landing_table"]], s["events"])
            batches.add_metric([s["landing_table"]], s["batches"])
            quarantined.add_metric([s["landing_table"]], s["quarantined"])
        in_quarantine = GaugeMetricFamily("whctl_quarantine_events", "events in ops.quarantine now")
        in_quarantine.add_metric([], waiting)
        yield from (events, batches, quarantined, in_quarantine)


def make_blueprint() -> Blueprint:
    blueprint = Blueprint("metrics", __name__)

    @blueprint.record_once
    def _register(state):
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_Collector(state.app))
        state.app.extensions["whctl"]["registry"] = registry

    @blueprint.get("/metrics")
    def scrape():
        return Response(generate_latest(current_app.extensions["whctl"]["registry"]), mimetype=CONTENT_TYPE_LATEST)

    return blueprint
