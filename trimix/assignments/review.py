"""What a human should look at in a submission: code aimed at the grader rather than at the exercise.

Read with :mod:`ast` from the notebook's own cells (its CHECK cells are the instructor's and are left out).
Each finding names the cell and what it does: touching ``trimix.checks`` or the kit's modules, ``sys.modules``,
interpreter hooks (``sys.setprofile``/``settrace``, audit hooks, frames), IPython's exception and input hooks,
``__file__`` and other dunders that reach code or files, ``exec``/``eval``, files outside the notebook's folder,
processes, and an exercise body that calls the kit's own answer or copies its source. The honest ways of
writing the exercises (the instructor's solutions among them) are never flagged: ``tests/test_review.py``.
"""
from __future__ import annotations

import ast
import inspect
import sys
import textwrap
from pathlib import PurePosixPath, PureWindowsPath

from trimix.assignments.source import python_source

HOOKS = {"sys.setprofile", "sys.settrace", "sys.addaudithook", "sys._getframe", "sys.excepthook",
         "sys.displayhook", "sys.breakpointhook", "threading.setprofile", "threading.settrace",
         "inspect.currentframe", "inspect.stack"}
HOOK_MODULES = ("gc", "ctypes")
PROCESS = {"os._exit", "os.kill", "os.killpg", "os.system", "os.fork", "os.popen", "sys.exit"}
PROCESS_MODULES = ("subprocess", "signal", "multiprocessing", "pty")
EXEC = {"exec", "eval", "compile", "__import__", "builtins.exec", "builtins.eval", "builtins.compile",
        "importlib.import_module", "importlib.reload", "runpy.run_path", "runpy.run_module"}
DUNDERS = {"__file__", "__path__", "__spec__", "__loader__", "__code__", "__globals__", "__closure__",
           "__wrapped__", "__builtins__", "__subclasses__", "__import__"}
OUTSIDE_CALLS = {"os.chdir", "os.path.expanduser", "pathlib.Path.home", "pathlib.Path.cwd", "os.getcwd"}
MAGIC_METHODS = {"run_line_magic", "run_cell_magic", "system", "getoutput"}  # what %magic and !cmd become
CHECKS_PUBLIC = ("check_", "CheckFailed", "CHECKS")


def looks_outside(text: str) -> bool:
    """A word of ``text`` that is a path outside the current folder: absolute, from home, or through ``..``."""
    for word in text.replace("'", " ").replace('"', " ").split():
        if "://" in word:
            continue  # a URL
        if word.startswith("~") or ".." in PurePosixPath(word).parts or ".." in PureWindowsPath(word).parts:
            return True
        rooted = word.startswith("/") and len(word) > 1 and (word[1].isalnum() or word[1] in "._~")
        if rooted or (len(word) > 2 and word[1] == ":" and word[0].isalpha() and word[2] in "\\/"):
            return True
    return False


class Finder(ast.NodeVisitor):
    """Walks one cell, resolving the names its imports (in any cell) gave to modules."""

    def __init__(self, aliases: dict[str, str], exercises: set[str]):
        self.aliases, self.exercises = aliases, exercises
        self.found: list[str] = []
        self.function: str | None = None  # the exercise whose body is being read

    def qualname(self, node: ast.AST) -> str | None:
        """``s.modules`` -> ``sys.modules`` when ``import sys as s``; ``get_ipython()`` -> ``IPython.shell``."""
        if isinstance(node, ast.Name):
            return self.aliases.get(node.id, node.id)
        if isinstance(node, ast.Attribute):
            base = self.qualname(node.value)
            return f"{base}.{node.attr}" if base else None
        if isinstance(node, ast.Call) and self.qualname(node.func) in ("get_ipython", "IPython.get_ipython"):
            return "IPython.shell"
        return None

    def flag(self, what: str) -> None:
        kind = what.split(" (")[0]  # one finding per kind and cell: `a.b.c` also visits `a.b`
        if not any(f.split(" (")[0] == kind for f in self.found):
            self.found.append(what)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.imported(alias.name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        for alias in node.names:
            if not (node.module == "trimix.checks" and alias.name.startswith(CHECKS_PUBLIC)):
                self.imported(f"{node.module}.{alias.name}")

    def imported(self, name: str) -> None:
        self.look(name, imported=True)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        outer = self.function
        if outer is None and node.name.startswith("my_") and node.name[3:] in self.exercises:
            self.function = node.name[3:]
        self.generic_visit(node)
        self.function = outer

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Attribute(self, node: ast.Attribute) -> None:
        name = self.qualname(node)
        if name:
            self.look(name, store=isinstance(node.ctx, (ast.Store, ast.Del)))
        if node.attr in DUNDERS:
            self.flag(f"uses {node.attr}")
        if node.attr in ("parent", "parents") and _reaches_cwd(node.value):
            self.flag("reaches the folder above the notebook's")
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        if node.id in DUNDERS:
            self.flag(f"uses {node.id}")
        elif node.id in self.aliases and isinstance(node.ctx, ast.Load):
            self.look(self.aliases[node.id])

    def visit_Subscript(self, node: ast.Subscript) -> None:
        if isinstance(node.ctx, (ast.Store, ast.Del)) and (self.qualname(node.value) or "").startswith("trimix"):
            self.flag(f"changes {self.qualname(node.value)}")
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        name = self.qualname(node.func) or ""
        if name in EXEC:
            self.flag(f"calls {name}")
        if name in ("setattr", "delattr", "vars") and node.args:
            target = self.qualname(node.args[0]) or ""
            if target.startswith(("trimix", "sys", "builtins", "torch")):
                self.flag(f"calls {name} on {target}")
        if name.startswith("IPython.shell.") and name.split(".")[-1] in MAGIC_METHODS:
            for arg in node.args:  # a magic's words: %run ../x.ipynb, !cat /etc/...
                self.visit(arg)
            return
        if self.function and name.startswith("trimix.") and name.split(".")[-1] == self.function:
            self.flag(f"my_{self.function} calls the kit's own answer, {name}")
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str):
            if "trimix.checks" in node.value and not node.value.startswith("trimix.checks.check_"):
                self.flag("names the module trimix.checks in a string")
            if looks_outside(node.value):
                self.flag(f"names a path outside the notebook's folder ({node.value.split()[0][:40]!r})")

    def look(self, name: str, store: bool = False, imported: bool = False) -> None:
        """Flag ``name`` (a module path) when it is one of the things a human should see."""
        root = name.split(".")[0]
        if name.startswith("trimix.checks") and not name.startswith(tuple(f"trimix.checks.{p}" for p in
                                                                          CHECKS_PUBLIC)):
            self.flag(f"{'changes' if store else 'uses'} {name}")
        elif store and root == "trimix":
            self.flag(f"changes {name}")
        elif name.startswith("sys.modules"):
            self.flag("uses sys.modules")
        elif name in HOOKS or root in HOOK_MODULES:
            self.flag(f"uses {name if name in HOOKS else root}")
        elif name in PROCESS or root in PROCESS_MODULES:
            self.flag(f"uses {name if name in PROCESS else root}")
        elif (root == "IPython" and not name.startswith("IPython.display")) and not imported \
                and name.split(".")[-1] not in MAGIC_METHODS:
            self.flag("uses IPython's shell (" + name.replace("IPython.shell", "get_ipython()") + ")")
        elif name in OUTSIDE_CALLS:
            self.flag(f"uses {name}")
        elif store and root in ("sys", "builtins", "torch"):
            self.flag(f"changes {name}")


