"""The reconcile loop, Kubernetes-controller style: observe, compare with the desired state, act once, record.

One pass runs a list of named steps in order. `observe` reads the pipeline through the checks of
`whctl status` that the steps use (whctl.health.SUPERVISOR_CHECKS); `components` records an
incident for each component that does not answer and closes it when it answers again; `failed
tasks` looks up the root cause of each failed connector or task in the cause table (causes.py) and
acts on it: restart the failed parts once the dependency answers again (with backoff per
connector), restart after the landing-evolution step ran this pass, or leave it failed and say
why. Every action is idempotent
(a restart of only the failed parts, an upsert of the open incident), so two supervisors do no harm.

The desired state: every component answers, every connector and task runs.
"""
from __future__ import annotations

import logging
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Callable

from whctl import health, source_shape
from whctl.config import Settings
from whctl.connect_api import Connect
from whctl.output import WhctlError
from whctl.supervisor import causes
from whctl.supervisor.incidents import Incidents

log = logging.getLogger("whctl.supervisor")

# the name of the step that adds source columns to landing (whctl.source_shape.evolve_landing)
LANDING_EVOLUTION = "evolve landing"
BACKOFF_FIRST_S = 2.0
BACKOFF_MAX_S = 60.0
OBSERVE_TIMEOUT_S = 60
COMPONENTS = (health.KAFKA_BROKER, health.CONNECT_WORKERS, health.SOURCE_DB, health.WAREHOUSE)
# the database a connector's tasks write to or read from
CONNECTOR_DATABASE = {"whctl-source": health.SOURCE_DB, "whctl-sink": health.WAREHOUSE}


@dataclass
class Pass:
    """What one pass of the loop saw and did."""

    checks: dict[str, dict] = field(default_factory=dict)  # the health checks by name
    ran: list[str] = field(default_factory=list)           # the steps that completed
    actions: list[dict] = field(default_factory=list)      # what was done, for the log and --once
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Step:
    name: str
    run: Callable[["Supervisor", Pass], None]


@dataclass
class Backoff:
    attempts: int = 0
    not_before: float = 0.0


class Supervisor:
    def __init__(self, settings: Settings, steps: list[Step] | None = None):
        self.settings = settings
        self.connect = Connect(settings)
        self.incidents = Incidents(settings)
        self.backoff: dict[str, Backoff] = {}
        self.steps = list(STEPS if steps is None else steps)

    def reconcile(self) -> Pass:
        """One pass: every step in order (a step that raises is logged; the next ones still run)."""
        p = Pass()
        for step in self.steps:
            try:
                step.run(self, p)
                p.ran.append(step.name)
            except Exception as exc:  # the loop must outlive any one failure; the pass says what failed
                message = exc.message if isinstance(exc, WhctlError) else f"{type(exc).__name__}: {exc}"
                p.errors.append(f"{step.name}: {message}")
                log.warning("step %s failed: %s", step.name, message)
        self.incidents.flush()
        return p

    def run(self, interval: float, passes: int | None = None, on_pass: Callable[[Pass], None] | None = None) -> None:
        """Reconcile every `interval` seconds (`passes` times, or until interrupted)."""
        done = 0
        while passes is None or done < passes:
            started = time.monotonic()
            p = self.reconcile()
            if on_pass:
                on_pass(p)
            done += 1
            if passes is None or done < passes:
                time.sleep(max(interval - (time.monotonic() - started), 0.1))

    def act(self, p: Pass, component: str, what: str, **detail) -> None:
        p.actions.append({"component": component, "action": what, **detail})
        log.info("%s: %s", component, what)


# --- the steps -----------------------------------------------------------------------------------

def observe(sup: Supervisor, p: Pass) -> None:
    """The checks of `whctl status` the steps use (health.SUPERVISOR_CHECKS: nothing that grows with
    the warehouse, every 2 s), run in a child process: the Kafka client library (librdkafka) has
    crashed a process when the broker vanished mid-request; the loop must outlive that."""
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("fork")) as pool:
        try:
            result = pool.submit(health.status, sup.settings, health.SUPERVISOR_CHECKS).result(timeout=OBSERVE_TIMEOUT_S)
        except WhctlError:  # nothing answers at all
            p.checks = {name: health.check(name, health.FAIL, "no answer") for name in COMPONENTS}
            return
        except BrokenProcessPool:
            raise WhctlError("the status probe died (a crash of the Kafka client); next pass tries again") from None
    p.checks = {c["name"]: c for c in result["checks"]}


