"""Trade-type words no locale table knows, worked out from the trades they describe.

Every trade has an entry row and an exit row, and the Type cell says which and on which side:
"Entry long" / "Exit long", "Вход в длинную позицию", or (newer layouts) only the side. For a
word tvdesk has never seen, the trades themselves tell:

- role: the entry row is the earlier one of its trade; a word that is always on the earlier row
  is an entry word, always on the later one an exit word, on both a side-only word;
- side: the entry and exit words of one trade share a side, so the words fall into groups
  (one per side); a closed trade whose exit price is above its entry price and that made money
  is long, one that lost money is short. Each group takes the side most of its trades show, and
  the two groups must disagree. A group with no evidence (only open trades) takes the side a
  known long/short word inside it names, or the side the other group leaves.

What the rows cannot settle is an `InputError` naming the word and the sheet.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from tvdesk.exports import aliases

if TYPE_CHECKING:
    from tvdesk.exports.trades import TradeColumns, Where, _Row


@dataclass(slots=True)
class Learned:
    """What one unknown word was taken to mean, and from how many trades."""

    role: str | None
    side: str
    trades: int = 0
    votes: Counter[str] = field(default_factory=Counter)


def learn(groups: dict[int, list[_Row]], where: Where, cols: TradeColumns
          ) -> dict[str, Learned]:
    """Give every row with an unknown type word its role and side (rows are changed in place)."""
    type_header = cols.headers["type"]
    parent: dict[str, str] = {}

    def root(word: str) -> str:
        while parent.setdefault(word, word) != word:
            word = parent[word]
        return word

    roles: dict[str, Counter[str]] = {}
    votes: dict[str, Counter[str]] = {}
    known_side: dict[str, str] = {}
    for number, rows in groups.items():
        if len(rows) > 2:
            raise where.error(f"trade {number} has {len(rows)} rows; expected an entry and an "
                              f"exit row", rows[-1].line, type_header)
        for row in rows:
            root(row.word)
            if row.side is not None:
                known_side[row.word] = row.side
        if len(rows) == 2:
            parent[root(rows[0].word)] = root(rows[1].word)
        entry, exit_row = _order(rows)
        for maybe, place in ((entry, "entry"), (exit_row, "exit")):
            if maybe is not None and maybe.side is None:
                roles.setdefault(maybe.word, Counter())[place] += 1
        side = _evidence(entry, exit_row)
        if side is not None:
            votes.setdefault(entry.word, Counter())[side] += 1

    group_votes: dict[str, Counter[str]] = {}
    group_known: dict[str, str] = {}
    for word in parent:
        group = root(word)
        group_votes.setdefault(group, Counter()).update(votes.get(word, Counter()))
        if word in known_side:
            group_known[group] = known_side[word]
    sides = _decide(group_votes, group_known, parent, root)
    learned: dict[str, Learned] = {}
    for word, counts in roles.items():
        side = sides.get(root(word))
        if side is None:
            line = next(r.line for rows in groups.values() for r in rows if r.word == word)
            raise where.error(
                f"cannot tell whether the trade type {word!r} is long or short: it is not in "
                f"tvdesk's label tables and none of its trades is closed with a price move "
                f"that shows it", line, type_header)
        role: str | None = "entry" if not counts["exit"] else \
            "exit" if not counts["entry"] else None
        learned[word] = Learned(role, side, sum(counts.values()),
                                group_votes.get(root(word), Counter()))
    for rows in groups.values():
        for row in rows:
            if row.side is None:
                meaning = learned[row.word]
                row.side = meaning.side
                row.role = meaning.role
    return learned


def _order(rows: list[_Row]) -> tuple[_Row, _Row | None]:
    """Entry and exit row of one trade: known roles first, then the earlier time is the entry
    (the exit row comes first in TradingView's file, so on a tie the later row is the entry)."""
    if len(rows) == 1:
        return rows[0], None
    a, b = rows
    if a.role == "entry" or b.role == "exit":
        return a, b
    if a.role == "exit" or b.role == "entry":
        return b, a
    ordered = by_time(rows)
    return ordered[0], ordered[1]


def by_time(rows: list[_Row]) -> list[_Row]:
    """A trade's rows, the entry first: the earlier time, and on a tie the later row (the
    exit row comes first in TradingView's file); a row without a time last."""
    return sorted(rows, key=lambda r: (r.time is None, r.time or datetime.min, -r.line))


def _evidence(entry: _Row, exit_row: _Row | None) -> str | None:
    """"long" / "short" when a closed trade's price move and P&L show its side."""
    if exit_row is None or exit_row.open:
        return None
    start, end = entry.values.get("price"), exit_row.values.get("price")
    profit = exit_row.values.get("profit")
    if start is None or end is None or not profit or end == start:
        return None
    return "long" if (end - start) * profit > 0 else "short"


def _decide(group_votes: dict[str, Counter[str]], group_known: dict[str, str],
            parent: dict[str, str], root: Callable[[str], str]) -> dict[str, str]:
    sides: dict[str, str] = dict(group_known)
    for group, counts in group_votes.items():
        if group in sides or not counts:
            continue
        if counts["long"] != counts["short"]:
            sides[group] = "long" if counts["long"] > counts["short"] else "short"
    for group in group_votes:
        if group in sides:
            continue
        words = [w for w in parent if root(w) == group]
        hint = {side for w in words for side in _named_side(w)}
        if len(hint) == 1:
            sides[group] = hint.pop()
    undecided = [g for g in group_votes if g not in sides]
    taken = set(sides.values())
    if len(undecided) == 1 and len(taken) == 1:
        sides[undecided[0]] = "short" if "long" in taken else "long"
    return sides


_SIDE_WORDS = {
    side: [aliases.normalise(w) for w in (*aliases.METRIC_COLUMNS[side],
                                         *aliases.TRADE_TYPES.get((None, side), ()))]
    for side in ("long", "short")
}


def _named_side(word: str) -> set[str]:
    norm = aliases.normalise(word)
    return {side for side, words in _SIDE_WORDS.items()
            if any(len(w) >= 4 and w in norm for w in words)}


def describe(learned: dict[str, Learned], where: Where) -> str:
    sheet = f"sheet {where.sheet!r}" if where.sheet else "the List of trades"
    parts = []
    for word, meaning in learned.items():
        role = f"{meaning.role} " if meaning.role else ""
        evidence = (f"{meaning.votes[meaning.side]} of {sum(meaning.votes.values())} closed "
                    f"trades agree" if meaning.votes else "by elimination")
        parts.append(f"{word!r} as {role}{meaning.side} ({evidence})")
    return (f"{sheet}: trade types not in tvdesk's label tables, read from the trades: "
            + "; ".join(parts))
