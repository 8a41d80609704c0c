"""Tests of `glow_ood.runs.lock`: one writer per folder, the holder named, stale locks taken over."""

import fcntl
import json
import os
import socket
import subprocess
import sys
import time

import pytest

from glow_ood.runs import lock as run_lock

HOST = socket.gethostname()


def dead_pid():
  """The pid of a process of this host that has ended."""
  process = subprocess.Popen([sys.executable, "-c", "pass"])
  process.wait()
  return process.pid


def write_record(folder, host=HOST, pid=None, age=0.):
  """A holder's record in `<folder>/writer.lock`, its heartbeat `age` s old."""
  os.makedirs(folder, exist_ok=True)
  path = os.path.join(folder, run_lock.LOCK_FILE)
  with open(path, "w", encoding="utf-8") as f:
    json.dump({"host": host, "pid": dead_pid() if pid is None else pid,
               "program": "launch/train.py", "command": "launch/train.py "
               "--workdir=x", "started": "2025-01-02 03:04:05 UTC"}, f)
  then = time.time() - age
  os.utime(path, (then, then))
  return path


@pytest.fixture
def os_held(tmp_path):
  """`<tmp>/run/writer.lock` locked by another open file (as another process
  would), with a record naming pid 4242 of this host."""
  path = write_record(str(tmp_path / "run"), pid=4242)
  fd = os.open(path, os.O_RDWR)
  fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
  yield path
  os.close(fd)


def test_hold_records_this_process_and_leaves_nothing_behind(tmp_path):
  folder = tmp_path / "new" / "run"
  with run_lock.hold(str(folder)):
    holder = run_lock.read_holder(str(folder))
    assert (holder.host, holder.pid) == (HOST, os.getpid())
    assert holder.heartbeat_age < 60
  # The folders it made are removed again when nothing else was written.
  assert not (tmp_path / "new").exists()
  with run_lock.hold(str(folder)):
    (folder / "config.json").write_text("{}")
  assert os.listdir(folder) == ["config.json"]


def test_a_held_lock_refuses_in_one_line_naming_the_holder(os_held, tmp_path):
  before = open(os_held, "rb").read()
  with pytest.raises(run_lock.RunFolderBusyError) as info:
    with run_lock.hold(str(tmp_path / "run"), fix="pass another --workdir"):
      pytest.fail("entered a held folder")
  message = str(info.value)
  assert "\n" not in message
  for needle in ("is in use by launch/train.py", "pid 4242", f"host {HOST}",
                 "heartbeat 0 s ago", "`kill 4242`",
                 "or pass another --workdir."):
    assert needle in message, message
  assert info.value.holder.pid == 4242
  assert open(os_held, "rb").read() == before   # the holder's file is intact


def test_a_stale_lock_of_this_host_is_taken_over(tmp_path, capsys):
  folder = tmp_path / "run"
  pid = dead_pid()
  write_record(str(folder), pid=pid, age=5.)
  with run_lock.hold(str(folder)):
    assert run_lock.read_holder(str(folder)).pid == os.getpid()
  out = capsys.readouterr().out
  assert out.count("\n") == 1, out
  assert (f"Took over the lock {folder / 'writer.lock'} left by "
          f"launch/train.py (pid {pid} on host {HOST}") in out
  assert "no longer holds it" in out
  assert not (folder / "writer.lock").exists()


def test_another_hosts_lock_is_live_until_its_heartbeat_is_stale(tmp_path,
                                                                  capsys):
  folder = tmp_path / "run"
  write_record(str(folder), host="node-7", pid=99, age=30.)
  with pytest.raises(run_lock.RunFolderBusyError,
                     match=r"pid 99 on host node-7.*heartbeat 30 s ago.*"
                     r"stale 2 min after its last heartbeat"):
    with run_lock.hold(str(folder)):
      pass
  assert run_lock.read_holder(str(folder)).host == "node-7"
  write_record(str(folder), host="node-7", pid=99,
               age=run_lock.STALE_SECONDS + 60)
  with run_lock.hold(str(folder)):
    pass
  assert "its heartbeat stopped 3 min ago" in capsys.readouterr().out


def test_without_os_locks_a_live_pid_refuses_and_a_dead_one_is_stale(
    tmp_path, monkeypatch, capsys):
  monkeypatch.setattr(run_lock, "fcntl", None)
  folder = tmp_path / "run"
  write_record(str(folder), pid=os.getppid())
  with pytest.raises(run_lock.RunFolderBusyError, match=f"pid {os.getppid()}"):
    with run_lock.hold(str(folder)):
      pass
  write_record(str(folder))
  with run_lock.hold(str(folder)):
    pass
  assert "that process is no longer alive" in capsys.readouterr().out


def test_holds_are_reentrant_in_one_process_and_heartbeat(tmp_path,
                                                          monkeypatch):
  monkeypatch.setattr(run_lock, "HEARTBEAT_SECONDS", 0.05)
  folder = str(tmp_path / "run")
  with run_lock.hold_all([folder, folder]):
    path = os.path.join(folder, run_lock.LOCK_FILE)
    then = time.time() - 100
    os.utime(path, (then, then))
    with run_lock.hold(folder):
      time.sleep(0.3)
      assert run_lock.read_holder(folder).heartbeat_age < 5
    assert os.path.exists(path)   # still held by the outer block
  assert not os.path.exists(path)


def test_a_second_process_is_refused_and_the_lock_dies_with_its_holder(
    tmp_path):
  folder = str(tmp_path / "run")
  holder = subprocess.Popen(
      [sys.executable, "-c", "import importlib.util, sys, time\n"
       f"spec = importlib.util.spec_from_file_location('l', {run_lock.__file__!r})\n"
       "lock = importlib.util.module_from_spec(spec)\n"
       "spec.loader.exec_module(lock)\n"
       f"with lock.hold({folder!r}):\n"
       "  print('held', flush=True)\n"
       "  time.sleep(600)\n"], stdout=subprocess.PIPE, text=True)
  try:
    assert holder.stdout.readline() == "held\n"
    with pytest.raises(run_lock.RunFolderBusyError, match=f"pid {holder.pid}"):
      with run_lock.hold(folder):
        pass
  finally:
    holder.kill()
    holder.wait()
  with run_lock.hold(folder):   # killed: the OS released its lock
    assert run_lock.read_holder(folder).pid == os.getpid()