def components(sup: Supervisor, p: Pass) -> None:
    for name in COMPONENTS:
        c = p.checks.get(name)
        if c is None:
            continue
        if c["verdict"] == health.FAIL:
            sup.incidents.open(name, "not answering", "waiting for it to answer (`whctl stack up` starts the local stack's)",
                               detail=c["detail"][:500])
        elif sup.incidents.is_open(name):
            sup.incidents.resolve(name)
            sup.act(p, name, "answers again")


def failed_tasks(sup: Supervisor, p: Pass) -> None:
    for name, database in CONNECTOR_DATABASE.items():
        c = p.checks.get(f"connector {name}")
        if c is None or "state" not in c:
            continue  # Connect is down or the connector is not registered: nothing to restart
        component = f"connector {name}"
        if not c["failed"]:
            if c["verdict"] == health.OK:
                sup.backoff.pop(name, None)
                if sup.incidents.is_open(component):
                    sup.incidents.resolve(component)
                    sup.act(p, component, "running again")
            continue
        decisions = [(part, _decide(p, part, database)) for part in c["failed"]]
        if any(action == "restart" for _, action in decisions):
            done = _restart(sup, p, name)
            decisions = [(part, done if action == "restart" else action) for part, action in decisions]
        for part, action in decisions:
            sup.incidents.open(_part_name(component, part), f"{part['cause']}: {part['root_cause']}", action,
                               root_cause=part["root_cause"], worker=part.get("worker_id"))


def _part_name(component: str, part: dict) -> str:
    return component if part["id"] == "connector" else f"{component} task {part['id']}"


def _decide(p: Pass, part: dict, database: str) -> str:
    """'restart', or why not (recorded as the incident's action)."""
    if part["action"] == causes.PERSON:
        return f"needs a person: {part['next_step']}"
    row = next(r for r in causes.CAUSES if r.name == part["cause"])
    dependency = database if row.depends_on == causes.DATABASE else row.depends_on
    dep = p.checks.get(dependency)
    if dep is None or dep["verdict"] != health.OK:
        return f"waiting for the {dependency} to answer"
    if part["action"] == causes.RESTART_AFTER_LANDING_EVOLUTION and LANDING_EVOLUTION not in p.ran:
        return f"waiting for the landing-evolution step ('{LANDING_EVOLUTION}') to add the column"
    return "restart"


def _restart(sup: Supervisor, p: Pass, name: str) -> str:
    """Restart the connector's failed parts unless its backoff says wait; returns the action taken (stable text)."""
    b = sup.backoff.setdefault(name, Backoff())
    if b.not_before > time.monotonic():
        return f"still failed after restart attempt {b.attempts}; next attempt after {_delay(b.attempts):.0f}s"
    restarted = sup.connect.restart_failed(name)
    b.attempts += 1
    b.not_before = time.monotonic() + _delay(b.attempts)
    action = f"restarted the failed parts (attempt {b.attempts})"
    if restarted:
        sup.act(p, f"connector {name}", action)
    return action


def evolve_landing(sup: Supervisor, p: Pass) -> None:
    """Promise 10: a column added at the source gets its landing column before (or right after) the
    sink meets it; each addition is an incident that the addition itself resolves."""
    for action in source_shape.evolve_landing(sup.settings):
        component = f"landing.{action['table']}"
        what = f"{action['action']}: {action['column']}"
        sup.incidents.open(component, f"the source's shape changed ({action['column']})", what,
                           **{k: str(v) for k, v in action.items()})
        sup.incidents.resolve(component)
        sup.act(p, component, what)


def _delay(attempts: int) -> float:
    return min(BACKOFF_FIRST_S * 2 ** (attempts - 1), BACKOFF_MAX_S)


STEPS: list[Step] = [
    Step("observe", observe),
    Step("components", components),
    Step(LANDING_EVOLUTION, evolve_landing),
    Step("failed tasks", failed_tasks),
]
