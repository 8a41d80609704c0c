r"""Trains an ensemble: M members of one experiment, differing only in their seeds.

  python launch/train_ensemble.py \
      --flagfile=launch/flagfiles/fashion_mnist_glow_cpu.cfg \
      --workdir=runs/fashion_mnist_glow_cpu_ensemble --num_members=3

Member m is `launch/train.py` with the same flags plus `--model_seed=m+offset
--seed=m+offset` (different initial weights and data order, as in the paper's
Appendix E), in `<workdir>/member_<m>`. Members train one after the other;
re-running the command resumes the unfinished ones and skips finished ones.
Every flag other than the ensemble's own is passed to each member unchanged.
Score the ensemble with

  python launch/evaluate.py --workdir=runs/X_ensemble/member_0 \
      --workdir=runs/X_ensemble/member_1 ... --output_dir=...
"""

import importlib
import os
import signal
import subprocess
import sys
import time

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# As the other launchers: glow_ood imports from this checkout, installed or not.
sys.path.insert(0, _REPO)
_OWN_FLAGS = ("--workdir", "--num_members", "--seed_offset")


def _usage(message):
  sys.exit(f"launch/train_ensemble.py: error: {message}\n"
           "usage: python launch/train_ensemble.py --flagfile=<experiment.cfg> "
           "--workdir=<dir> --num_members=<M> [--seed_offset=0] "
           "[other launch/train.py flags]")


_HELP = """
Flags (--workdir and --num_members required):
  --workdir: the ensemble's folder; member m trains in <workdir>/member_<m>.
  --num_members: M >= 2 members.
  --seed_offset: member m gets --model_seed=m+offset --seed=m+offset.
    (default: '0')
  Every other flag goes to each member's launch/train.py unchanged: see
  `python launch/train.py --help` (or glow-ood-train --help) for them.
"""


def parse_args(argv):
  """`(workdir, num_members, seed_offset, flags for launch/train.py)`."""
  if any(arg in ("--help", "-help", "--helpshort", "-?", "-h")
         for arg in argv):
    print(__doc__.strip("\n") + "\n" + _HELP, end="")
    sys.exit(0)
  own, passed = {}, []
  for arg in argv:
    name = arg.split("=", 1)[0]
    if name in _OWN_FLAGS:
      if "=" not in arg:
        _usage(f"{name} needs a value ({name}=...).")
      own[name] = arg.split("=", 1)[1]
    elif name in ("--model_seed", "--seed"):
      _usage(f"{name} is set per member (member m gets m + --seed_offset); "
             "drop it.")
    else:
      passed.append(arg)
  if "--workdir" not in own:
    _usage("--workdir is required.")
  try:
    num_members = int(own.get("--num_members", "0"))
    seed_offset = int(own.get("--seed_offset", "0"))
  except ValueError as e:
    _usage(f"--num_members and --seed_offset take integers ({e}).")
  if num_members < 2:
    _usage(f"--num_members must be >= 2; got {num_members}.")
  if seed_offset < 0:
    _usage(f"--seed_offset must be >= 0; got {seed_offset}.")
  return own["--workdir"], num_members, seed_offset, passed


def member_command(workdir, member, seed_offset, passed):
  seed = member + seed_offset
  return [sys.executable, os.path.join(_REPO, "launch", "train.py"), *passed,
          f"--model_seed={seed}", f"--seed={seed}",
          f"--workdir={os.path.join(workdir, f'member_{member}')}"]


def _error(message):
  """Exits with the one line `launch/train_ensemble.py: error: <message>`."""
  text = " ".join(line.strip() for line in str(message).splitlines()
                  if line.strip())
  sys.exit(f"launch/train_ensemble.py: error: {text}")


def member_config(command):
  """The `TrainConfig` of a member's command line; `None` if its flags do not parse.

  Flags that do not parse are left to launch/train.py to report. Raises
  `ValueError` if they parse into an invalid config.
  """
  sys.path.insert(0, _REPO)
  bootstrap = importlib.import_module("launch.bootstrap")   # env, before TF
  from absl import flags  # pylint: disable=g-import-not-at-top
  from glow_ood import flags as glow_flags  # pylint: disable=g-import-not-at-top
  values = flags.FlagValues()
  glow_flags.define_train_flags(values)
  try:   # flagfiles nest as in launch/train.py
    values(["train.py"] + bootstrap.expand_flagfiles(command[2:]))
  except flags.Error:
    return None
  return glow_flags.to_train_config(values)


