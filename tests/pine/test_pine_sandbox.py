"""The allow-list safety check, tried as an attacker would, and the Pine it must still let run.

Every escape attempt would create a marker file if it ran; each must be refused (exit 2, the
construct named) and leave no marker. A few attempts are also run unchecked in a subprocess to
prove they are live: the check, not a typo, is what stops them.
"""

from __future__ import annotations

import random
import subprocess
import sys
import types
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tvdesk.errors import PineError
from tvdesk.pine import api_inventory
from tvdesk.pine.loader import load_strategy_source
from tvdesk.pine.pine_api import pine_api
from tvdesk.pine.safety import RefusedScript, check_generated_code
from tvdesk.pine.transpile import TranspileCache, source_hash, transpile_source

ROOT = Path(__file__).resolve().parents[2]
PINE_HEAD = '//@version=6\nstrategy("probe")\n'
PY_HEAD = ('"""\n@pyne\n"""\nfrom pynecore.lib import close, log, math, color, ta, script, '
           'strategy, open, array, string, syminfo\n')


def _main(body: str) -> str:
    indented = "\n".join("    " + line for line in body.splitlines())
    return PY_HEAD + "\n@script.strategy('x')\ndef main():\n" + indented + "\n"


# ---- Pine-level escapes: what a pasted script or an LLM reply can write -------------------
PINE_ESCAPES = {
    "log.os": 'log.os.system("touch {marker}")',
    "log.sys": 'x = log.sys.modules',
    "math.builtins": 'math.builtins.exec("open(\'{marker}\', \'w\')")',
    "color._os": 'color._os.system("touch {marker}")',
    "ta.lib chain": 'ta.lib.log.os.system("touch {marker}")',
    "alert.lib": 'alert.lib.log.os.system("touch {marker}")',
    "string.re": 'x = str.re.compile("a")',
    "array.builtins": 'x = array.builtins.open("{marker}", "w")',
    "strategy.math": 'x = strategy.math.pi',
    "session.timeframe alias": 'x = session.timeframe.period',
    "request.syminfo": 'x = request.syminfo.ticker',
    "log.Path": 'x = log.Path("{marker}").touch()',
    "log.logger": 'x = log.logger.handlers',
    "nested in security": 'x = request.security(syminfo.tickerid, "D", log.os.getpid())',
    "alias in a variable": 'x = log\nx.os.system("touch {marker}")',
    "namespace as argument": 'f(m) => m.os.system("touch {marker}")\nf(log)',
    "udt field named os": 'type T\n    int os = 0\nf(v) => v.os\ny = f(log)',
    "dunder method": 'a = array.new_float()\nb = a.__class__()',
    "dunder on function": 'c = strategy.entry.__globals__',
    "dunder chain": 'c = close.__class__.__mro__',
    "method name builtins": 'a = array.new_float()\na.builtins()',
    "library import as os": 'import foo/os/1 as o\no.system("touch {marker}")',
    "eval": 'x = eval("1")',
    "getattr": 'x = getattr(log, "os")',
    "open file": 'x = open("{marker}")',
    "globals": 'x = globals()',
    "__import__": 'x = __import__("os")',
    "pynecore": 'x = pynecore.lib.log',
    "lib": 'x = lib.log.os',
    "format field": 'type T\n    float format = 0\nt = T.new()\ns = "{{0}}"\nz = s.format(t)',
    "assign into namespace": 'strategy.entry := 1',
    "assign namespace member": 'log.os = 1',
}


