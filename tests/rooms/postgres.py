"""A PostgreSQL server for the tests, started as it is started in production.

`initdb` makes a cluster in a temporary folder with password (SCRAM) authentication,
`pg_ctl start` runs it on a free loopback port, and the tests reach it by URL as the app
would: `postgresql://lstm_explorer:PASSWORD@127.0.0.1:PORT/postgres`. PostgreSQL refuses
to run as root; as root (CI), the server runs as Debian's `postgres` user (`runuser`,
else `setpriv`), in a folder that user owns.

Fails (never skips) when PostgreSQL is missing: `tests/run.sh` installs Debian's
`postgresql` package.
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
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

USER = "lstm_explorer"
INSTALL_HINT = ("PostgreSQL is not installed: tests/run.sh installs it (apt-get install "
                "postgresql), or set LSTM_EXPLORER_PG_BIN to the folder of initdb and pg_ctl")


def bin_dir() -> Path:
    """The folder of `initdb` and `pg_ctl`: `LSTM_EXPLORER_PG_BIN`, Debian's newest
    `/usr/lib/postgresql/N/bin`, or the PATH."""
    candidates = [os.environ.get("LSTM_EXPLORER_PG_BIN", "")]
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                         key=lambda path: int(Path(path).parent.name)
                         if Path(path).parent.name.isdigit() else 0, reverse=True)
    found = shutil.which("initdb")
    candidates.append(str(Path(found).parent) if found else "")
    for folder in candidates:
        if folder and (Path(folder) / "initdb").is_file() and (Path(folder) / "pg_ctl").is_file():
            return Path(folder)
    raise RuntimeError(INSTALL_HINT)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_user() -> tuple[list[str], pwd.struct_passwd | None]:
    """The command prefix that runs a program as the server's user, and that user."""
    if os.geteuid() != 0:
        return [], None
    try:
        account = pwd.getpwnam("postgres")
    except KeyError:
        raise RuntimeError("running as root, PostgreSQL needs another user to run as, and "
                           "there is no 'postgres' user: " + INSTALL_HINT) from None
    if shutil.which("runuser"):
        return ["runuser", "-u", account.pw_name, "--"], account
    return ["setpriv", f"--reuid={account.pw_uid}", f"--regid={account.pw_gid}",
            "--init-groups"], account


@dataclass
class Server:
    """A running test server.

    Args:
        url: the superuser's URL, for the database `postgres`.
        folder: the cluster's temporary folder.
    """

    url: str
    folder: Path
    _schemas: int = field(default=0)

    def fresh_url(self) -> str:
        """The URL of an empty schema of its own: a store on it starts with no tables.

        The schema is chosen through libpq's `options` parameter (`search_path`), as a
        deployment sharing one database between apps would do.
        """
        import psycopg

        self._schemas += 1
        name = f"test_{self._schemas}_{secrets.token_hex(3)}"
        with psycopg.connect(self.url, autocommit=True) as connection:
            connection.execute(f"CREATE SCHEMA {name}")
        return f"{self.url}?options={quote(f'-csearch_path={name}')}"


@contextlib.contextmanager
def server() -> Iterator[Server]:
    """Start a PostgreSQL server in a temporary folder; stop and delete it afterwards."""
    binaries = bin_dir()
    prefix, account = _as_user()
    # Not pytest's tmp_path: as root that is under a folder only root may enter.
    folder = Path(tempfile.mkdtemp(prefix="lstm-explorer-pg-"))
    password = secrets.token_urlsafe(16)
    data, log = folder / "data", folder / "server.log"
    password_file = folder / "password"
    password_file.write_text(password + "\n", encoding="utf-8")
    password_file.chmod(0o600)
    if account is not None:
        for path in (folder, password_file):
            os.chown(path, account.pw_uid, account.pw_gid)
    port = free_port()

    def run(*arguments: str) -> None:
        done = subprocess.run([*prefix, *arguments], capture_output=True, text=True,
                              timeout=120)
        if done.returncode:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{' '.join(arguments[:2])} failed ({done.returncode}): "
                               f"{done.stderr.strip()} {done.stdout.strip()[-500:]} {tail}")

    started = False
    try:
        # --no-sync only skips initdb's final fsync; the server itself runs with the
        # defaults (fsync on), as in production.
        run(str(binaries / "initdb"), "-D", str(data), "-U", USER, "--auth-host=scram-sha-256",
            "--auth-local=scram-sha-256", f"--pwfile={password_file}", "--encoding=UTF8",
            "--locale=C", "--no-sync")
        options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1"
        run(str(binaries / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60",
            "-o", options, "start")
        started = True
        yield Server(f"postgresql://{USER}:{quote(password)}@127.0.0.1:{port}/postgres", folder)
    finally:
        if started:
            # "immediate": no shutdown checkpoint (seconds of writes on a busy disk) for
            # a cluster that is deleted next.
            with contextlib.suppress(Exception):
                run(str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(folder, ignore_errors=True)
