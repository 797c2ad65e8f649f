"""Refuse generated Python that could reach anything but a backtest: an allow-list check.

A Pine script is untrusted (pasted from the internet, sent back by an LLM endpoint) and its
translation is Python that a worker imports. PyneCore's Pine namespaces are ordinary modules
that carry their implementation's imports (`log.os`, `math.builtins`, `color._os`, `ta.lib`),
and the transpiler passes unknown members through, so a deny-list cannot hold. This check
resolves every name and attribute chain of the module instead, and accepts only:

- the Pine names PyneCore implements (`pine_api.txt`, generated and checked against PyneCore)
  and the few runtime helpers the transpiler imports (`pine_api.TRANSPILER_HELPERS`);
- the script's own definitions: variables, functions, UDTs with their fields, enums;
- a short list of Python builtins the transpiler emits (`float`, `enumerate`, `min`, ...);
- the Python statements and expressions the transpiler emits, in the places it emits them.

Everything else is refused with the construct named and, where the Pine text shows it, the
Pine line: modules and namespaces used as values, names starting with `_` outside the
script's own variables, builtins Pine does not have, lambdas except a UDT field's default,
classes except UDTs and enums, global/nonlocal/try/with/del/import inside code, f-strings,
star-arguments, match statements. Name resolution follows Python's own scoping (module names
are visible only after they are bound at import time; a name no scope binds would fall back to
Python's builtins, so it is refused).
"""

from __future__ import annotations

import ast
import hashlib
import re
from dataclasses import dataclass, field

from tvdesk.errors import PineError
from tvdesk.pine.pine_api import (
    BUILTIN_OBJECT_FIELDS,
    LIB_HELPERS,
    TRANSPILER_HELPERS,
    PineApi,
    pine_api,
)

# Bump when the rules below change: it is part of the transpile cache key (with the allow-list's
# digest), so nothing checked by older rules is reused.
RULES_VERSION = "2"

# Builtins the transpiler emits. Called: all of them; named bare: only the types.
BUILTIN_FUNCTIONS = frozenset({"abs", "all", "any", "bool", "dict", "enumerate", "float", "int",
                               "isinstance", "list", "max", "min", "pow", "round", "str", "sum"})
BUILTIN_TYPES = frozenset({"bool", "dict", "float", "int", "list", "str"})

# Attribute names that lead from a value to code, frames or the interpreter, and the string
# methods that interpret a format language. Refused even when a UDT declares such a field.
FORBIDDEN_ATTRIBUTES = frozenset({
    "format", "format_map", "mro", "gi_frame", "gi_code", "gi_yieldfrom", "gi_running",
    "cr_frame", "cr_code", "cr_await", "ag_frame", "ag_code", "ag_await", "f_back",
    "f_builtins", "f_code", "f_globals", "f_locals", "f_trace", "f_lasti", "f_lineno",
    "tb_frame", "tb_next", "tb_lasti", "co_code", "co_consts", "co_names", "co_varnames",
    "func_globals", "func_code", "im_func", "im_self", "fget", "fset", "fdel", "load_module",
    "exec_module", "system", "popen", "spawn", "fork",
})

_ALLOWED_CONSTANTS = (str, int, float, bool, type(None))


class RefusedScript(PineError):
    """A script the safety check refuses: bad input (exit 2), never run."""

    exit_code = 2

    def __init__(self, message: str, *, line: int | None = None, construct: str = "") -> None:
        super().__init__(message, line=line, feature=construct or None)
        self.construct = construct


def check_version() -> str:
    """What a transpile cache entry's key must carry: these rules and this allow-list."""
    digest = hashlib.sha256(f"{RULES_VERSION}:{pine_api().digest}".encode())
    return digest.hexdigest()[:12]


# --------------------------------------------------------------------------------------------
# Symbols: what a name stands for


@dataclass(frozen=True, slots=True)
class Symbol:
    """kind: api, helper, builtin, udt, enum, function, variable."""

    kind: str
    path: str = ""            # api: the Pine path; helper: its role
    members: frozenset[str] = frozenset()  # udt: fields + new/copy; enum: members


_VARIABLE = Symbol("variable")
_FUNCTION = Symbol("function")


@dataclass(slots=True)
class _Scope:
    kind: str                           # module, class, function, lambda
    names: dict[str, Symbol] = field(default_factory=dict)
    parent: _Scope | None = None


