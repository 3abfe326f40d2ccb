"""The Java side of the local stack: Kafka, Connect, log4j2 and the Debezium plugins.

`connectors/pom.xml` lists them; `fetch` runs Maven once into `<state_dir>/runtime` (a new folder
swapped in only when Maven succeeded) and leaves a marker with the pom's hash. Later runs find
the marker and never call Maven, so the stack starts offline.
"""
from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from whctl.config import PROJECT_ROOT, Settings
from whctl.localstack import prereqs
from whctl.output import WhctlError, progress

POM = PROJECT_ROOT / "connectors" / "pom.xml"
MARKER = ".fetched"
PLUGINS = ("debezium-connector-postgres", "debezium-connector-jdbc")


def _pom_hash() -> str:
    return hashlib.sha256(POM.read_bytes()).hexdigest()


@dataclass(frozen=True)
class Runtime:
    root: Path

    @property
    def lib(self) -> Path:
        return self.root / "lib"

    @property
    def plugins_dir(self) -> Path:
        return self.root / "plugins"

    @property
    def plugins(self) -> list[Path]:
        return [self.plugins_dir / name for name in PLUGINS]

    @property
    def classpath(self) -> str:
        return str(self.lib / "*")

    def present(self) -> bool:
        marker = self.root / MARKER
        return marker.exists() and marker.read_text().strip() == _pom_hash()

    def _jar_version(self, folder: Path, artifact: str) -> str | None:
        for jar in sorted(folder.glob(f"{artifact}-*.jar")):
            match = re.fullmatch(rf"{re.escape(artifact)}-(\d[^-]*(?:-[A-Za-z0-9.]+)?)\.jar", jar.name)
            if match:
                return match.group(1)
        return None

    def versions(self) -> dict[str, str | None]:
        """Versions of what the runtime holds, read from the jar names."""
        return {
            "kafka": self._jar_version(self.lib, "kafka_2.13"),
            "connect": self._jar_version(self.lib, "connect-runtime"),
            "debezium_postgres": self._jar_version(self.plugins[0], "debezium-connector-postgres"),
            "debezium_jdbc": self._jar_version(self.plugins[1], "debezium-connector-jdbc"),
            "postgresql_jdbc_driver": self._jar_version(self.plugins[1], "postgresql"),
            "log4j": self._jar_version(self.lib, "log4j-core"),
        }


def runtime(settings: Settings) -> Runtime:
    return Runtime(settings.state_dir / "runtime")


def fetch(settings: Settings, force: bool = False) -> Runtime:
    """Resolve the runtime from Maven Central unless it is already there (and current)."""
    target = runtime(settings)
    if target.present() and not force:
        return target
    mvn = prereqs.maven()
    prereqs.java()
    logs = settings.state_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log_file = logs / "fetch.log"
    staging = target.root.with_name("runtime.new")
    shutil.rmtree(staging, ignore_errors=True)
    progress(f"fetching Kafka, Connect and Debezium with Maven into {target.root} (log: {log_file})")
    started = time.monotonic()
    with open(log_file, "w") as log:
        result = subprocess.run(
            [str(mvn), "-B", "-f", str(POM), f"-Druntime.dir={staging}", "generate-resources"],
            stdout=log, stderr=subprocess.STDOUT, cwd=POM.parent,
        )
    if result.returncode != 0:
        errors = [line.strip() for line in log_file.read_text(errors="replace").splitlines() if line.startswith("[ERROR]")]
        first = errors[0].removeprefix("[ERROR]").strip() if errors else f"mvn exited with {result.returncode}"
        raise WhctlError(f"fetching the runtime failed: {first}", hint=f"see {log_file}; Maven needs to reach Maven Central once")
    shutil.rmtree(staging / "maven", ignore_errors=True)
    missing = [str(p.relative_to(staging)) for p in [staging / "lib", *(staging / "plugins" / n for n in PLUGINS)] if not p.is_dir()]
    if missing:
        raise WhctlError(f"fetching the runtime left no {', '.join(missing)}", hint=f"see {log_file}")
    (staging / MARKER).write_text(_pom_hash() + "\n")
    if target.root.exists():
        shutil.rmtree(target.root)
    staging.rename(target.root)
    progress(f"runtime ready in {time.monotonic() - started:.0f}s")
    return target