@pytest.mark.parametrize("name", sorted(PINE_ESCAPES))
def test_pine_escape_attempts_are_refused_and_do_nothing(name: str, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    source = PINE_HEAD + PINE_ESCAPES[name].format(marker=marker) + "\n"
    with pytest.raises(PineError) as caught:
        load_strategy_source(source, cache=TranspileCache(tmp_path / "cache"))
    assert not marker.exists()
    if isinstance(caught.value, RefusedScript):
        assert caught.value.exit_code == 2
        assert "refused" in str(caught.value) or "not supported" in str(caught.value)
        assert caught.value.construct
    else:  # the transpiler itself refused it: still nothing translated, nothing run
        assert not list((tmp_path / "cache").glob("s_*.py"))


def test_a_refusal_names_the_pine_line_and_the_construct(tmp_path: Path) -> None:
    source = PINE_HEAD + "fast = ta.sma(close, 10)\n// log.os in a comment\nx = log.os.getpid()\n"
    with pytest.raises(RefusedScript) as caught:
        load_strategy_source(source, cache=TranspileCache(tmp_path))
    assert caught.value.line == 5
    assert caught.value.construct == "log.os"
    assert str(caught.value) == "Pine line 5: refused: `log.os` is not part of Pine"


@pytest.mark.parametrize(("imports", "line"), [
    ("import user/lib/1\n", 4),
    ("\nimport  TradingView / ta / 7 as tvta // a comment\nimport foo/os/1 as o\n", 5),
])
def test_a_refused_library_import_names_its_pine_line(tmp_path: Path, imports: str,
                                                      line: int) -> None:
    # The transpiler writes `import user/lib/1` as `import lib`, which the word search could not
    # find in the Pine text: the message cited "generated Python line 7" instead.
    source = PINE_HEAD + "// libraries\n" + imports + "plot(close)\n"
    with pytest.raises(RefusedScript) as caught:
        load_strategy_source(source, path="lib_user.pine", cache=TranspileCache(tmp_path))
    assert caught.value.line == line
    assert caught.value.exit_code == 2
    assert str(caught.value).startswith(f"lib_user.pine: Pine line {line}: refused: Pine "
                                        "library imports are not supported")
    assert "generated Python" not in str(caught.value)


# ---- Python-level tricks fed to the check directly -------------------------------------------
PYTHON_ESCAPES = {
    "import os": "import os\n",
    "from subprocess": "from subprocess import run\n",
    "relative import": "from . import thing\n",
    "star import": "from pynecore.lib import *\n",
    "pynecore internals": "from pynecore.core.script_runner import ScriptRunner\n",
    "lib module": "from pynecore import lib\n",
    "aliased os": "from pynecore.lib import log as l\nx = l.os\n",
    "builtins via math": _main("x = math.builtins"),
    "open builtin unbound": ('"""\n@pyne\n"""\nfrom pynecore.lib import script\n'
                             "@script.strategy('x')\ndef main():\n    f = open('/etc/passwd')\n"),
    "module binding after use": ('"""\n@pyne\n"""\nx = open\nfrom pynecore.lib import open\n'),
    "del rebinding": _main("del open"),
    "global": _main("global close\nclose = 1"),
    "nonlocal": _main("def f():\n    nonlocal x"),
    "lambda": _main("f = lambda: 1"),
    "class in main": _main("class X:\n    pass"),
    "class with base": PY_HEAD + "class X(object):\n    pass\n",
    "metaclass": PY_HEAD + "class X(metaclass=type):\n    pass\n",
    "try except frame": _main("try:\n    1/0\nexcept Exception as e:\n    f = e.__traceback__"),
    "generator frame": _main("g = (x for x in [1])\nf = g.gi_frame"),
    "comprehension": _main("x = [c for c in [1]]"),
    "f-string attribute": _main("x = f'{close.__class__}'"),
    "format string": _main("x = '{0.__globals__}'.format(ta.sma)"),
    "format_map": _main("x = 'a'.format_map({})"),
    "star args": _main("x = ta.sma(*[close, 3])"),
    "kwargs": _main("x = ta.sma(**{'a': 1})"),
    "dunder keyword": _main("x = ta.sma(close, 3, __pyne_captures__=1)"),
    "with": _main("with open('x') as f:\n    pass"),
    "raise": _main("raise SystemExit"),
    "assert": _main("assert False"),
    "match class": _main("match close:\n    case int(x):\n        pass"),
    "walrus at module": PY_HEAD + "(y := 1)\n",
    "module-level call": PY_HEAD + "log.info('at import')\n",
    "module-level if": PY_HEAD + "if True:\n    open = 1\n",
    "second module function": PY_HEAD + "def helper():\n    pass\n",
    "main without strategy": PY_HEAD + "def main():\n    pass\n",
    "decorator other": _main("@log.info\ndef f():\n    pass"),
    "method_call dunder": ('"""\n@pyne\n"""\nfrom pynecore.lib import script, close\n'
                           "from pynecore.core.pine_method import method_call\n"
                           "@script.strategy('x')\ndef main():\n"
                           "    x = method_call('__class__', close)\n"),
    "method_call computed": ('"""\n@pyne\n"""\nfrom pynecore.lib import script, close\n'
                             "from pynecore.core.pine_method import method_call\n"
                             "@script.strategy('x')\ndef main():\n"
                             "    x = method_call('__cl' + 'ass__', close)\n"),
    "bytes constant": _main("x = b'abc'"),
    "namespace subscript": _main("x = log[0]"),
    "dunder binding": _main("__builtins__ = 1"),
    "reserved pyne name": _main("x\u00b7y = 1"),
    "vars builtin": _main("x = vars()"),
    "type builtin": _main("x = type(close)"),
    "getattr builtin": _main("x = getattr(close, 'real')"),
    "frame attribute": _main("x = close.f_globals"),
    "field default not lambda": ('"""\n@pyne\n"""\nfrom dataclasses import field\n'
                                 "from pynecore.core.pine_udt import udt\n"
                                 "@udt\nclass T:\n    a: int = field(default_factory=print)\n"),
    "field lambda with args": ('"""\n@pyne\n"""\nfrom dataclasses import field\n'
                               "from pynecore.core.pine_udt import udt\n"
                               "@udt\nclass T:\n    a: int = field(default_factory=lambda x=open:"
                               " x)\n"),
    "lambda body reaches builtin": ('"""\n@pyne\n"""\nfrom dataclasses import field\n'
                                    "from pynecore.core.pine_udt import udt\n@udt\nclass T:\n"
                                    "    open: int = 0\n"
                                    "    a: int = field(default_factory=lambda: open)\n"),
}


@pytest.mark.parametrize("name", sorted(PYTHON_ESCAPES))
def test_python_level_tricks_are_refused(name: str) -> None:
    with pytest.raises(RefusedScript) as caught:
        check_generated_code(PYTHON_ESCAPES[name])
    assert caught.value.exit_code == 2 and caught.value.construct


def test_the_escape_corpus_is_large_enough() -> None:
    assert len(PINE_ESCAPES) + len(PYTHON_ESCAPES) >= 40


@pytest.mark.parametrize("name", ["log.os", "color._os", "ta.lib chain"])
def test_the_pine_escapes_are_live_without_the_check(name: str, tmp_path: Path) -> None:
    """The attempts are real: the statement the transpiler writes for them, run unchecked
    with PyneCore's modules, runs a shell command. The check is what stops them."""
    marker = tmp_path / "pwned"
    python = transpile_source(PINE_HEAD + PINE_ESCAPES[name].format(marker=marker) + "\n")
    statement = next(line.strip() for line in python.splitlines() if "system(" in line)
    head = statement.split(".", 1)[0]
    probe = tmp_path / "probe.py"
    probe.write_text(f"from pynecore.lib import {head}\n{statement}\n", encoding="utf-8")
    result = subprocess.run([sys.executable, str(probe)], capture_output=True, text=True,
                            timeout=120, cwd=tmp_path)
    assert marker.exists(), result.stderr[-2000:]


# ---- random attribute chains over PyneCore's real object graph -----------------------------
def _members(obj: object) -> list[str]:
    try:
        names = dir(obj)
    except Exception:
        return []
    return [name for name in names if not name.startswith("__") or name in (
        "__class__", "__globals__", "__dict__", "__builtins__", "__init__", "__code__")]


_DANGEROUS_MODULES = {"os", "sys", "builtins", "subprocess", "importlib", "pathlib", "socket",
                      "shutil", "ctypes", "logging", "io", "re", "struct", "heapq", "math"}


@st.composite
def _chains(draw: st.DrawFn) -> list[str]:
    # Importing and walking PyneCore may run code that draws from the global random generator
    # (with rich installed, its first import does): Hypothesis forbids that inside a strategy,
    # so every step off the draws is made with the generator's state put back afterwards.
    state = random.getstate()
    import pynecore.lib as lib

    random.setstate(state)
    head = draw(st.sampled_from(sorted(n for n in vars(lib) if not n.startswith("__"))))
    chain, obj = [head], getattr(lib, head)
    random.setstate(state)
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        members = _members(obj)
        random.setstate(state)
        if not members:
            break
        name = draw(st.sampled_from(sorted(members)))
        chain.append(name)
        try:
            obj = getattr(obj, name)
        except Exception:
            break
        finally:
            random.setstate(state)
    return chain


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_chains())
def test_random_attribute_chains_of_pynecore_lib_never_reach_the_machine(chain: list[str]) -> None:
    source = ('"""\n@pyne\n"""\n' f"from pynecore.lib import {chain[0]}, script\n"
              "@script.strategy('x')\ndef main():\n" f"    x = {'.'.join(chain)}\n")
    try:
        check_generated_code(source)
    except RefusedScript:
        return
    # Accepted: then every prefix is Pine's, and what it reaches is no module or builtin door.
    api = pine_api()
    import pynecore.lib as lib

    obj: object = lib
    for depth, name in enumerate(chain):
        obj = getattr(obj, name)
        path = ".".join(chain[: depth + 1])
        entry = api.get(path)
        if entry is None:
            assert depth > 0 and api.get(".".join(chain[:depth])) is not None
            break
        if isinstance(obj, types.ModuleType):
            assert obj.__name__.startswith("pynecore.lib"), path
            assert obj.__name__.split(".")[-1] not in _DANGEROUS_MODULES or path == "math"
    assert not any(part.startswith("_") for part in chain)


