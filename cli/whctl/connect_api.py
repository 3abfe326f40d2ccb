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
    """The few calls of the Kafka Connect REST API whctl needs, with errors that say what to do.

    `settings.connect` may list several workers of one cluster (comma-separated): any worker
    answers for the cluster, so a call goes to the first that answers.
    """

    def __init__(self, settings: Settings):
        self.urls = [url.strip().rstrip("/") for url in settings.connect.split(",") if url.strip()]
        self.url = self.urls[0]

    def _request(self, method: str, path: str, **kwargs) -> requests.Response:
        timeout = kwargs.pop("timeout", 30)
        for url in [self.url] + [u for u in self.urls if u != self.url]:
            try:
                response = requests.request(method, f"{url}{path}", timeout=timeout, **kwargs)
            except requests.ConnectionError:
                continue
            except requests.Timeout:
                raise WhctlError(f"Kafka Connect at {url} did not answer {method} {path} in time") from None
            self.url = url
            return response
        raise WhctlError(f"cannot reach Kafka Connect at {', '.join(self.urls)}",
                         hint="start the local stack with `whctl stack up`, or set WH_CONNECT_URL")

    def reachable(self, timeout: float = 3) -> bool:
        try:
            self._request("GET", "/", timeout=timeout).raise_for_status()
            return True
        except (WhctlError, requests.RequestException):
            return False

    def _connector_resource(self, name: str, resource: str, timeout: float = 30) -> dict | None:
        """GET /connectors/<name>/<resource>; None when there is no such connector."""
        response = self._request("GET", f"/connectors/{name}/{resource}", timeout=timeout)
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return response.json()

    def config(self, name: str) -> dict | None:
        return self._connector_resource(name, "config")

    def status(self, name: str, timeout: float = 30) -> dict | None:
        return self._connector_resource(name, "status", timeout)

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

    def workers(self) -> list[str]:
        """The workers of the cluster that run a connector or task (GET /connectors?expand=status)."""
        response = self._request("GET", "/connectors?expand=status", timeout=3)
        response.raise_for_status()
        ids = set()
        for entry in response.json().values():
            st = entry.get("status", {})
            ids.update(t.get("worker_id") for t in [st.get("connector", {}), *st.get("tasks", [])] if t.get("worker_id"))
        return sorted(ids)

    def restart_failed(self, name: str) -> bool:
        """Restart the connector and its tasks that are FAILED (idempotent: nothing failed, nothing restarted).

        Returns whether anything was failed. Two callers at once do no harm: a task that is already
        restarting is no longer FAILED and is left alone by the second call.
        """
        st = self.status(name)
        if st is None or not failed_parts(st):
            return False
        self.call("POST", f"/connectors/{name}/restart?includeTasks=true&onlyFailed=true", ok=(200, 202, 204, 409))
        return True

    def call(self, method: str, path: str, ok=(200, 202, 204)) -> requests.Response:
        response = self._request(method, path)
        if response.status_code not in ok:
            raise WhctlError(f"Kafka Connect: {method} {path} answered HTTP {response.status_code}: {_message(response)}")
        return response

    def wait_running(self, name: str, timeout: float = 120, failed_grace: float = 0) -> dict:
        """Poll until the connector and every task run; a failed task ends the wait with its trace.

        `failed_grace`: seconds during which FAILED is still waited on (a restart just asked for
        shows the old FAILED state until the worker acts on it).
        """
        started = time.monotonic()
        deadline = started + timeout
        last = None
        while time.monotonic() < deadline:
            last = self.status(name)
            if last:
                failed = failed_parts(last)
                if failed and time.monotonic() - started >= failed_grace:
                    trace = failed[0].get("trace", "")
                    raise WhctlError(f"connector {name} failed:\n{readable_trace(trace)}\n  root cause: {root_cause(trace)}",
                                     hint="see `whctl status` for the next step and docs/operations.md; fix the cause, then `whctl deploy` again"
                                          " (it restarts failed tasks)")
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


def failed_parts(status: dict) -> list[dict]:
    """The FAILED parts of a connector status: the connector itself ({"id": "connector", ...}) and its tasks."""
    failed = [t for t in status.get("tasks", []) if t["state"] == "FAILED"]
    if status["connector"]["state"] == "FAILED":
        failed.insert(0, {"id": "connector", **status["connector"]})
    return failed


def root_cause(trace: str) -> str:
    """The deepest `Caused by` of a Java trace (the first line when there is none), without the prefix."""
    lines = [line.strip() for line in (trace or "").splitlines() if line.strip()]
    if not lines:
        return "(no trace)"
    causes = [line.removeprefix("Caused by:").strip() for line in lines if line.startswith("Caused by")]
    return (causes[-1] if causes else lines[0])[:500]


def readable_trace(trace: str, limit: int = 12) -> str:
    """A Java trace cut to what a person reads: the exception lines and 'Caused by' lines first."""
    lines = [line.rstrip() for line in trace.splitlines() if line.strip()]
    if not lines:
        return "  (no trace)"
    keep = [lines[0]] + [line for line in lines[1:] if line.lstrip().startswith("Caused by")]
    return "\n".join("  " + line for line in keep[:limit])
