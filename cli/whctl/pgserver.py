"""A PostgreSQL cluster of our own: initdb, start, stop, on loopback only.

Used by the local stack (source and warehouse) and by the tests (a throw-away cluster). PostgreSQL
refuses to run as root, so when whctl runs as root the server runs as an unprivileged OS user
(WH_PG_OS_USER, default `postgres`, which Debian's package creates).
"""
from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from whctl.output import WhctlError

MIN_MAJOR = 15
INSTALL_HINT = "install PostgreSQL server binaries: `apt-get install -y postgresql` (Debian/Ubuntu)"


def find_bindir() -> Path:
    """The folder holding initdb, pg_ctl and postgres (newest Debian version first, then PATH)."""
    explicit = os.environ.get("WH_PG_BINDIR")
    candidates = [explicit] if explicit else []
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name), reverse=True)
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(str(Path(on_path).resolve().parent))
    for candidate in candidates:
        if candidate and all((Path(candidate) / tool).exists() for tool in ("initdb", "pg_ctl", "postgres")):
            return Path(candidate)
    raise WhctlError("PostgreSQL server binaries (initdb, pg_ctl) not found", hint=INSTALL_HINT)


def server_version(bindir: Path) -> str:
    out = subprocess.run([str(bindir / "postgres"), "--version"], capture_output=True, text=True, check=True).stdout
    return out.strip().split()[-1] if out.strip() else "unknown"


def _os_user() -> str | None:
    """The user the server runs as: None (ourselves) unless we are root."""
    if os.geteuid() != 0:
        return None
    name = os.environ.get("WH_PG_OS_USER", "postgres")
    try:
        pwd.getpwnam(name)
    except KeyError:
        raise WhctlError(
            f"running as root, PostgreSQL needs an unprivileged OS user to run as, and `{name}` does not exist",
            hint="`apt-get install -y postgresql` creates the `postgres` user, or set WH_PG_OS_USER",
        ) from None
    return name


@dataclass
class LocalCluster:
    """One PostgreSQL cluster in `base_dir` (data/ and server.log inside), listening on host:port."""

    base_dir: Path
    port: int
    superuser: str
    password: str
    host: str = "127.0.0.1"
    settings: dict[str, str] = field(default_factory=dict)

    @property
    def data_dir(self) -> Path:
        return self.base_dir / "data"

    @property
    def log_file(self) -> Path:
        return self.base_dir / "server.log"

    def _run(self, args: list[str], check: bool = True) -> subprocess.CompletedProcess:
        user = _os_user()
        command = (["runuser", "-u", user, "--"] if user else []) + args
        result = subprocess.run(command, capture_output=True, text=True)
        if check and result.returncode != 0:
            detail = (result.stderr or result.stdout).strip()
            raise WhctlError(f"`{' '.join(args[:2])}` failed for {self.data_dir}: {detail}", hint=f"see {self.log_file}")
        return result

    def initialized(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def init(self) -> None:
        """Create the cluster once; later calls do nothing."""
        if self.initialized():
            return
        bindir = find_bindir()
        self.base_dir.mkdir(parents=True, exist_ok=True)
        user = _os_user()
        if user:
            shutil.chown(self.base_dir, user=user)
            if subprocess.run(["runuser", "-u", user, "--", "test", "-w", str(self.base_dir)]).returncode != 0:
                raise WhctlError(f"the OS user `{user}` cannot reach {self.base_dir}",
                                 hint="choose a state folder whose parent folders others may enter (chmod o+x)")
        with tempfile.NamedTemporaryFile("w", dir=self.base_dir, delete=False) as pwfile:
            pwfile.write(self.password + "\n")
        try:
            if user:
                shutil.chown(pwfile.name, user=user)
            self._run([
                str(bindir / "initdb"), "-D", str(self.data_dir), "-U", self.superuser,
                f"--pwfile={pwfile.name}", "--auth-local=peer", "--auth-host=scram-sha-256",
                "--encoding=UTF8", "--locale=C.UTF-8",
            ])
        finally:
            os.unlink(pwfile.name)
        conf = {
            "listen_addresses": f"'{self.host}'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.data_dir}'",
            "timezone": "'UTC'",
            **self.settings,
        }
        with open(self.data_dir / "postgresql.auto.conf", "a") as auto:
            auto.write("".join(f"{k} = {v}\n" for k, v in conf.items()))

    def pid(self) -> int | None:
        """The postmaster's pid when it runs, else None."""
        pidfile = self.data_dir / "postmaster.pid"
        try:
            pid = int(pidfile.read_text().splitlines()[0])
            os.kill(pid, 0)
            return pid
        except (FileNotFoundError, ValueError, IndexError, ProcessLookupError):
            return None
        except PermissionError:
            return pid

    def start(self) -> None:
        if self.pid() is not None:
            return
        self._run([str(find_bindir() / "pg_ctl"), "-D", str(self.data_dir), "-l", str(self.log_file), "-w", "-t", "60", "start"])

    def stop(self) -> None:
        if self.pid() is None:
            return
        result = self._run([str(find_bindir() / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "-t", "30", "stop"], check=False)
        if result.returncode != 0 and self.pid() is not None:
            self._run([str(find_bindir() / "pg_ctl"), "-D", str(self.data_dir), "-m", "immediate", "-w", "stop"])

    def dsn(self, dbname: str) -> str:
        return f"postgresql://{self.superuser}@{self.host}:{self.port}/{dbname}"


def free_ports(count: int) -> list[int]:
    """`count` distinct ports nobody listens on now, on loopback."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


@contextlib.contextmanager
def throwaway_cluster(prefix: str, settings: dict[str, str] | None = None) -> Iterator[str]:
    """A cluster in a new temporary folder on a free port, for tests and benchmarks.

    Yields its superuser DSN (with the generated password); stops and removes it at exit. The
    folder is outside any private temp folder: as root the server runs as another OS user.
    """
    base = Path(tempfile.mkdtemp(prefix=prefix))
    base.chmod(0o755)
    password = secrets.token_urlsafe(16)
    cluster = LocalCluster(base, port=free_ports(1)[0], superuser="postgres", password=password,
                           settings=settings or {})
    try:
        cluster.init()
        cluster.start()
        yield f"postgresql://postgres:{password}@127.0.0.1:{cluster.port}/postgres"
    finally:
        cluster.stop()
        shutil.rmtree(base, ignore_errors=True)