# ---- the allow-list is data checked against PyneCore -----------------------------------------
def test_the_committed_allow_list_is_what_pynecore_implements() -> None:
    """Regenerate it: a PyneCore upgrade that adds an import or a helper fails here."""
    expected = api_inventory.render(api_inventory.inventory())
    committed = api_inventory.DATA_FILE.read_text(encoding="utf-8")
    assert committed == expected, ("pine_api.txt differs from PyneCore's modules: review the "
                                   "change, then `python -m tvdesk.pine.api_inventory --write`")


def test_no_allowed_name_is_a_foreign_module_or_a_private_name() -> None:
    import pynecore.lib as lib

    for path, entry in pine_api().names.items():
        obj: object = lib
        for part in path.split("."):
            assert not part.startswith("_"), path
            obj = getattr(obj, part)
        if isinstance(obj, types.ModuleType):
            assert entry.kind == "namespace" and obj.__name__ == "pynecore.lib." + path, path
        else:
            assert entry.kind != "namespace", path
            module = getattr(obj, "__module__", None) or type(obj).__module__
            if callable(obj):
                assert str(module).startswith("pynecore"), (path, module)


# ---- legitimate Pine must still pass and run --------------------------------------------------
LEGIT = {
    "ohlc and series": (
        "x = open > close ? high - low : hl2 - ohlc4\ny = hlc3 + hlcc4 + volume * 0\n"
        "if x > 0 and bar_index > 10\n    strategy.entry(\"L\", strategy.long)\n"
        "if close < open[1]\n    strategy.close(\"L\")\n"),
    "udt with methods on var": (
        "type Box2\n    float top = na\n    float bot = na\n    int hits = 0\n"
        "method touch(Box2 this, float p) =>\n    if p > this.top\n        this.hits += 1\n"
        "    this\nvar Box2 b = Box2.new(high, low, 0)\nb.touch(close)\n"
        "c = b.copy()\nif b.hits > 3 and c.top > 0\n    strategy.entry(\"L\", strategy.long)\n"
        "    b.hits := 0\n"),
    "arrays maps matrices": (
        "var a = array.new_float()\na.push(close)\nif a.size() > 20\n    a.shift()\n"
        "var m = map.new<string, float>()\nm.put(\"c\", close)\n"
        "var mx = matrix.new<float>(2, 2, 0.0)\nmx.set(0, 0, close)\n"
        "s = 0.0\nfor v in a\n    s += v\n"
        "avg = a.size() > 0 ? a.avg() : close\n"
        "if close > avg and m.get(\"c\") > 0 and mx.get(0, 0) > 0\n"
        "    strategy.entry(\"L\", strategy.long)\nelse\n    strategy.close(\"L\")\n"),
    "strings math colors time": (
        "t = str.format(\"{0} {1}\", syminfo.ticker, str.tostring(close, \"#.##\"))\n"
        "u = str.upper(t) + str.lower(\"X\") + str.substring(t, 0, 1)\n"
        "n = math.max(math.abs(close - open), math.sqrt(math.pow(high - low, 2)))\n"
        "col = color.new(color.red, 50)\nd = dayofweek\nh = hour\n"
        "tf = timeframe.isintraday ? 1 : 0\n"
        "if str.length(u) > 0 and n > 0 and d != dayofweek.sunday\n"
        "    strategy.entry(\"L\", strategy.long)\n"
        "if strategy.closedtrades > 2 and strategy.position_size > 0\n"
        "    strategy.close(\"L\")\nlog.info(\"n {0}\", n)\n"),
    "ta and exits": (
        "[m, s, h] = ta.macd(close, 12, 26, 9)\natr = ta.atr(14)\n"
        "[mid, up, lo] = ta.bb(close, 20, 2)\n"
        "if ta.crossover(m, s)\n    strategy.entry(\"L\", strategy.long)\n"
        "strategy.exit(\"X\", \"L\", stop=close - 2 * atr, limit=close + 3 * atr)\n"
        "if ta.crossunder(close, lo)\n    strategy.entry(\"S\", strategy.short)\n"),
    "switch enum while": (
        "enum Mode\n    fast\n    slow\nmode = input.enum(Mode.fast, \"Mode\")\n"
        "len = switch mode\n    Mode.fast => 10\n    => 30\n"
        "i = 0\nwhile i < 3\n    i += 1\n"
        "if ta.sma(close, len) > ta.sma(close, len * 2) and i == 3\n"
        "    strategy.entry(\"L\", strategy.long)\n"),
}


