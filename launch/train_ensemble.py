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

import os
import subprocess
import sys
import time

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_OWN_FLAGS = ("--workdir", "--num_members", "--seed_offset")


def _usage(message):
  sys.exit(f"launch/train_ensemble.py: error: {message}\n"
           "usage: python launch/train_ensemble.py --flagfile=<experiment.cfg> "
           "--workdir=<dir> --num_members=<M> [--seed_offset=0] "
           "[other launch/train.py flags]")


def parse_args(argv):
  """`(workdir, num_members, seed_offset, flags for launch/train.py)`."""
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


def _train_steps(command):
  """--train_steps the member's command line gives (None if it does not parse)."""
  sys.path.insert(0, _REPO)
  from launch import bootstrap  # pylint: disable=g-import-not-at-top,unused-import
  from absl import flags  # pylint: disable=g-import-not-at-top
  from glow_ood import flags as glow_flags  # pylint: disable=g-import-not-at-top
  values = flags.FlagValues()
  glow_flags.define_train_flags(values)
  try:
    values(["train.py"] + command[2:])
  except flags.Error:
    return None
  return values.train_steps


def finished_step(member_dir, command):
  """The step of a member that already trained to its --train_steps, else None."""
  if not os.path.exists(os.path.join(member_dir, "results.json")):
    return None   # not finished: no need to parse the command
  train_steps = _train_steps(command)
  if train_steps is None:
    return None
  from glow_ood import run_folder  # pylint: disable=g-import-not-at-top
  return run_folder.finished_step(member_dir, train_steps)


def main(argv):
  workdir, num_members, seed_offset, passed = parse_args(argv)
  for member in range(num_members):
    start = time.perf_counter()
    member_dir = os.path.join(workdir, f"member_{member}")
    command = member_command(workdir, member, seed_offset, passed)
    step = finished_step(member_dir, command)
    if step is not None:
      print(f"== member {member + 1}/{num_members}: finished at step {step}, "
            f"skipped ({member_dir})", flush=True)
      continue
    print(f"== member {member + 1}/{num_members}: seed {member + seed_offset}, "
          f"{member_dir}", flush=True)
    code = subprocess.call(command)
    if code:
      sys.exit(f"launch/train_ensemble.py: member {member} failed (exit code "
               f"{code}); fix the cause and re-run the same command to resume.")
    print(f"== member {member + 1}/{num_members} done in "
          f"{time.perf_counter() - start:.0f} s", flush=True)
  members = " ".join(f"--workdir={os.path.join(workdir, f'member_{m}')}"
                     for m in range(num_members))
  print(f"\nEnsemble of {num_members} in {workdir}. Score it with:\n"
        f"  python launch/evaluate.py {members} "
        f"--output_dir={os.path.join(workdir, 'evaluation')}")


if __name__ == "__main__":
  main(sys.argv[1:])
