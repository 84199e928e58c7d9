"""A throwaway PostgreSQL cluster a test may stop and restart at will.

The suite's own PostgreSQL (``DATABASE_URL`` in CI) is shared by every test and must never be
restarted, so a test about a database outage builds its own: ``initdb`` into a temporary
directory, its own port and socket directory, ``pg_ctl`` to stop, start and restart it.

PostgreSQL refuses to run as root; when the tests run as root (CI containers), the server
binaries run as the ``postgres`` user, which then owns the directory.
"""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from tests.support.servers import free_port


def binaries() -> Path | None:
    """The newest installed PostgreSQL's bin directory (Debian layout), or one on PATH."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
                   key=lambda p: int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("pg_ctl")
    return Path(on_path).parent if on_path else None


def usable() -> tuple[bool, str]:
    """Whether a cluster can be made here, and if not, why (for a skip or a CI failure)."""
    if binaries() is None:
        return False, "PostgreSQL server binaries (initdb, pg_ctl) not installed"
    if os.geteuid() == 0 and not shutil.which("runuser"):
        return False, "running as root without runuser: PostgreSQL cannot be started"
    if os.geteuid() == 0:
        try:
            import pwd

            pwd.getpwnam("postgres")
        except KeyError:
            return False, "running as root and there is no postgres user to run PostgreSQL as"
    return True, ""


class Cluster:
    """``with Cluster() as pg: pg.url ... pg.restart()``."""

    def __init__(self) -> None:
        self.bin = binaries()
        self.dir = Path(tempfile.mkdtemp(prefix="bridge-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, check: bool = True, timeout: float = 240) -> subprocess.CompletedProcess:
        command = [str(self.bin / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:1])} failed ({result.returncode}): {result.stdout}{result.stderr}\n"
                               f"server log:\n{self.log()[-3000:]}")
        return result

    def __enter__(self) -> "Cluster":
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--no-sync")
        options = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c max_connections=100")
        (self.dir / "options").write_text(options)
        self.start()
        return self

    def start(self) -> None:
        options = (self.dir / "options").read_text()
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.dir / "server.log"), "-w",
                  "-t", "180", "start")

    def stop(self, mode: str = "fast") -> None:
        """``fast`` ends every session at once, as a restart by an operator or a crash of
        the server would for the clients."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "180", "stop")

    def restart(self, down_for: float = 0.0) -> None:
        self.stop()
        time.sleep(down_for)
        self.start()

    def log(self) -> str:
        path = self.dir / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def __exit__(self, *exc) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "stop", check=False)
        shutil.rmtree(self.dir, ignore_errors=True)
