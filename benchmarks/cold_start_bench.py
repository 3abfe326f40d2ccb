"""Cold-start benchmark (not a test): how fast a freshly started stack moves the seed into dw,
against the same stack once warm.

It starts a throw-away stack (whctl.localstack.sandbox: its own folder, free ports, the shared Java
runtime) and times, from the moment `whctl stack up` begins:

- stack up, deploy, seed: each command's start and end, run as the user runs them (`whctl ...`);
- first fact visible: the first row in dw.fact_orders;
- all seed rows visible: ops.apply_stats counts every seeded row (customers, products, orders, order
  lines) as applied.

Then, warm, the same seed again (below) and `whctl demo all`: how long each scenario waited for the
warehouse to show its change.

The cold rate is the seed's rows over the seconds from the seed's start to the last row applied.
The warm rate is the same measure for `whctl seed --append` (the same sizes) on the same stack
right after: the same workload through a stack whose JVMs, consumers and caches are warm. Both
rates include the seed's own writing time, so the ratio compares like with like. The issue's measure
is the warm drain rate: a backlog already in Kafka drained by the sink and the engine
(pipeline_bench's throughput run with triggers, --drain transactions), measured on the same stack
after the warm seed; the cold seed's rate over it is printed too.

Connect's log (the stack's logs/connect.log) is scanned for the moments that matter to the first
seconds: the worker started, each connector's task started, the sink's consumer joined its group
and got its partitions, and the source's streaming started. Those are printed relative to the same
origin, beside the timeline.

    python benchmarks/cold_start_bench.py [--runs 1] [--json]
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pipeline_bench  # noqa: E402  (its workload and its drain of a backlog)

from whctl import health
from whctl.config import Settings
from whctl.localstack.sandbox import sandbox_env, share_runtime
from whctl.output import WhctlError

SEED_TABLES = ("customers", "products", "orders", "order_items")
POLL_S = 0.05
# Connect log lines that mark the first seconds (a regular expression -> the name printed)
CONNECT_MARKS = {
    r"Kafka Connect started": "connect worker started",
    r"Starting task whctl-source-0|Creating task whctl-source-0": "source task created",
    r"Starting task whctl-sink-0|Creating task whctl-sink-0": "sink task created",
    r"Snapshot ended|snapshot completed|Snapshot completed": "source snapshot done",
    r"Starting streaming|Processing messages": "source streaming",
    r"connector-consumer-whctl-sink-0.*Successfully joined group": "sink joined its group",
    r"connector-consumer-whctl-sink-0.*Adding newly assigned partitions": "sink got its partitions",
}
LOG_TIME = re.compile(r"^\[?(\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d[,.]\d{3})")


def whctl(env: dict, *args: str) -> tuple[float, float]:
    """Run `whctl args` (as the user does); (start, end) wall times."""
    started = time.time()
    result = subprocess.run([sys.executable, "-m", "whctl", *args], env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise WhctlError(f"whctl {' '.join(args)} failed: {(result.stderr or result.stdout).strip()[-2000:]}")
    return started, time.time()


def applied_events(wh) -> int:
    return int(wh.execute("SELECT coalesce(sum(events), 0) FROM ops.apply_stats WHERE landing_table = ANY(%s)",
                          (list(SEED_TABLES),)).fetchone()[0])


def wait_applied(settings: Settings, target: int, timeout: float, first_fact_after: float | None = None) -> dict:
    """Poll until `target` seed events are applied; the first fact's time too when asked."""
    first_fact = None
    deadline = time.time() + timeout
    with psycopg.connect(**settings.connection_kwargs("warehouse"), autocommit=True) as wh:
        while time.time() < deadline:
            if first_fact_after is not None and first_fact is None and wh.execute(
                    "SELECT EXISTS (SELECT FROM dw.fact_orders)").fetchone()[0]:
                first_fact = time.time()
            if applied_events(wh) >= target:
                return {"all_applied": time.time(), "first_fact": first_fact or time.time()}
            time.sleep(POLL_S)
    raise WhctlError(f"the seed's {target} events were not applied within {timeout:.0f}s")


def stages(settings: Settings, since: float) -> dict:
    """The stage breakdown (whctl.health.stage_latency) of every seed event applied since `since`."""
    with psycopg.connect(**settings.connection_kwargs("warehouse"), autocommit=True) as wh:
        return health.stage_latency(wh, window_s=time.time() - since, max_events=10**7, max_batches=10**7, tables=SEED_TABLES)


def source_rows(settings: Settings) -> int:
    with psycopg.connect(**settings.connection_kwargs("source"), autocommit=True) as src:
        return sum(src.execute(f"SELECT count(*) FROM public.{t}").fetchone()[0] for t in SEED_TABLES)


def _waits(doc) -> list[float]:
    """Each scenario's waited_seconds in `whctl demo all --json`."""
    if isinstance(doc, dict):
        return ([doc["waited_seconds"]] if "waited_seconds" in doc else []) + [w for v in doc.values() for w in _waits(v)]
    return [w for v in doc for w in _waits(v)] if isinstance(doc, list) else []


def connect_marks(log: Path, origin: float) -> list[tuple[float, str]]:
    """The first occurrence of each mark in Connect's log, seconds after `origin`."""
    found: dict[str, float] = {}
    if not log.exists():
        return []
    for line in log.read_text(errors="replace").splitlines():
        m = LOG_TIME.match(line)
        if not m:
            continue
        for pattern, name in CONNECT_MARKS.items():
            if name not in found and re.search(pattern, line):
                at = datetime.strptime(m.group(1).replace("T", " ").replace(",", "."), "%Y-%m-%d %H:%M:%S.%f").timestamp()
                found[name] = at - origin
    return sorted((t, n) for n, t in found.items())


