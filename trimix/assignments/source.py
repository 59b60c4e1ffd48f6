"""A notebook's code read without running it: its top-level statements, the names each binds and needs, and
the smallest program that defines a given function (its imports, helpers and constants, not the other cells).

The grader scores an exercise by loading ``my_<name>`` this way into a fresh process: a cell that prints,
trains, patches a module or registers a hook is not a definition the function needs, so it never runs there.
"""
from __future__ import annotations

import ast
import symtable
from dataclasses import dataclass, field

# Cell magics whose body is Python that IPython runs (``%%time`` on an exercise cell still defines it).
PYTHON_CELL_MAGICS = {"time", "timeit", "capture", "prun"}
LOADABLE = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


@dataclass(frozen=True)
class Statement:
    """One top-level statement of a code cell."""

    cell: int  # index of its cell in the notebook
    line: int  # its first line in the cell (1-based)
    source: str  # its Python text (IPython's magics already turned into calls)
    binds: frozenset[str]  # names it gives a value at the top level
    uses: frozenset[str]  # top-level names it reads, when it runs or when a function it defines runs
    loadable: bool  # a definition the grader runs on its own: import, def, class or plain assignment

    @property
    def where(self) -> str:
        return f"cell {self.cell}" + (f", line {self.line}" if self.line > 1 else "")

    @property
    def first_line(self) -> str:
        return self.source.strip().split("\n")[0][:60]


@dataclass
class Code:
    """The top-level statements of a notebook's code cells, in order, and the cells that could not be read."""

    statements: list[Statement] = field(default_factory=list)
    errors: dict[int, str] = field(default_factory=dict)  # cell index -> why it could not be parsed

    def last_binding(self, name: str, until_cell: int | None = None) -> Statement | None:
        """The statement that gives ``name`` its value when the cells up to ``until_cell`` have run."""
        found = None
        for st in self.statements:
            if until_cell is not None and st.cell > until_cell:
                break
            if name in st.binds:
                found = st
        return found


def python_source(cell_source: str) -> str:
    """A cell's text as plain Python: line magics become ``get_ipython()`` calls (as IPython runs them), and
    the body of a ``%%time``-like cell magic is kept; other cell magics (``%%bash``, ...) hold no Python."""
    from IPython.core.inputtransformer2 import TransformerManager

    first, _, rest = cell_source.lstrip().partition("\n")
    if first.startswith("%%"):
        magic = first[2:].split(maxsplit=1)[0] if first[2:].strip() else ""
        if magic not in PYTHON_CELL_MAGICS:
            return ""
        cell_source = rest
    return TransformerManager().transform_cell(cell_source)


def _names(table: symtable.SymbolTable) -> tuple[set[str], set[str]]:
    """(bound at the top, read from the top level) for the statement ``table`` was built from."""
    binds = {s.get_name() for s in table.get_symbols() if s.is_assigned() or s.is_imported() or s.is_namespace()}
    uses = {s.get_name() for s in table.get_symbols() if s.is_referenced()}
    stack = list(table.get_children())
    while stack:  # functions, classes, lambdas and comprehensions read top-level names as globals
        child = stack.pop()
        uses |= {s.get_name() for s in child.get_symbols() if s.is_global() and s.is_referenced()}
        stack += child.get_children()
    return binds, uses


def _is_magic_call(node: ast.stmt) -> bool:
    """``get_ipython().run_line_magic(...)``: what a ``%pip`` line turns into."""
    call = node.value if isinstance(node, ast.Expr) else None
    return (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
            and isinstance(call.func.value, ast.Call) and getattr(call.func.value.func, "id", "") == "get_ipython")