def check_members(workdir, command):
  """Before any member trains: --workdir writable, the data there and sound.

  Raises `ValueError` / `FileNotFoundError` with one line (what and the fix).
  """
  from glow_ood import data  # pylint: disable=g-import-not-at-top
  from glow_ood import fileio  # pylint: disable=g-import-not-at-top
  fileio.check_writable(workdir, "--workdir")
  config = member_config(command)
  if config is None:
    return
  data.check_datasets(config.data, [config.data.dataset],
                      splits=("train", "test"),
                      what=f"--dataset={config.data.dataset}")
  data.check_datasets(config.data, config.eval_datasets,
                      what=f"--eval_datasets={','.join(config.eval_datasets)}")


def finished_step(member_dir, command):
  """The step of a member that already trained to its --train_steps, else None.

  Raises `ValueError` (one line: the file and the fix) if the member's
  results.json is empty or damaged.
  """
  if not os.path.exists(os.path.join(member_dir, "results.json")):
    return None   # not finished: no need to parse the command
  config = member_config(command)
  if config is None:
    return None
  from glow_ood.runs import folder as run_folder  # pylint: disable=g-import-not-at-top
  member = os.path.basename(os.path.normpath(member_dir))
  return run_folder.finished_step(
      member_dir, config.train_steps,
      fix=f"delete it and re-run this command: {member}'s training resumes "
      "from its checkpoints and rewrites it")


# launch/train.py's exit code after SIGTERM / Ctrl-C saved a checkpoint
# (glow_ood.train.preemption.EXIT_CODE; not imported: that imports TF).
_PREEMPTED = 75


def _run_member(command):
  """Runs a member's launch/train.py; SIGTERM / SIGINT go to it, not to us.

  The member saves a checkpoint at its next step boundary and exits with
  `_PREEMPTED`; this process waits for it instead of killing it.
  """
  child = subprocess.Popen(command)
  def forward(signum, _):
    child.send_signal(signum)
  previous = {signum: signal.signal(signum, forward)
              for signum in (signal.SIGTERM, signal.SIGINT)}
  try:
    return child.wait()
  finally:
    for signum, handler in previous.items():
      signal.signal(signum, handler)


def train_member(workdir, member, num_members, seed_offset, passed):
  """Trains member `member` in `<workdir>/member_<member>`, unless it finished."""
  start = time.perf_counter()
  member_dir = os.path.join(workdir, f"member_{member}")
  command = member_command(workdir, member, seed_offset, passed)
  step = finished_step(member_dir, command)
  if step is not None:
    print(f"== member {member + 1}/{num_members}: finished at step {step}, "
          f"skipped ({member_dir})", flush=True)
    return
  print(f"== member {member + 1}/{num_members}: seed {member + seed_offset}, "
        f"{member_dir}", flush=True)
  code = _run_member(command)
  if code == _PREEMPTED:
    print(f"launch/train_ensemble.py: member {member} was stopped by a "
          "signal and saved its checkpoint; re-run the same command to resume "
          "the ensemble from there.", file=sys.stderr, flush=True)
    sys.exit(_PREEMPTED)
  if code:
    _error(f"member {member} failed (exit code {code}; launch/train.py said "
           "why above): fix the cause and re-run the same command to resume.")
  print(f"== member {member + 1}/{num_members} done in "
        f"{time.perf_counter() - start:.0f} s", flush=True)


def main(argv):
  workdir, num_members, seed_offset, passed = parse_args(argv)
  try:
    check_members(workdir, member_command(workdir, 0, seed_offset, passed))
    for member in range(num_members):
      train_member(workdir, member, num_members, seed_offset, passed)
  except (ValueError, FileNotFoundError) as e:
    _error(e)
  members = " ".join(f"--workdir={os.path.join(workdir, f'member_{m}')}"
                     for m in range(num_members))
  print(f"\nEnsemble of {num_members} in {workdir}. Score it with:\n"
        f"  python launch/evaluate.py {members}\n"
        f"(results in {os.path.join(workdir, 'ensemble_evaluation')})")


def console_main():
  """The console script `glow-ood-train-ensemble` (setup.py), from any folder."""
  main(sys.argv[1:])


if __name__ == "__main__":
  console_main()
