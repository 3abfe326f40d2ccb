"""A real Prometheus (Debian's `prometheus`) scrapes the dashboard's /metrics, served by waitress as
`whctl serve` serves it, and stores what the warehouse says."""
from __future__ import annotations

import shutil
import subprocess
import threading

import pytest
import requests
import waitress

from whctl.localstack.proc import wait_for
from whctl.pgserver import free_ports

CONFIG = """
global:
  # /metrics runs the status checks, whose probes of what is absent here (Kafka, Connect) take
  # their 2 s timeouts
  scrape_interval: 5s
  scrape_timeout: 5s
scrape_configs:
  - job_name: whctl
    static_configs:
      - targets: ["127.0.0.1:{port}"]
"""


@pytest.fixture
def served(app):
    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=2)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield server.effective_port
    finally:
        server.close()
        thread.join(timeout=10)


def test_a_real_prometheus_scrapes_the_metrics(served, history, tmp_path):
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("Debian's prometheus is needed (make prereqs installs it)")
    (tmp_path / "prometheus.yml").write_text(CONFIG.format(port=served))
    prometheus_port = free_ports(1)[0]
    with open(tmp_path / "prometheus.log", "wb") as log:
        process = subprocess.Popen([binary, f"--config.file={tmp_path / 'prometheus.yml'}", f"--storage.tsdb.path={tmp_path / 'data'}",
                                    f"--web.listen-address=127.0.0.1:{prometheus_port}"], stdout=log, stderr=subprocess.STDOUT)
    found = {}

    def stored(query: str):
        def check() -> bool:
            answer = requests.get(f"http://127.0.0.1:{prometheus_port}/api/v1/query", params={"query": query}, timeout=5).json()
            found[query] = [r["value"][1] for r in answer["data"]["result"]]
            return bool(found[query])
        return check

    try:
        for query in ('up{job="whctl"}', 'whctl_events_applied_total{landing_table="order_items"}', "whctl_quarantine_events",
                      "whctl_health_exit_code"):
            assert wait_for(stored(query), 60, interval=0.5, alive=lambda: process.poll() is None), \
                f"Prometheus never stored {query}:\n{(tmp_path / 'prometheus.log').read_text()[-2000:]}"
        assert found == {'up{job="whctl"}': ["1"], 'whctl_events_applied_total{landing_table="order_items"}': ["4"],
                         "whctl_quarantine_events": ["1"], "whctl_health_exit_code": ["1"]}
    finally:
        process.terminate()
        process.wait(timeout=30)