class _Refusal(Exception):
    def __init__(self, node: ast.AST | None, construct: str, reason: str) -> None:
        super().__init__(reason)
        self.node = node
        self.construct = construct
        self.reason = reason


def _dotted(node: ast.AST) -> list[str] | None:
    """`a.b.c` -> ['a', 'b', 'c']; None when the chain does not start at a name."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return parts[::-1]
    return None


def _bad_binding(name: str) -> bool:
    """Names a script may not bind: dunders and PyneCore's reserved spellings."""
    return name.startswith("__") or "·" in name


class _Checker:
    """One pass over a module; raises _Refusal at the first construct it cannot allow."""

    def __init__(self, api: PineApi) -> None:
        self.api = api
        self.module = _Scope("module")
        self.instance_fields: set[str] = set(BUILTIN_OBJECT_FIELDS)
        self.script_functions: set[str] = set()

    # ---- module level ---------------------------------------------------------------------

    def check_module(self, tree: ast.Module) -> None:
        self._collect_script_definitions(tree)
        for stmt in tree.body:
            if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) \
                    and isinstance(stmt.value.value, str):
                continue  # docstring
            if isinstance(stmt, ast.ImportFrom):
                self._import_from(stmt)
            elif isinstance(stmt, ast.Import):
                names = ", ".join(alias.name for alias in stmt.names)
                raise _Refusal(stmt, f"import {names}",
                               "Pine library imports are not supported by the local engine")
            elif isinstance(stmt, ast.ClassDef):
                self._class(stmt)
            elif isinstance(stmt, ast.FunctionDef):
                self._main(stmt)
            elif isinstance(stmt, (ast.Assign, ast.AnnAssign)):
                self._module_assignment(stmt)
            else:
                raise _Refusal(stmt, type(stmt).__name__,
                               f"a module-level {type(stmt).__name__} is not something the "
                               "transpiler writes")

    def _collect_script_definitions(self, tree: ast.Module) -> None:
        """UDT fields and script function names, wherever declared (attributes are by name)."""
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                for stmt in node.body:
                    target: ast.expr | None = (
                        stmt.target if isinstance(stmt, ast.AnnAssign) else None)
                    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
                        target = stmt.targets[0]
                    if isinstance(target, ast.Name):
                        self.instance_fields.add(target.id)
            elif isinstance(node, ast.FunctionDef):
                self.script_functions.add(node.name)
        bad = sorted(self.instance_fields & FORBIDDEN_ATTRIBUTES)
        if bad:
            raise _Refusal(None, bad[0], f"a field named `{bad[0]}` is not allowed by the local "
                           "engine (Python gives that name a meaning of its own); rename it")

    def _import_from(self, stmt: ast.ImportFrom) -> None:
        module = stmt.module or ""
        if stmt.level:
            raise _Refusal(stmt, f"from {'.' * stmt.level}{module} import",
                           "relative imports are not allowed")
        for alias in stmt.names:
            if alias.name == "*":
                raise _Refusal(stmt, f"from {module} import *", "star imports are not allowed")
            symbol = self._importable(module, alias.name)
            if symbol is None:
                shown = f"{module}.{alias.name}" if module != "pynecore.lib" else alias.name
                raise _Refusal(stmt, shown, f"`{shown}` is not part of Pine")
            self._bind(self.module, alias.asname or alias.name, symbol, stmt)

    def _importable(self, module: str, name: str) -> Symbol | None:
        if module == "pynecore.lib":
            if name in LIB_HELPERS:
                return Symbol("helper", LIB_HELPERS[name])
            entry = self.api.top_level(name)
            return Symbol("api", name) if entry else None
        role = TRANSPILER_HELPERS.get(module, {}).get(name)
        return Symbol("helper", role) if role else None

    def _bind(self, scope: _Scope, name: str, symbol: Symbol, node: ast.AST) -> None:
        if _bad_binding(name):
            raise _Refusal(node, name, f"the name `{name}` is reserved")
        scope.names[name] = symbol

    def _module_assignment(self, stmt: ast.Assign | ast.AnnAssign) -> None:
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
        if isinstance(stmt, ast.AnnAssign):
            self._annotation(stmt.annotation, self.module)
        if stmt.value is not None:
            self._expr(stmt.value, self.module)
        for target in targets:
            if not isinstance(target, ast.Name):
                raise _Refusal(stmt, ast.unparse(target),
                               "a module constant must be assigned to a plain name")
            self._bind(self.module, target.id, _VARIABLE, stmt)

    # ---- classes: UDTs and enums ----------------------------------------------------------

    def _class(self, node: ast.ClassDef) -> None:
        if node.bases or node.keywords:
            raise _Refusal(node, f"class {node.name}(...)",
                           "a type may not inherit or take a metaclass")
        decorators = [ast.unparse(d) for d in node.decorator_list]
        if decorators not in ([], ["udt"]):
            raise _Refusal(node, f"@{decorators[0]}",
                           "only Pine types (@udt) and enums are allowed")
        if decorators:
            self._decorator_symbol(node.decorator_list[0], self.module, "udt")
        scope = _Scope("class", parent=self.module)
        members: set[str] = set()
        for stmt in node.body:
            if isinstance(stmt, ast.Pass) or (isinstance(stmt, ast.Expr)
                                              and isinstance(stmt.value, ast.Constant)):
                continue
            if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
                self._annotation(stmt.annotation, scope)
                if stmt.value is not None:
                    self._field_default(stmt.value, scope)
                name = stmt.target.id
            elif isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 \
                    and isinstance(stmt.targets[0], ast.Name):
                self._expr(stmt.value, scope)
                name = stmt.targets[0].id
            else:
                raise _Refusal(stmt, type(stmt).__name__,
                               f"a type body holds only fields, not a {type(stmt).__name__}")
            self._bind(scope, name, _VARIABLE, stmt)
            members.add(name)
        if decorators:
            members |= {"new", "copy"}
            self.instance_fields |= {"new", "copy"}
            kind = "udt"
        else:
            self.instance_fields |= members
            kind = "enum"
        self._bind(self.module, node.name, Symbol(kind, members=frozenset(members)), node)

    def _field_default(self, value: ast.expr, scope: _Scope) -> None:
        """A UDT field default: an expression, or `field(default_factory=lambda: expr)`."""
        if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) \
                and self._lookup(value.func.id, scope) == Symbol("helper", "field"):
            if value.args or [kw.arg for kw in value.keywords] != ["default_factory"]:
                raise _Refusal(value, ast.unparse(value)[:60],
                               "field() takes only default_factory")
            factory = value.keywords[0].value
            if not isinstance(factory, ast.Lambda):
                raise _Refusal(factory, ast.unparse(factory)[:60],
                               "a field's default factory must be `lambda: value`")
            args = factory.args
            if args.args or args.posonlyargs or args.kwonlyargs or args.vararg or args.kwarg:
                raise _Refusal(factory, "lambda", "a default factory takes no arguments")
            # Run later, when an instance is made: it sees the finished module, not the class.
            self._expr(factory.body, _Scope("lambda", parent=self.module))
            return
        self._expr(value, scope)

    # ---- functions --------------------------------------------------------------------------

    def _main(self, node: ast.FunctionDef) -> None:
        if node.name != "main":
            raise _Refusal(node, f"def {node.name}",
                           "only main() may be defined at module level")
        [decorator] = node.decorator_list if len(node.decorator_list) == 1 else [None]
        declared = decorator.func if isinstance(decorator, ast.Call) else decorator
        if decorator is None or declared is None or ast.unparse(declared) != "script.strategy":
            raise _Refusal(node, "def main", "main() must be declared by @script.strategy(...)")
        self._expr(decorator, self.module)
        self._function(node, self.module)
        self._bind(self.module, node.name, _FUNCTION, node)

    def _function(self, node: ast.FunctionDef, outer: _Scope) -> None:
        args = node.args
        if args.posonlyargs or args.kwonlyargs or args.vararg or args.kwarg:
            raise _Refusal(node, f"def {node.name}(...)",
                           "functions take plain parameters only (no *args, **kwargs)")
        if node.returns is not None:
            self._annotation(node.returns, outer)
        for default in args.defaults:
            self._expr(default, outer)
        scope = _Scope("function", parent=outer)
        for arg in args.args:
            if arg.annotation is not None:
                self._annotation(arg.annotation, outer)
            self._bind(scope, arg.arg, _VARIABLE, arg)
        variables, functions = _local_bindings(node.body)
        for name in variables:
            self._bind(scope, name, _VARIABLE, node)
        for name in functions:
            self._bind(scope, name, _FUNCTION, node)
        self._block(node.body, scope)

    def _nested_def(self, node: ast.FunctionDef, scope: _Scope) -> None:
        for decorator in node.decorator_list:
            name = ast.unparse(decorator)
            if name not in ("method", "overload"):
                raise _Refusal(decorator, f"@{name}", "only @method and @overload are allowed")
            self._decorator_symbol(decorator, scope, name)
        self._function(node, scope)

    def _decorator_symbol(self, node: ast.expr, scope: _Scope, name: str) -> None:
        if not isinstance(node, ast.Name) or self._lookup(node.id, scope) != Symbol(
                "helper", "decorator"):
            raise _Refusal(node, f"@{name}", f"`{name}` is not PyneCore's decorator here")

    # ---- statements -------------------------------------------------------------------------

    def _block(self, body: list[ast.stmt], scope: _Scope) -> None:
        for stmt in body:
            self._statement(stmt, scope)

    def _statement(self, stmt: ast.stmt, scope: _Scope) -> None:
        if isinstance(stmt, ast.FunctionDef):
            self._nested_def(stmt, scope)
        elif isinstance(stmt, ast.Assign):
            self._expr(stmt.value, scope)
            for target in stmt.targets:
                self._target(target, scope)
        elif isinstance(stmt, ast.AnnAssign):
            if stmt.value is not None:
                self._expr(stmt.value, scope)
            self._annotation(stmt.annotation, scope)
            self._target(stmt.target, scope)
        elif isinstance(stmt, ast.AugAssign):
            self._expr(stmt.value, scope)
            self._target(stmt.target, scope, load_too=True)
        elif isinstance(stmt, (ast.If, ast.While)):
            self._expr(stmt.test, scope)
            self._block(stmt.body, scope)
            self._block(stmt.orelse, scope)
        elif isinstance(stmt, ast.For):
            self._expr(stmt.iter, scope)
            self._target(stmt.target, scope)
            self._block(stmt.body, scope)
            self._block(stmt.orelse, scope)
        elif isinstance(stmt, ast.Return):
            if stmt.value is not None:
                self._expr(stmt.value, scope)
        elif isinstance(stmt, ast.Expr):
            self._expr(stmt.value, scope)
        elif not isinstance(stmt, (ast.Pass, ast.Break, ast.Continue)):
            construct = {ast.Global: "global", ast.Nonlocal: "nonlocal", ast.Try: "try",
                         ast.Raise: "raise", ast.With: "with", ast.Delete: "del",
                         ast.Assert: "assert", ast.Import: "import", ast.ImportFrom: "import",
                         ast.ClassDef: "class", ast.Match: "match"}.get(type(stmt),
                                                                        type(stmt).__name__)
            raise _Refusal(stmt, construct, f"`{construct}` is not something Pine can express")

    def _target(self, target: ast.expr, scope: _Scope, load_too: bool = False) -> None:
        if isinstance(target, ast.Name):
            if _bad_binding(target.id):
                raise _Refusal(target, target.id, f"the name `{target.id}` is reserved")
            if load_too:
                self._name(target, scope)
        elif isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self._target(element, scope, load_too)
        elif isinstance(target, ast.Attribute):
            base = target.value
            if isinstance(base, ast.Name):
                symbol = self._lookup(base.id, scope)
                if symbol is None or symbol.kind != "variable":
                    raise _Refusal(target, ast.unparse(target),
                                   f"`{ast.unparse(target)}` cannot be assigned")
            else:
                self._expr(base, scope)
            self._instance_attribute(target, target.attr)
        elif isinstance(target, ast.Subscript):
            self._expr(target.value, scope)
            self._expr(target.slice, scope)
            self._require_value(target.value, scope)
        else:
            raise _Refusal(target, ast.unparse(target), "cannot assign to this")

    # ---- expressions ------------------------------------------------------------------------

    def _annotation(self, node: ast.expr, scope: _Scope) -> None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return  # a forward reference: a string, never evaluated by PyneCore's runtime
        self._expr(node, scope, annotation=True)

    def _expr(self, node: ast.expr, scope: _Scope, annotation: bool = False) -> None:
        if isinstance(node, ast.Constant):
            if not isinstance(node.value, _ALLOWED_CONSTANTS):
                raise _Refusal(node, repr(node.value)[:40], "only numbers, strings and booleans")
        elif isinstance(node, ast.Name):
            self._name(node, scope, bare_type_ok=annotation)
        elif isinstance(node, ast.Attribute):
            self._attribute(node, scope)
        elif isinstance(node, ast.Call):
            self._call(node, scope)
        elif isinstance(node, ast.Subscript):
            if isinstance(node.value, ast.Name):
                self._name(node.value, scope, bare_type_ok=True)
            else:
                self._expr(node.value, scope)
            self._expr(node.slice, scope, annotation)
        elif isinstance(node, (ast.Tuple, ast.List)):
            for element in node.elts:
                if isinstance(element, ast.Starred):
                    raise _Refusal(element, "*", "star expressions are not allowed")
                self._expr(element, scope, annotation)
        elif isinstance(node, ast.BoolOp):
            for value in node.values:
                self._expr(value, scope)
        elif isinstance(node, ast.BinOp):
            self._expr(node.left, scope, annotation)
            self._expr(node.right, scope, annotation)
        elif isinstance(node, ast.UnaryOp):
            self._expr(node.operand, scope)
        elif isinstance(node, ast.Compare):
            self._expr(node.left, scope)
            for comparator in node.comparators:
                self._expr(comparator, scope)
        elif isinstance(node, ast.IfExp):
            self._expr(node.test, scope)
            self._expr(node.body, scope)
            self._expr(node.orelse, scope)
        elif isinstance(node, ast.NamedExpr):
            self._expr(node.value, scope)
            self._target(node.target, scope)
            if scope.kind != "function":
                raise _Refusal(node, ":=", "assignment expressions only inside functions")
        else:
            construct = {ast.Lambda: "lambda", ast.JoinedStr: "f-string",
                         ast.ListComp: "comprehension", ast.SetComp: "comprehension",
                         ast.DictComp: "comprehension", ast.GeneratorExp: "generator",
                         ast.Await: "await", ast.Yield: "yield", ast.YieldFrom: "yield",
                         ast.Starred: "*", ast.Dict: "dict literal", ast.Set: "set literal",
                         ast.Slice: "slice"}.get(type(node), type(node).__name__)
            raise _Refusal(node, construct, f"`{construct}` is not something Pine can express")

    def _lookup(self, name: str, scope: _Scope) -> Symbol | None:
        """Python's resolution: local, enclosing functions, module (bound so far), builtins."""
        current: _Scope | None = scope
        first = True
        while current is not None:
            # A class body is visible only to itself, never to functions nested in it.
            if (first or current.kind != "class") and name in current.names:
                return current.names[name]
            first = False
            current = current.parent
        if name in BUILTIN_FUNCTIONS:
            return Symbol("builtin", name)
        return None

    def _name(self, node: ast.Name, scope: _Scope, bare_type_ok: bool = False,
              called: bool = False) -> Symbol:
        symbol = self._lookup(node.id, scope)
        if symbol is None:
            raise _Refusal(node, node.id, f"`{node.id}` is not part of Pine and not defined by "
                           "the script")
        if called:
            return symbol
        if symbol.kind == "api":
            entry = self.api.get(symbol.path)
            assert entry is not None
            if entry.kind in ("namespace", "object") and not entry.property:
                raise _Refusal(node, node.id, f"the namespace `{node.id}` cannot be used as a "
                               "value")
            if entry.kind == "function" and not entry.property:
                raise _Refusal(node, node.id, f"the function `{node.id}` cannot be used as a "
                               "value; call it")
        elif symbol.kind == "helper":
            if symbol.path != "type":
                raise _Refusal(node, node.id, f"`{node.id}` cannot be used as a value")
        elif symbol.kind == "builtin" and not (bare_type_ok or node.id in BUILTIN_TYPES):
            raise _Refusal(node, node.id, f"the builtin `{node.id}` can only be called")
        return symbol

    def _attribute(self, node: ast.Attribute, scope: _Scope, called: bool = False) -> None:
        """`called`: the chain is the function of a call (`input.int(...)`, `plot(...)`)."""
        parts = _dotted(node)
        if parts is None:  # a chain on a call, subscript, ...: instance attributes
            base: ast.expr = node
            attrs: list[str] = []
            while isinstance(base, ast.Attribute):
                attrs.append(base.attr)
                base = base.value
            self._expr(base, scope)
            for attr in reversed(attrs):
                self._instance_attribute(node, attr)
            return
        head: ast.expr = node
        while isinstance(head, ast.Attribute):
            head = head.value
        assert isinstance(head, ast.Name)
        symbol = self._lookup(parts[0], scope)
        if symbol is None:
            raise _Refusal(node, ".".join(parts), f"`{parts[0]}` is not part of Pine and not "
                           "defined by the script")
        rest = parts[1:]
        if symbol.kind == "api":
            rest = self._walk_api(node, symbol.path, rest, called)
        elif symbol.kind in ("udt", "enum"):
            if rest[0] not in symbol.members:
                raise _Refusal(node, ".".join(parts[:2]), f"`{parts[1]}` is not a member of the "
                               f"type `{parts[0]}`")
            rest = rest[1:]
        elif symbol.kind != "variable":
            raise _Refusal(node, ".".join(parts[:2]), f"`{parts[0]}` has no members a script "
                           "may read")
        for attr in rest:
            self._instance_attribute(node, attr)

    def _walk_api(self, node: ast.Attribute, path: str, rest: list[str],
                  called: bool) -> list[str]:
        """Follow a chain through the allow-list; return the attributes left on a value."""
        entry = self.api.get(path)
        while rest and entry is not None and entry.kind in ("namespace", "object"):
            next_path = f"{path}.{rest[0]}"
            found = self.api.get(next_path)
            if found is None:
                shown = next_path.replace("string.", "str.", 1) \
                    if next_path.startswith("string.") else next_path
                raise _Refusal(node, shown, f"`{shown}` is not part of Pine")
            path, entry, rest = next_path, found, rest[1:]
        if entry is not None and not rest and entry.kind in ("namespace", "object") \
                and not entry.property:
            if not called:
                raise _Refusal(node, path, f"the namespace `{path}` cannot be used as a value")
            if entry.kind == "namespace" and not entry.callable:
                raise _Refusal(node, path, f"the namespace `{path}` cannot be called")
        return rest

    def _instance_attribute(self, node: ast.AST, attr: str) -> None:
        if attr.startswith("_") or attr in FORBIDDEN_ATTRIBUTES:
            raise _Refusal(node, f".{attr}", f"the attribute `{attr}` is not allowed")
        if attr not in self.instance_fields:
            raise _Refusal(node, f".{attr}", f"`{attr}` is not a field of any type the script "
                           "declares")

    def _require_value(self, node: ast.expr, scope: _Scope) -> None:
        if isinstance(node, ast.Name):
            symbol = self._lookup(node.id, scope)
            if symbol is not None and symbol.kind not in ("variable",):
                raise _Refusal(node, node.id, f"`{node.id}` cannot be changed by a script")

    def _call(self, node: ast.Call, scope: _Scope) -> None:
        func = node.func
        symbol: Symbol | None = None
        if isinstance(func, ast.Name):
            symbol = self._name(func, scope, called=True)
            if symbol.kind == "variable":
                raise _Refusal(func, func.id, f"`{func.id}` is a value, not a function")
            if symbol.kind == "helper" and symbol.path in ("decorator", "field"):
                raise _Refusal(func, func.id, f"`{func.id}` cannot be called here")
            if symbol.kind == "api":
                entry = self.api.get(symbol.path)
                if entry is not None and entry.kind == "namespace" and not entry.callable:
                    raise _Refusal(func, func.id, f"the namespace `{func.id}` cannot be called")
                if entry is not None and entry.kind == "value":
                    raise _Refusal(func, func.id, f"`{func.id}` is a value, not a function")
        elif isinstance(func, ast.Attribute):
            self._attribute(func, scope, called=True)
        else:
            self._expr(func, scope)
        for keyword in node.keywords:
            if keyword.arg is None:
                raise _Refusal(keyword, "**", "`**` arguments are not allowed")
            if keyword.arg.startswith("_"):
                raise _Refusal(keyword, keyword.arg, f"the argument `{keyword.arg}` is reserved")
            self._expr(keyword.value, scope)
        args = list(node.args)
        if symbol == Symbol("helper", "method_call"):
            self._method_name(node, scope)
            args = args[1:]
        for arg in args:
            if isinstance(arg, ast.Starred):
                raise _Refusal(arg, "*", "`*` arguments are not allowed")
            self._expr(arg, scope, annotation=symbol == Symbol("builtin", "isinstance"))

    def _method_name(self, node: ast.Call, scope: _Scope) -> None:
        """`method_call(NAME, receiver, ...)`: PyneCore looks NAME up with getattr."""
        if not node.args:
            raise _Refusal(node, "method_call()", "method_call needs a method")
        first = node.args[0]
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            name = first.value
            if name.startswith("_") or name in FORBIDDEN_ATTRIBUTES or (
                    name not in self.api.method_names and name not in self.script_functions):
                raise _Refusal(first, f".{name}()", f"`{name}` is not a Pine method")
        elif isinstance(first, ast.Name):
            symbol = self._lookup(first.id, scope)
            if symbol != _FUNCTION:
                raise _Refusal(first, first.id, f"`{first.id}` is not a method of the script")
        else:
            raise _Refusal(first, ast.unparse(first)[:40], "a method is named, not computed")