def run_once(seed_args: list[str], keep_logs: Path | None, drain_transactions: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="whctl-cold-") as tmp:
        os.chmod(tmp, 0o755)  # the clusters run as the OS user postgres, who must reach their folders
        state = Path(tmp) / "state"
        share_runtime(state, Settings.from_env())
        env = {**os.environ, **sandbox_env(state)}
        saved = dict(os.environ)
        os.environ.update(env)
        try:
            settings = Settings.from_env()
            t = {}
            t["stack up"] = whctl(env, "stack", "up")
            origin = t["stack up"][0]
            try:
                t["deploy"] = whctl(env, "deploy")
                t["seed"] = whctl(env, "seed", *seed_args)
                seeded = source_rows(settings)
                cold = wait_applied(settings, seeded, 600, first_fact_after=t["seed"][0])
                cold_stages = stages(settings, t["seed"][0])
                warm_start = whctl(env, "seed", "--append", "--seed", "43", *seed_args)
                warm_rows = source_rows(settings) - seeded
                warm = wait_applied(settings, seeded + warm_rows, 600)
                warm_stages = stages(settings, warm_start[0])
                drain = None
                if drain_transactions:
                    # the warm drain rate of the issue: a backlog in Kafka drained by the sink and the engine
                    work = pipeline_bench.Workload(settings, 300, 300, 3)
                    drain = pipeline_bench.throughput_run(settings, work, drain_transactions)["with_triggers"]
                demo = subprocess.run([sys.executable, "-m", "whctl", "demo", "all", "--json"], env=env, capture_output=True, text=True)
                waits = [round(w, 2) for w in _waits(json.loads(demo.stdout))] if demo.returncode == 0 else demo.stderr.strip()[-300:]
                marks = connect_marks(state / "logs" / "connect.log", origin)
                if keep_logs:
                    keep_logs.mkdir(parents=True, exist_ok=True)
                    for log in (state / "logs").glob("*.log"):
                        shutil.copy(log, keep_logs / log.name)
            finally:
                whctl(env, "stack", "down")
        finally:
            os.environ.clear()
            os.environ.update(saved)
    rel = lambda x: round(x - origin, 2)  # noqa: E731
    cold_s = cold["all_applied"] - t["seed"][0]
    warm_s = warm["all_applied"] - warm_start[0]
    return {
        "timeline": {
            **{f"{k} {edge}": rel(v[i]) for k, v in t.items() for i, edge in ((0, "began"), (1, "ended"))},
            "first fact visible": rel(cold["first_fact"]),
            "all seed rows visible": rel(cold["all_applied"]),
        },
        "connect_log": [(round(s, 2), n) for s, n in marks],
        "seed_rows": seeded,
        "seed_write_s": round(t["seed"][1] - t["seed"][0], 2),
        "cold_s": round(cold_s, 2), "cold_rows_per_s": round(seeded / cold_s),
        "warm_rows": warm_rows,
        "warm_write_s": round(warm_start[1] - warm_start[0], 2),
        "warm_s": round(warm_s, 2), "warm_rows_per_s": round(warm_rows / warm_s),
        "ratio": round((seeded / cold_s) / (warm_rows / warm_s), 2),
        "cold_stages": cold_stages, "warm_stages": warm_stages,
        "demo_waits_s": waits,
        "warm_drain": drain,
        "ratio_to_drain": round((seeded / cold_s) / drain["events_per_s"], 2) if drain else None,
    }


def render(r: dict) -> str:
    lines = ["timeline (seconds after `whctl stack up` began):"]
    events = sorted([(v, k) for k, v in r["timeline"].items()] + [(s, f"  connect log: {n}") for s, n in r["connect_log"]])
    lines += [f"  {v:7.2f}  {k}" for v, k in events]
    lines.append(f"cold: {r['seed_rows']} seed rows (written in {r['seed_write_s']} s) in dw {r['cold_s']} s after the seed began:"
                 f" {r['cold_rows_per_s']} rows/s")
    lines.append(f"warm: {r['warm_rows']} rows (written in {r['warm_write_s']} s) in dw {r['warm_s']} s after the seed began:"
                 f" {r['warm_rows_per_s']} rows/s")
    lines.append(f"cold / warm: {r['ratio']}")
    if r["warm_drain"]:
        d = r["warm_drain"]
        lines.append(f"warm drain of a backlog in Kafka: {d['events']} events in {d['seconds']} s: {d['events_per_s']} events/s;"
                     f" cold seed / warm drain: {r['ratio_to_drain']}")
    lines.append(f"then `whctl demo all`: each scenario waited {r['demo_waits_s']} s for the warehouse")
    for run in ("cold", "warm"):
        st = r[f"{run}_stages"]
        lines.append(f"{run} stages over {st['events']} events in {st['batches']} batches (p50 / p95 ms): " + ", ".join(
            f"{name} {_ms(q['p50_s'])} / {_ms(q['p95_s'])}" for name, q in st["stages"].items()))
    return "\n".join(lines)


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=1, help="fresh stacks, one after the other")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--drain", type=int, default=4500, help="transactions (1 order + 3 lines) of the warm backlog drain"
                        " (pipeline_bench's throughput with triggers; 4500 = 18,000 events, the seed's size; 0 skips it)")
    parser.add_argument("--keep-logs", type=Path, help="copy the stack's logs into this folder before it goes")
    args = parser.parse_args()
    results = [run_once([], args.keep_logs, args.drain) for _ in range(args.runs)]
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print("\n\n".join(render(r) for r in results))


if __name__ == "__main__":
    main()
