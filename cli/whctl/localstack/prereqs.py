"""Prerequisites of the local stack: Java 17+, Maven (to fetch the runtime once), PostgreSQL.

A missing one is an expected failure: one line that says what is missing and how to install it.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from whctl import pgserver
from whctl.output import WhctlError

MIN_JAVA = 17
APT = {
    "java": "openjdk-17-jre-headless",
    "mvn": "maven",
    "postgres": "postgresql",
}


def _missing(what: str, why: str, package: str) -> WhctlError:
    return WhctlError(f"missing prerequisite: {what} ({why}); install it with `apt-get install -y {package}`")


def java() -> Path:
    """The `java` to run Kafka and Connect with: $JAVA_HOME/bin/java, else the one on PATH; 17 or newer."""
    home = os.environ.get("JAVA_HOME")
    candidate = Path(home) / "bin" / "java" if home and (Path(home) / "bin" / "java").exists() else None
    if candidate is None:
        found = shutil.which("java")
        if found is None:
            raise _missing(f"Java {MIN_JAVA}+", "no `java` on PATH", APT["java"])
        candidate = Path(found)
    major = java_major(candidate)
    if major < MIN_JAVA:
        raise _missing(f"Java {MIN_JAVA}+", f"{candidate} is Java {major}", APT["java"])
    return candidate


def java_major(java_bin: Path) -> int:
    out = subprocess.run([str(java_bin), "-version"], capture_output=True, text=True).stderr
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if not match:
        return 0
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major  # "1.8.0" is Java 8


def maven() -> Path:
    found = shutil.which("mvn")
    if found is None:
        raise _missing("Maven", "no `mvn` on PATH; it fetches Kafka, Connect and Debezium once", APT["mvn"])
    return Path(found)


def postgres_bindir() -> Path:
    try:
        bindir = pgserver.find_bindir()
    except WhctlError:
        raise _missing(f"PostgreSQL {pgserver.MIN_MAJOR}+ server binaries", "no initdb/pg_ctl found", APT["postgres"]) from None
    version = pgserver.server_version(bindir)
    major = int(re.match(r"\d+", version).group(0)) if re.match(r"\d+", version) else 0
    if major < pgserver.MIN_MAJOR:
        raise _missing(f"PostgreSQL {pgserver.MIN_MAJOR}+ server binaries", f"{bindir} is PostgreSQL {version}", APT["postgres"])
    return bindir


def check(need_maven: bool = False) -> None:
    """Raise one clear WhctlError for the first missing prerequisite."""
    postgres_bindir()
    java()
    if need_maven:
        maven()
