"""Starting the deployment's processes in their own sessions, and stopping them by group.

Every server is started with ``setsid`` semantics (``start_new_session=True``): its pid is
also its process group and session id, and every child it forks (Celery's pool, Airflow's
task supervisors, uvicorn's workers) stays in that group and that session; Airflow's task
processes move to groups of their own but stay in the session. So a recorded pid is enough
to find and stop the whole tree, and nothing is ever signalled by name.

What is alive and what listens is read from ``/proc`` (Linux), so that a check after
stopping sees every process of the recorded sessions and every listening TCP socket.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

PROC = Path("/proc")
_TCP_LISTEN = "0A"
_POLL_INTERVAL = 0.1


@dataclass(frozen=True)
class ProcessRecord:
    """One started process, as recorded in the state file.

    :param name: the role (``scheduler``, ``worker-w1``, ...).
    :param pid: its process id, which is also its process group and session id.
    :param log: the file its stdout and stderr go to.
    :param command: the command line it was started with.
    :param started: its start time (clock ticks since boot, from ``/proc/PID/stat``).
    :param boot: the boot it was started in (``/proc/sys/kernel/random/boot_id``).
    """

    name: str
    pid: int
    log: str
    command: tuple[str, ...]
    started: int
    boot: str

    def to_json(self) -> dict[str, Any]:
        """The record as a JSON-friendly dict."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ProcessRecord:
        """A record read back from :meth:`to_json`'s output.

        :param data: the dict.
        """
        return cls(
            name=str(data["name"]),
            pid=int(data["pid"]),
            log=str(data["log"]),
            command=tuple(data["command"]),
            started=int(data["started"]),
            boot=str(data["boot"]),
        )


def boot_id() -> str:
    """This boot's id: a recorded pid from another boot is not ours any more."""
    return (PROC / "sys" / "kernel" / "random" / "boot_id").read_text().strip()


def record_process(name: str, pid: int, log: str, command: Sequence[str]) -> ProcessRecord:
    """The record of the running process ``pid``, with its start time and this boot's id.

    :param name: the role.
    :param pid: the process id.
    :param log: its log file.
    :param command: its command line.
    """
    stat = _read_stat(pid)
    if stat is None:
        raise ProcessLookupError(f"{name} (pid {pid}) is not running")
    return ProcessRecord(name, pid, log, tuple(command), stat.start, boot_id())


def tree(record: ProcessRecord) -> list[int]:
    """The live processes ``record``'s process started: its group and session.

    Empty when its pid now belongs to another process (another boot, or another start
    time): a stale record never leads to signalling a stranger. While any process of the
    group or session lives, the kernel gives no new process that id as its group or
    session, so the members found are ours.

    :param record: a recorded process.
    """
    if record.boot != boot_id():
        return []
    leader = _read_stat(record.pid)
    if leader is not None and leader.start != record.started:
        return []
    return members([record.pid])