def is_loadable(node: ast.stmt) -> bool:
    """A statement that only defines names: an import, a def or class, an assignment to plain names, or a
    ``try`` of imports (the Colab install cell). Loops, ``if`` blocks, calls and attribute or item
    assignments (``trimix.checks.x = ...``, ``sys.modules[...] = ...``) are never loaded."""
    if isinstance(node, LOADABLE):
        return True
    if isinstance(node, (ast.Assign, ast.AnnAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        plain = all(isinstance(n, (ast.Name, ast.Tuple, ast.List, ast.Starred, ast.Store)) for t in targets
                    for n in ast.walk(t) if not isinstance(n, ast.expr_context))
        return plain and node.value is not None
    if isinstance(node, ast.Try):
        body = node.body + node.orelse + node.finalbody + [s for h in node.handlers for s in h.body]
        return all(isinstance(s, (ast.Import, ast.ImportFrom, ast.Pass)) or _is_magic_call(s) for s in body)
    return False


def read_code(nb, skip=lambda cell: False) -> Code:
    """The top-level statements of the code cells of ``nb`` (except those ``skip`` says to leave out)."""
    code = Code()
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or skip(cell):
            continue
        try:
            text = python_source(cell.source)
            tree = ast.parse(text)
        except (SyntaxError, ValueError) as e:
            code.errors[index] = f"{type(e).__name__}: {getattr(e, 'msg', e)} (line {getattr(e, 'lineno', '?')})"
            continue
        for node in tree.body:
            source = _segment(text, node)
            binds, uses = _names(symtable.symtable(source, f"cell {index}", "exec"))
            code.statements.append(Statement(index, _first_line(node), source, frozenset(binds), frozenset(uses),
                                             is_loadable(node)))
    return code


def _first_line(node: ast.stmt) -> int:
    return min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])


def _segment(text: str, node: ast.stmt) -> str:
    """The text of one statement; a decorated def or class from its first decorator on."""
    if getattr(node, "decorator_list", None):
        return "\n".join(text.split("\n")[_first_line(node) - 1: node.end_lineno])
    return ast.get_source_segment(text, node) or ast.unparse(node)


def only(st: Statement, names: set[str]) -> Statement:
    """An import statement cut down to the names in ``names`` (``from trimix import viz, experiments`` ->
    ``from trimix import experiments``): importing a module the function does not use is work, and runs its
    code. Any other statement is returned as it is."""
    node = ast.parse(st.source).body[0] if st.source.startswith(("import ", "from ")) else None
    if not isinstance(node, (ast.Import, ast.ImportFrom)) or not st.binds - names:
        return st
    node.names = [a for a in node.names if (a.asname or a.name.split(".")[0]) in names]
    kept = frozenset(a.asname or a.name.split(".")[0] for a in node.names)
    return Statement(st.cell, st.line, ast.unparse(node), kept, st.uses, st.loadable)


@dataclass
class Program:
    """What defines some names: the statements to run, in notebook order, and the names left to others."""

    statements: list[Statement]
    supplied: set[str]  # names needed but supplied from elsewhere (the reference stand-ins)
    missing: dict[str, str]  # name -> why the grader cannot load it (a cell that computes it, ...)


def program(code: Code, names: set[str], until_cell: int | None = None,
            supplied: frozenset[str] | set[str] = frozenset()) -> Program:
    """The statements that define ``names`` as they are once the cells up to ``until_cell`` have run, with
    what those statements need, transitively; names in ``supplied`` are left out (and listed as such)."""
    index = {id(st): i for i, st in enumerate(code.statements)}
    chosen: dict[int, Statement] = {}
    result = Program([], set(), {})
    todo, seen = list(names), set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        if name in supplied:
            result.supplied.add(name)
            continue
        st = code.last_binding(name, until_cell)
        if st is not None and not st.loadable:
            result.missing[name] = (f"`{name}` is set by {st.where} (`{st.first_line}`), which the grader does "
                                    "not run: it loads only imports, functions, classes and assignments")
        if st is None or not st.loadable:
            continue  # a builtin, or a name nothing defines: running the function says so
        chosen[index[id(st)]] = st
        todo += [n for n in st.uses if n not in seen]
    result.statements = [only(chosen[i], seen) for i in sorted(chosen)]
    return result