def _local_bindings(body: list[ast.stmt]) -> tuple[set[str], set[str]]:
    """(variables, functions) a function body binds, not descending into nested functions."""
    variables: set[str] = set()
    functions: set[str] = set()
    stack: list[ast.AST] = list(body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.FunctionDef):
            functions.add(node.name)
            stack.extend(node.args.defaults)
            stack.extend(node.decorator_list)
            continue
        if isinstance(node, ast.Lambda):
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            variables.add(node.id)
        stack.extend(ast.iter_child_nodes(node))
    return variables, functions


# --------------------------------------------------------------------------------------------
# Entry point and messages


def check_generated_code(python: str, pine_source: str | None = None) -> None:
    """Raise RefusedScript naming the first construct not allowed; return when safe."""
    try:
        tree = ast.parse(python)
    except (SyntaxError, ValueError) as exc:
        raise RefusedScript(f"the transpiler produced invalid Python ({exc})",
                            construct="syntax") from None
    except RecursionError:
        raise RefusedScript("the script is nested too deeply", construct="nesting") from None
    checker = _Checker(pine_api())
    try:
        checker.check_module(tree)
    except _Refusal as refusal:
        line = _pine_line(pine_source, refusal.construct) if pine_source else None
        where = "" if line or refusal.node is None else \
            f" (generated Python line {getattr(refusal.node, 'lineno', '?')})"
        raise RefusedScript(f"refused: {refusal.reason}{where}", line=line,
                            construct=refusal.construct) from None
    except RecursionError:
        raise RefusedScript("the script is nested too deeply", construct="nesting") from None