@pytest.mark.parametrize("name", sorted(LEGIT))
def test_legitimate_pine_passes_the_check(name: str, tmp_path: Path) -> None:
    strategy = load_strategy_source(PINE_HEAD + LEGIT[name], cache=TranspileCache(tmp_path))
    assert strategy.title == "probe"


def test_request_security_passes_the_check(tmp_path: Path) -> None:
    source = PINE_HEAD + ("d = request.security(syminfo.tickerid, \"D\", ta.sma(close, 5))\n"
                          "if close > d\n    strategy.entry(\"L\", strategy.long)\n")
    assert load_strategy_source(source, cache=TranspileCache(tmp_path)).title == "probe"


def test_every_bundled_script_passes(tmp_path: Path) -> None:
    scripts = sorted((ROOT / "pine").rglob("*.pine"))
    assert len(scripts) >= 4
    for script in scripts:
        load_strategy_source(script.read_text(encoding="utf-8"), cache=TranspileCache(tmp_path))


# ---- the transpile cache --------------------------------------------------------------------
def test_a_tampered_cache_file_is_refused_not_run(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    source = (ROOT / "pine" / "examples" / "sma_cross.pine").read_text()
    cache_dir = tmp_path / "cache"
    first = TranspileCache(cache_dir).get(source)
    first.path.write_text(first.python + f"\nimport os\nos.system('touch {marker}')\n")
    with pytest.raises(RefusedScript, match=r"cached translation .* fails the safety check"):
        TranspileCache(cache_dir).get(source)  # a new process: no memory of the first check
    assert not marker.exists()


def test_the_check_version_is_part_of_the_cache_key(monkeypatch: pytest.MonkeyPatch) -> None:
    from tvdesk.pine import safety

    before = source_hash("x")
    monkeypatch.setattr(safety, "RULES_VERSION", safety.RULES_VERSION + "-next")
    assert source_hash("x") != before


def test_an_oversized_pine_source_is_refused_before_transpiling(tmp_path: Path) -> None:
    huge = PINE_HEAD + "x = 1\n" * 120_000
    with pytest.raises(RefusedScript, match="KB; the local engine takes scripts up to 512 KB"):
        load_strategy_source(huge, cache=TranspileCache(tmp_path))
