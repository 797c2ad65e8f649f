"""Defence in depth for the processes that run strategy code: limits, environment, Landlock.

The runaway scripts are legitimate Pine (the check lets loops and arrays through): the limits
are what stop them, with a clear error, while the worker and the run go on.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tvdesk.engines.local import LocalEngine
from tvdesk.engines.local.confine import WorkerLimits, landlock_abi
from tvdesk.errors import EngineError
from tvdesk.model import BacktestRequest, SymbolSpec
from tvdesk.pine.loader import load_strategy_source

ROOT = Path(__file__).resolve().parents[3]
EURUSD = ROOT / "resources" / "data" / "EURUSD_1h.csv"
SMA = (ROOT / "pine" / "examples" / "sma_cross.pine").read_text(encoding="utf-8")
INFINITE = '//@version=6\nstrategy("spin")\ni = 0\nwhile true\n    i += 1\n'
MEMORY_BOMB = ('//@version=6\nstrategy("bomb")\nvar a = array.new_float()\n'
               'a.concat(array.new_float(5000000, close))\n')


def _request(pine: str) -> BacktestRequest:
    return BacktestRequest(strategy=load_strategy_source(pine), data_path=str(EURUSD),
                           symbol=SymbolSpec(ticker="FX:EURUSD", mintick=0.00001, pointvalue=1))


def test_runaway_scripts_are_stopped_with_a_clear_error_and_the_worker_goes_on() -> None:
    limits = WorkerLimits(trial_cpu_seconds=2, memory_mb=900)

    async def scenario() -> tuple[str, str, int]:
        async with LocalEngine(processes=1, limits=limits) as engine:
            [pid] = await engine.pool.warm_up([str(EURUSD)])
            with pytest.raises(EngineError) as spin:
                await engine.run(_request(INFINITE))
            with pytest.raises(EngineError) as bomb:
                await engine.run(_request(MEMORY_BOMB))
            after = await engine.run(_request(SMA))
            [same] = await engine.pool.warm_up()
            assert same == pid, "the worker survived both limits"
            return str(spin.value), str(bomb.value), len(after.trades)

    spin, bomb, trades = asyncio.run(scenario())
    assert "exceeded its CPU limit of 2 s" in spin
    assert "exceeded the memory limit of 900 MB" in bomb
    assert trades > 10


def test_worker_reports_its_confinement() -> None:
    async def scenario() -> str:
        async with LocalEngine(processes=1) as engine:
            await engine.pool.warm_up([str(EURUSD)])
            return engine.pool.confinement

    status = asyncio.run(scenario())
    if landlock_abi() >= 1:
        assert status.startswith("confined: Landlock ABI"), status
    else:
        assert status.startswith("not confined"), status


CONFINED_PROBE = textwrap.dedent("""
    import json, os, socket, sys
    from pathlib import Path
    from tvdesk.engines.local import confine
    scratch, outside, secret, port = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], \\
        int(sys.argv[4])
    confine.scrub_environment(scratch)
    status = confine.confine(scratch, [])
    result = {"status": status}
    def attempt(name, action):
        try:
            action()
            result[name] = "allowed"
        except OSError as exc:
            result[name] = f"denied: {exc.strerror}"
    attempt("write_scratch", lambda: (scratch / "ok.txt").write_text("ok"))
    attempt("write_outside", lambda: (outside / "pwned").write_text("x"))
    attempt("read_secret", lambda: Path(secret).read_text())
    attempt("tcp_connect", lambda: socket.create_connection(("127.0.0.1", port), timeout=5))
    attempt("read_python", lambda: Path(os.__file__).read_text())
    result["env"] = sorted(os.environ)
    result["home"] = os.environ.get("HOME")
    print(json.dumps(result))
""")


@pytest.mark.skipif(landlock_abi() < 4, reason="needs Linux with Landlock ABI 4+")
def test_landlock_allows_the_scratch_folder_and_denies_the_rest(tmp_path: Path) -> None:
    import json

    scratch, outside = tmp_path / "scratch", tmp_path / "outside"
    scratch.mkdir()
    outside.mkdir()
    secret = tmp_path / "keyring.cfg"
    secret.write_text("password = hunter2")
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    env = {**os.environ, "TVDESK_TEST_TOKEN": "sk-secret", "DBUS_SESSION_BUS_ADDRESS": "x",
           "OPENAI_API_KEY": "sk-secret"}
    try:
        out = subprocess.run([sys.executable, "-c", CONFINED_PROBE, str(scratch), str(outside),
                              str(secret), str(port)], capture_output=True, text=True,
                             timeout=120, env=env, cwd=ROOT)
    finally:
        server.close()
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["status"].startswith("confined: Landlock ABI")
    assert result["write_scratch"] == "allowed"
    assert result["write_outside"].startswith("denied")
    assert result["read_secret"].startswith("denied")
    assert result["tcp_connect"].startswith("denied")
    assert result["read_python"] == "allowed"
    assert not outside.joinpath("pwned").exists()
    assert "OPENAI_API_KEY" not in result["env"] and "DBUS_SESSION_BUS_ADDRESS" not in result["env"]
    assert "TVDESK_TEST_TOKEN" not in result["env"]
    assert result["home"] == str(scratch)


def test_a_bare_property_namespace_is_a_number_at_run_time() -> None:
    """`d = dayofweek` passes the check (PyneCore reads the property); a UDT field named `os`
    then makes `d.os` pass too (`d.os.system` does not: `system` is refused by name), but at
    run time `d` is a number, so the module is never reached."""
    pine = ('//@version=6\nstrategy("prop")\ntype T\n    int os = 0\nd = dayofweek\n'
            'z = d.os\n')

    async def scenario() -> str:
        async with LocalEngine(processes=1) as engine:
            with pytest.raises(EngineError) as caught:
                await engine.run(_request(pine))
            return str(caught.value)

    message = asyncio.run(scenario())
    assert "'float' object has no attribute 'os'" in message
