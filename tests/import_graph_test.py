"""The import graph of bijectors/, glow_ood/ and launch/ points down.

A static (AST) read of every module's imports, deferred imports inside functions
included: no cycle between modules (a package's `__init__` re-exporting its own
modules is not one); `absl.flags` only in `glow_ood/flags/` and `launch/`;
`bijectors/` never imports `glow_ood`; `glow_ood/runs/` never imports
`glow_ood.train` (the trainer writes run folders through it);
`glow_ood/configs/` imports neither TensorFlow nor absl; `glow_ood/` keeps
about ten top-level modules, each with
a docstring.
"""

import ast
import os
import pathlib

REPO = pathlib.Path(__file__).resolve().parent.parent
ROOTS = ("bijectors", "glow_ood", "launch")


def _module_name(path):
  parts = list(path.relative_to(REPO).with_suffix("").parts)
  if parts[-1] == "__init__":
    parts = parts[:-1]
  return ".".join(parts)


def _imports(path, name):
  """Every module name `path` imports (absolute, resolved from relative ones)."""
  tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
  targets = []
  for node in ast.walk(tree):
    if isinstance(node, ast.Import):
      targets += [a.name for a in node.names]
    elif isinstance(node, ast.ImportFrom):
      module = node.module or ""
      if node.level:
        package = name.split(".")
        if path.name != "__init__.py":
          package = package[:-1]
        package = package[:len(package) - node.level + 1]
        module = ".".join(package + ([module] if module else []))
      targets += [module] + [f"{module}.{a.name}" for a in node.names]
  return targets


def _graph():
  files = [p for root in ROOTS for p in (REPO / root).rglob("*.py")]
  names = {_module_name(p): p for p in files}
  graph, imports = {}, {}
  for name, path in names.items():
    imports[name] = _imports(path, name)
    deps = set()
    for target in imports[name]:
      while target and target not in names:
        target = target.rpartition(".")[0]
      if target and target != name and not name.startswith(target + "."):
        deps.add(target)
    graph[name] = deps
  return graph, imports


def _related(a, b):
  return a.startswith(b + ".") or b.startswith(a + ".")


def find_cycles(graph):
  """Cycles `[a, b, ..., a]` through modules that are not all ancestors of each other."""
  state, stack, cycles = {}, [], []

  def visit(node):
    state[node] = "open"
    stack.append(node)
    for dep in sorted(graph.get(node, ())):
      if state.get(dep) == "open":
        cycle = stack[stack.index(dep):] + [dep]
        if not all(_related(a, b) for a, b in zip(cycle, cycle[1:])):
          cycles.append(cycle)
      elif dep not in state:
        visit(dep)
    stack.pop()
    state[node] = "done"

  for node in sorted(graph):
    if node not in state:
      visit(node)
  return cycles


def test_find_cycles_finds_a_cycle_and_ignores_package_reexports():
  assert find_cycles({"a.x": {"a.y"}, "a.y": {"a.x"}}) == [["a.x", "a.y", "a.x"]]
  assert find_cycles({"a": {"a.x"}, "a.x": {"a"}}) == []
  assert find_cycles({"a": {"b"}, "b": set()}) == []


def test_no_cycles():
  graph, _ = _graph()
  cycles = find_cycles(graph)
  assert not cycles, "\n".join(" -> ".join(c) for c in cycles)


def test_layering():
  _, imports = _graph()
  problems = []
  for name, targets in imports.items():
    for target in targets:
      absl_flags = target == "absl.flags" or target.startswith("absl.flags.")
      if absl_flags and name.startswith(("glow_ood", "bijectors")) and not (
          name == "glow_ood.flags" or name.startswith("glow_ood.flags.")):
        problems.append(f"{name} imports absl.flags (only glow_ood.flags and "
                        "launch/ may)")
      if (name == "glow_ood.runs" or name.startswith("glow_ood.runs.")) and (
          target.startswith(("glow_ood.train", "glow_ood.experiments"))):
        problems.append(f"{name} imports {target} (a run folder sits below "
                        "the trainer, which writes it)")
      if name.startswith("bijectors") and target.startswith("glow_ood"):
        problems.append(f"{name} imports {target}")
      if name.startswith("glow_ood.configs") and target.split(".")[0] in (
          "tensorflow", "tensorflow_probability", "absl", "bijectors"):
        problems.append(f"{name} imports {target} (configs are plain "
                        "dataclasses)")
  assert not problems, "\n".join(problems)


def test_top_level_modules_are_few_and_say_their_concern():
  modules = sorted((REPO / "glow_ood").glob("*.py"))
  assert len(modules) <= 11, [m.name for m in modules]
  for path in modules + sorted((REPO / "glow_ood").glob("*/__init__.py")):
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
    assert doc and doc.strip(), f"{os.path.relpath(path, REPO)} has no docstring"