def _reaches_cwd(node: ast.AST) -> bool:
    """``Path.cwd()``, ``Path().resolve()``, ``os.getcwd()``...: an expression that starts from a real folder."""
    return any(isinstance(n, ast.Call) and getattr(n.func, "attr", getattr(n.func, "id", "")) in
               ("cwd", "getcwd", "resolve", "absolute", "home") for n in ast.walk(node))


def _aliases(trees: list[ast.AST]) -> dict[str, str]:
    """Local name -> module path, from every import of the notebook (``import torch.nn.functional as F``,
    ``from trimix import checks``) and plain aliases (``s = sys``, ``ip = get_ipython()``)."""
    aliases: dict[str, str] = {"get_ipython": "get_ipython"}
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    aliases[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
            elif isinstance(node, ast.ImportFrom) and node.module:
                for a in node.names:
                    aliases[a.asname or a.name] = f"{node.module}.{a.name}"
    finder = Finder(aliases, set())
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                name = finder.qualname(node.value)
                if name and name.split(".")[0] in set(aliases.values()) | {"IPython"}:
                    aliases[node.targets[0].id] = name
    return aliases


def _body_dump(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    """The statements of a function without its docstring, its arguments renamed by position."""
    names = {a.arg: f"arg{i}" for i, a in enumerate(fn.args.posonlyargs + fn.args.args + fn.args.kwonlyargs)}
    body = fn.body[1:] if ast.get_docstring(fn) is not None else fn.body

    class Rename(ast.NodeTransformer):
        def visit_Name(self, node: ast.Name) -> ast.Name:
            return ast.copy_location(ast.Name(names.get(node.id, node.id), node.ctx), node)

    return [ast.dump(Rename().visit(ast.parse(ast.unparse(st)).body[0])) for st in body]


def kit_bodies(name: str) -> dict[str, list[str]]:
    """``module.function`` -> its normalised body, for each function of the kit called ``name``."""
    out = {}
    for module_name, module in list(sys.modules.items()):
        fn = getattr(module, name, None) if module_name.startswith("trimix") and module else None
        fn = inspect.unwrap(fn) if inspect.isfunction(fn) else None
        if fn is not None and fn.__module__ == module_name:
            try:
                tree = ast.parse(textwrap.dedent(inspect.getsource(fn))).body[0]
            except (OSError, TypeError, SyntaxError):
                continue
            out[f"{module_name}.{name}"] = _body_dump(tree)
    return out


def copied_from_kit(fn: ast.FunctionDef | ast.AsyncFunctionDef, exercise: str) -> str | None:
    """The kit's function whose body ``my_<exercise>`` copies (two statements or more of it, verbatim)."""
    mine = _body_dump(fn)
    for where, theirs in kit_bodies(exercise).items():
        if len(theirs) >= 2 and sum(st in mine for st in theirs) >= min(len(theirs), 2) + (len(theirs) > 2):
            return where
    return None


def review(nb, exercises: set[str], skip=lambda cell: False) -> list[str]:
    """What a human should look at in ``nb``: one ``cell N: what`` line per finding, in cell order."""
    trees: dict[int, ast.Module] = {}
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and not skip(cell):
            try:
                trees[index] = ast.parse(python_source(cell.source))
            except (SyntaxError, ValueError):
                continue
    aliases = _aliases(list(trees.values()))
    findings = []
    for index, tree in trees.items():
        finder = Finder(aliases, exercises)
        finder.visit(tree)
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name[3:] in exercises \
                    and node.name.startswith("my_") and (kit := copied_from_kit(node, node.name[3:])):
                finder.flag(f"{node.name} copies the kit's {kit}")
            if isinstance(node, ast.Assign) and any(getattr(t, "id", "").startswith("my_") for t in node.targets):
                target = (finder.qualname(node.value) or "")
                if target.startswith("trimix"):
                    finder.flag(f"binds {node.targets[0].id} to the kit's {target}")
        findings += [f"cell {index}: {what}" for what in finder.found]
    return findings
