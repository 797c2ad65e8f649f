"""Refuse generated Python that could do more than a Pine script can.

Pine sources may come from an LLM, and the transpiler's output is Python that we import and
run. Pine itself has no file, network or process access, so neither may its translation: the
module may import only from PyneCore's Pine library and `typing`, may not touch dunder
attributes, and may not name the builtins that reach outside (`open`, `exec`, `eval`, ...).
The check works on the syntax tree, so spelling tricks in strings do not help.
"""

from __future__ import annotations

import ast

from tvdesk.errors import PineError

ALLOWED_IMPORT_MODULES = frozenset({
    "typing",
    "dataclasses",
    "pynecore",
    "pynecore.lib",
    "pynecore.types",
    "pynecore.core.pine_cast",
    "pynecore.core.pine_method",
    "pynecore.core.pine_export",
    "pynecore.core.pine_udt",
    "pynecore.core.overload",
})
ALLOWED_IMPORT_PREFIXES = ("pynecore.lib.", "pynecore.types.")

FORBIDDEN_NAMES = frozenset({
    "open", "exec", "eval", "compile", "__import__", "globals", "locals", "vars", "getattr",
    "setattr", "delattr", "breakpoint", "exit", "quit", "help", "memoryview", "object",
    "classmethod", "staticmethod", "super", "type", "__builtins__", "importlib", "os", "sys",
    "subprocess", "socket", "builtins",
})


def _import_allowed(module: str) -> bool:
    return module in ALLOWED_IMPORT_MODULES or module.startswith(ALLOWED_IMPORT_PREFIXES)


def check_generated_code(python: str) -> None:
    """Raise PineError naming the first refused construct; return silently when safe."""
    try:
        tree = ast.parse(python)
    except SyntaxError as exc:
        raise PineError(f"the transpiler produced invalid Python ({exc.msg})") from None

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = ", ".join(alias.name for alias in node.names)
            raise PineError(
                f"Pine library imports are not supported by the local engine (import {names})",
                feature="library import",
            )
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level or not _import_allowed(module):
                raise PineError(
                    f"refused generated code: import from {module or '.'!r} is not allowed",
                    feature="import",
                )
        elif isinstance(node, ast.Attribute) and node.attr.startswith("__"):
            raise PineError(
                f"refused generated code: access to the dunder attribute {node.attr!r}",
                feature="dunder attribute",
            )
        elif isinstance(node, ast.Name) and (node.id in FORBIDDEN_NAMES
                                             or node.id.startswith("__")):
            raise PineError(
                f"refused generated code: use of {node.id!r} is not allowed",
                feature=node.id,
            )
        elif isinstance(node, (ast.AsyncFunctionDef, ast.Await, ast.Yield, ast.YieldFrom)):
            raise PineError(
                f"refused generated code: {type(node).__name__} is not allowed",
                feature=type(node).__name__,
            )
