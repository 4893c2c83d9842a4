"""Processes started in their own sessions, found through /proc and stopped by group."""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from dataclasses import replace
from pathlib import Path

from deploy.processes import (
    ListeningSocket,
    boot_id,
    kill_session,
    listening_by,
    members,
    parse_proc_net_tcp,
    parse_stat,
    start_process,
    stop_group,
    tree,
    wait_gone,
)

# Two /proc/net/tcp rows: 127.0.0.1:8080 listening, and an established connection.
PROC_NET_TCP = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1
   1: 0100007F:1F90 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 4343 1
"""
PROC_NET_TCP6 = """\
  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 99 1
"""  # noqa: E501

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]
# A parent that forks a child which moves to a process group of its own, as Airflow's task
# supervisor does with each task process; both then sleep.
FORKER = [
    sys.executable,
    "-c",
    "import os, time\nif os.fork() == 0:\n    os.setpgid(0, 0)\ntime.sleep(60)\n",
]


def test_parse_stat_reads_group_and_session_past_a_name_with_spaces() -> None:
    line = "123 (airflow worker) -- x) S 1 120 110 0 -1 4194560 100 0 0 0 5 1 0 0 20 0 1 0 98765 1"
    stat = parse_stat(line)
    assert (stat.pid, stat.state, stat.pgid, stat.sid, stat.start) == (123, "S", 120, 110, 98765)


def test_parse_proc_net_tcp_keeps_listening_sockets_only() -> None:
    assert parse_proc_net_tcp(PROC_NET_TCP) == [ListeningSocket("127.0.0.1", 8080, 4242)]


def test_parse_proc_net_tcp6_decodes_the_any_address() -> None:
    (sock,) = parse_proc_net_tcp(PROC_NET_TCP6)
    assert (sock.address, sock.port) == ("0000:0000:0000:0000:0000:0000:0000:0000", 80)


def test_a_started_process_leads_its_own_group_and_session(tmp_path: Path) -> None:
    record = start_process("sleeper", SLEEPER, env=os.environ, log=tmp_path / "s.log", cwd=tmp_path)
    try:
        assert os.getpgid(record.pid) == record.pid
        assert os.getsid(record.pid) == record.pid
        assert members([record.pid]) == [record.pid]
    finally:
        assert stop_group(record.pid, timeout=10) == []
    assert members([record.pid]) == []


def test_a_record_whose_pid_now_names_another_process_has_no_tree(tmp_path: Path) -> None:
    record = start_process("sleeper", SLEEPER, env=os.environ, log=tmp_path / "s.log", cwd=tmp_path)
    try:
        assert tree(record) == [record.pid]
        assert record.boot == boot_id()
        assert tree(replace(record, started=record.started + 1)) == []
        assert tree(replace(record, boot="another-boot")) == []
    finally:
        assert stop_group(record.pid, timeout=10) == []
    assert tree(record) == []


def test_stop_group_also_stops_a_child_that_left_the_group(tmp_path: Path) -> None:
    record = start_process("forker", FORKER, env=os.environ, log=tmp_path / "f.log", cwd=tmp_path)
    _wait_for_members(record.pid, 2)
    child = next(pid for pid in members([record.pid]) if pid != record.pid)
    assert os.getpgid(child) == child
    assert stop_group(record.pid, timeout=1) == []


def test_kill_session_kills_the_group_and_the_processes_that_left_it(tmp_path: Path) -> None:
    record = start_process("forker", FORKER, env=os.environ, log=tmp_path / "f.log", cwd=tmp_path)
    _wait_for_members(record.pid, 2)
    victims = kill_session(record.pid)
    assert len(victims) == 2
    assert wait_gone([record.pid], 10) == []


def test_listening_by_finds_the_sockets_a_process_holds() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        held = listening_by([os.getpid()])
    assert ("127.0.0.1", port) in {(s.address, s.port) for s in held}


def test_stop_group_on_a_dead_group_returns_nothing() -> None:
    record_pid = os.fork()
    if record_pid == 0:
        os._exit(0)
    os.waitpid(record_pid, 0)
    assert stop_group(record_pid, timeout=0.1, signum=signal.SIGTERM) == []


def _wait_for_members(leader: int, count: int) -> None:
    deadline = time.monotonic() + 10
    while len(members([leader])) < count:
        assert time.monotonic() < deadline, "the child did not start"
        time.sleep(0.05)