def start_process(
    name: str,
    command: Sequence[str],
    *,
    env: Mapping[str, str],
    log: Path,
    cwd: Path,
) -> ProcessRecord:
    """Start ``command`` in a new session, output appended to ``log``; return its record.

    :param name: the role, for the record and messages.
    :param command: the program and its arguments.
    :param env: its whole environment.
    :param log: the file its stdout and stderr are appended to.
    :param cwd: its working directory.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as output:
        process = subprocess.Popen(
            list(command),
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return record_process(name, process.pid, str(log), command)


@dataclass(frozen=True)
class ProcStat:
    """The fields of ``/proc/PID/stat`` this module needs.

    :param pid: the process id.
    :param state: its state letter (``Z`` for a zombie).
    :param pgid: its process group.
    :param sid: its session.
    :param start: its start time, in clock ticks since boot.
    """

    pid: int
    state: str
    pgid: int
    sid: int
    start: int


def parse_stat(text: str) -> ProcStat:
    """Parse a ``/proc/PID/stat`` line (the command name may hold spaces and parentheses).

    :param text: the file's content.
    """
    pid, _, rest = text.partition(" (")
    fields = rest.rpartition(") ")[2].split()
    return ProcStat(
        pid=int(pid),
        state=fields[0],
        pgid=int(fields[2]),
        sid=int(fields[3]),
        start=int(fields[19]),
    )


def _read_stat(pid: int) -> ProcStat | None:
    try:
        return parse_stat((PROC / str(pid) / "stat").read_text())
    except (OSError, ValueError, IndexError):
        return None


def all_processes() -> list[ProcStat]:
    """Every process on the machine (zombies included), from ``/proc``."""
    found = []
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            stat = _read_stat(int(entry.name))
            if stat is not None:
                found.append(stat)
    return found


def members(leaders: Iterable[int]) -> list[int]:
    """The live (non-zombie) processes in the groups or sessions led by ``leaders``.

    :param leaders: recorded pids, each its own process group and session.
    """
    wanted = set(leaders)
    return sorted(
        stat.pid
        for stat in all_processes()
        if stat.state != "Z" and (stat.pgid in wanted or stat.sid in wanted)
    )


def _signal_group(leader: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(leader, signum)


def _signal_each(pids: Iterable[int], signum: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signum)


def _reap(pids: Iterable[int]) -> None:
    """Collect our own exited children, so they do not linger as zombies."""
    for pid in pids:
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, os.WNOHANG)


def wait_gone(leaders: Iterable[int], timeout: float) -> list[int]:
    """Wait up to ``timeout`` seconds for every process of ``leaders``' groups and sessions
    to exit; return those still alive.

    :param leaders: recorded pids.
    :param timeout: seconds.
    """
    leaders = list(leaders)
    deadline = time.monotonic() + timeout
    while True:
        _reap(leaders)
        alive = members(leaders)
        if not alive or time.monotonic() >= deadline:
            return alive
        time.sleep(_POLL_INTERVAL)


def stop_group(leader: int, *, timeout: float = 30.0, signum: int = signal.SIGTERM) -> list[int]:
    """Stop the process group and session ``leader`` started; return what survived.

    Sends ``signum`` to the group, waits up to ``timeout`` seconds, then sends ``SIGKILL``
    to the group and to every process left in the session (a child that moved to a group of
    its own), and waits a few seconds more.

    :param leader: the recorded pid.
    :param timeout: seconds to wait for a clean exit.
    :param signum: the first signal.
    """
    _signal_group(leader, signum)
    alive = wait_gone([leader], timeout)
    if alive:
        _signal_group(leader, signal.SIGKILL)
        _signal_each(alive, signal.SIGKILL)
        alive = wait_gone([leader], 5.0)
    return alive


def kill_session(leader: int) -> list[int]:
    """``SIGKILL`` everything ``leader`` started, as a crash of its machine would; do not
    wait; return the pids signalled.

    That is its process group and every process left in its session: Airflow's task
    supervisor moves each task process into a group of its own (so that it can signal the
    task alone), and a crash takes those down too.

    :param leader: the recorded pid.
    """
    victims = members([leader])
    _signal_group(leader, signal.SIGKILL)
    _signal_each(victims, signal.SIGKILL)
    return victims


@dataclass(frozen=True, order=True)
class ListeningSocket:
    """A listening TCP socket.

    :param address: the bound address (``127.0.0.1``, ``0.0.0.0``, ``::``...).
    :param port: the port.
    :param inode: the socket's inode, which links it to the processes holding it.
    """

    address: str
    port: int
    inode: int


def _decode_address(hex_address: str) -> str:
    raw = bytes.fromhex(hex_address)
    if len(raw) == 4:
        return ".".join(str(byte) for byte in reversed(raw))
    words = [raw[i : i + 4][::-1] for i in range(0, 16, 4)]
    groups = b"".join(words).hex()
    return ":".join(groups[i : i + 4] for i in range(0, 32, 4))


def parse_proc_net_tcp(text: str) -> list[ListeningSocket]:
    """The listening sockets of a ``/proc/net/tcp`` or ``/proc/net/tcp6`` table.

    :param text: the file's content.
    """
    sockets = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 10 or fields[3] != _TCP_LISTEN:
            continue
        hex_address, hex_port = fields[1].split(":")
        sockets.append(
            ListeningSocket(
                address=_decode_address(hex_address), port=int(hex_port, 16), inode=int(fields[9])
            )
        )
    return sockets


def listening_sockets() -> list[ListeningSocket]:
    """Every listening TCP socket of this network namespace, IPv4 and IPv6."""
    sockets: list[ListeningSocket] = []
    for table in ("tcp", "tcp6"):
        with contextlib.suppress(OSError):
            sockets.extend(parse_proc_net_tcp((PROC / "net" / table).read_text()))
    return sorted(sockets)


def socket_inodes(pid: int) -> set[int]:
    """The inodes of the sockets process ``pid`` holds open.

    :param pid: a process id.
    """
    inodes = set()
    with contextlib.suppress(OSError):
        for fd in (PROC / str(pid) / "fd").iterdir():
            with contextlib.suppress(OSError):
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(int(target[8:-1]))
    return inodes


def listening_by(pids: Iterable[int]) -> list[ListeningSocket]:
    """The listening TCP sockets held by any of ``pids``.

    :param pids: process ids.
    """
    held: set[int] = set()
    for pid in pids:
        held |= socket_inodes(pid)
    return [sock for sock in listening_sockets() if sock.inode in held]
