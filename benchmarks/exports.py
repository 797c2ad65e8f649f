"""How long importing a 10,000-trade TradingView XLSX export takes.

Run: `python benchmarks/exports.py [--trades N] [--repeat R] [--variant 2026mid]`. It writes the
export into a temporary directory with the test fixtures' writer (the exact TradingView layout:
inline strings, Excel serial dates, two rows per trade) and prints the median of R imports.
The budget is "well under 1 s"; tests never assert wall-clock time, this script reports it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from tvdesk.exports import read_export  # noqa: E402

from export_fixtures import make_trades, write_csv, write_xlsx  # noqa: E402


def measure(path: Path, repeat: int) -> tuple[float, int]:
    times: list[float] = []
    count = 0
    for _ in range(repeat):
        start = time.perf_counter()
        result = read_export(path)
        times.append(time.perf_counter() - start)
        count = len(result.trades)
    return statistics.median(times), count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trades", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--variant", default="2026mid",
                        choices=["2024", "2025", "2026early", "2026mid", "pt"])
    args = parser.parse_args()
    trades = make_trades(args.trades, open_last=False)
    with tempfile.TemporaryDirectory() as folder:
        for kind, path in (
            ("xlsx (inline strings)", write_xlsx(Path(folder) / "inline.xlsx", trades,
                                                 variant=args.variant).path),
            ("xlsx (shared strings)", write_xlsx(Path(folder) / "shared.xlsx", trades,
                                                 variant=args.variant,
                                                 shared_strings=True).path),
            ("csv", write_csv(Path(folder) / "trades.csv", trades, variant=args.variant).path),
        ):
            median, count = measure(path, args.repeat)
            size = path.stat().st_size / 1e6
            print(f"{kind:<22} {count:>6} trades  {size:5.1f} MB  "
                  f"median of {args.repeat}: {median * 1000:7.1f} ms")


if __name__ == "__main__":
    main()
