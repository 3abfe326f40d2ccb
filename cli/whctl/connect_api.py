"""The Kafka Connect REST client: the few calls whctl needs, with errors that say what to do.

Used by deploy (whctl.pipeline), health (whctl.health) and the supervisor. Connector configs are
registered with an idempotent PUT; a rebalance (409) is retried with backoff.
"""
from __future__ import annotations

import time

import requests

from whctl.config import Settings
from whctl.output import WhctlError, progress


class Connect:
    """The few calls of the Kafka Connect REST API whctl needs, with errors that say what to do."""

    def __init__(self, settings: Settings):
        self.url = settings.connect.rstrip("/")

    def _request(self, method: str, path: str, **kwargs) -> requests.Response:
        try:
            return requests.request(method, f"{self.url}{path}", timeout=kwargs.pop("timeout", 30), **kwargs)
        except requests.ConnectionError:
            raise WhctlError(f"cannot reach Kafka Connect at {self.url}",
                             hint="start the local stack with `whctl stack up`, or set WH_CONNECT_URL") from None
        except requests.Timeout:
            raise WhctlError(f"Kafka Connect at {self.url} did not answer {method} {path} in time") from None

    def reachable(self) -> bool:
        try:
            requests.get(f"{self.url}/", timeout=3).raise_for_status()
            return True
        except requests.RequestException:
            return False

    def _connector_resource(self, name: str, resource: str) -> dict | None:
        """GET /connectors/<name>/<resource>; None when there is no such connector."""
        response = self._request("GET", f"/connectors/{name}/{resource}")
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return response.json()

    def config(self, name: str) -> dict | None:
        return self._connector_resource(name, "config")

    def status(self, name: str) -> dict | None:
        return self._connector_resource(name, "status")

    def put_config(self, name: str, config: dict, timeout: float = 120) -> int:
        """PUT the config (idempotent); a rebalance answers 409: retry with backoff."""
        deadline, delay = time.monotonic() + timeout, 0.5
        while True:
            response = self._request("PUT", f"/connectors/{name}/config", json=config)
            if response.status_code in (200, 201):
                return response.status_code
            if response.status_code == 409 and time.monotonic() + delay < deadline:
                progress(f"Kafka Connect is rebalancing; retrying {name} in {delay:.1f}s")
                time.sleep(delay)
                delay = min(delay * 2, 8)
                continue
            raise WhctlError(f"Kafka Connect refused the config of {name} (HTTP {response.status_code}): {_message(response)}")

    def call(self, method: str, path: str, ok=(200, 202, 204)) -> requests.Response:
        response = self._request(method, path)
        if response.status_code not in ok:
            raise WhctlError(f"Kafka Connect: {method} {path} answered HTTP {response.status_code}: {_message(response)}")
        return response

    def wait_running(self, name: str, timeout: float = 120) -> dict:
        """Poll until the connector and every task run; a failed task ends the wait with its trace."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = self.status(name)
            if last:
                failed = [t for t in last.get("tasks", []) if t["state"] == "FAILED"]
                if last["connector"]["state"] == "FAILED":
                    failed.insert(0, {"id": "connector", **last["connector"]})
                if failed:
                    raise WhctlError(f"connector {name} failed:\n{readable_trace(failed[0].get('trace', ''))}",
                                     hint=f"see the Connect log; fix, then `whctl deploy` again (or restart: POST /connectors/{name}/restart?includeTasks=true)")
                tasks = last.get("tasks", [])
                if last["connector"]["state"] == "RUNNING" and tasks and all(t["state"] == "RUNNING" for t in tasks):
                    return last
            time.sleep(0.25)
        state = "not registered" if not last else f"connector {last['connector']['state']}, tasks {[t['state'] for t in last.get('tasks', [])]}"
        raise WhctlError(f"connector {name} did not run within {timeout:.0f}s ({state})")


def _message(response: requests.Response) -> str:
    try:
        return response.json().get("message", response.text)[:2000]
    except ValueError:
        return response.text[:2000]


def readable_trace(trace: str, limit: int = 12) -> str:
    """A Java trace cut to what a person reads: the exception lines and 'Caused by' lines first."""
    lines = [line.rstrip() for line in trace.splitlines() if line.strip()]
    if not lines:
        return "  (no trace)"
    keep = [lines[0]] + [line for line in lines[1:] if line.lstrip().startswith("Caused by")]
    return "\n".join("  " + line for line in keep[:limit])