def _pine_line(pine_source: str, construct: str) -> int | None:
    """The first Pine line (comments aside) that spells the refused construct."""
    if construct.startswith("import "):
        return _pine_import_line(pine_source, construct.removeprefix("import ").split(",")[0])
    words = re.findall(r"[A-Za-z_][A-Za-z_0-9]*", construct)
    if not words:
        return None
    variants = [words]
    if words[0] == "string":
        variants.append(["str", *words[1:]])
    for number, line in enumerate(pine_source.splitlines(), start=1):
        code = line.split("//", 1)[0]
        for variant in variants:
            pattern = r"(?<![A-Za-z_0-9.])" + r"\s*\.\s*".join(map(re.escape, variant)) + r"\b"
            if len(variant) == 1 and construct.startswith("."):
                pattern = r"\.\s*" + re.escape(variant[0]) + r"\b"
            if re.search(pattern, code):
                return number
    return None


_PINE_IMPORT = re.compile(r"\s*import\s+[^/\s]+\s*/\s*([A-Za-z_][A-Za-z_0-9]*)\s*/")


def _pine_import_line(pine_source: str, module: str) -> int | None:
    """The Pine line of `import user/<module>/1`, else of the first library import.

    The transpiler writes `import user/lib/1` as `import lib`, so the word search of
    `_pine_line` cannot find it; the library's name is the middle part of the Pine path.
    """
    first = None
    for number, line in enumerate(pine_source.splitlines(), start=1):
        match = _PINE_IMPORT.match(line.split("//", 1)[0])
        if match is None:
            continue
        if match.group(1) == module.strip():
            return number
        first = first or number
    return first
