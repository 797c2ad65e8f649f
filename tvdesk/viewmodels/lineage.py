"""The strategy versions of a run as a tree, without Qt (the lineage view draws it).

Every source a trial of the run used is a node; `parent_hash` links a rewrite to the version
it was rewritten from, up to the base script at the root. Sources that no trial used but
that sit between two used ones (a parent whose own trials were in another run) are kept so
that the tree stays connected. Each node carries what a person compares versions by: who
proposed it, how many trials ran it, its best in-sample net profit % and that trial's tag.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from tvdesk.reports.labels import finite
from tvdesk.store import RunStore, TrialRow

SCORE_METRIC = "net_profit_percent"


@dataclass(slots=True)
class LineageNode:
    hash: str
    parent_hash: str | None
    created_at: datetime
    proposer: str = ""
    """The proposer of the first trial that ran this version ("" when none of this run did)."""
    trials: int = 0
    best_trial_id: int | None = None
    best_score: float | None = None
    best_tag: str | None = None
    first_trial_id: int | None = None
    children: list[LineageNode] = field(default_factory=list)

    @property
    def is_base(self) -> bool:
        return self.parent_hash is None

    def walk(self) -> list[LineageNode]:
        """This node and every descendant, depth first."""
        nodes: list[LineageNode] = []
        stack = [self]
        while stack:  # iterative: a long chain of rewrites must not hit the recursion limit
            node = stack.pop()
            nodes.append(node)
            stack.extend(reversed(node.children))
        return nodes


def count_trial(node: LineageNode, trial: TrialRow) -> None:
    """Add one trial of this version to the node (its count, proposer and best)."""
    node.trials += 1
    if node.first_trial_id is None or trial.id < node.first_trial_id:
        node.first_trial_id = trial.id
        node.proposer = trial.proposer
    if trial.status != "done" or trial.segment != "in_sample":
        return
    score = finite(trial.metrics.get(SCORE_METRIC))
    if score is not None and (node.best_score is None or score > node.best_score):
        node.best_score, node.best_trial_id, node.best_tag = score, trial.id, trial.tag


def build_lineage(store: RunStore, run_id: str,
                  trials: list[TrialRow] | None = None) -> list[LineageNode]:
    """The run's version trees, the base script's first (roots in the order first used)."""
    trials = store.trials(run_id) if trials is None else trials
    nodes: dict[str, LineageNode] = {}

    def node_for(source_hash: str) -> LineageNode | None:
        if source_hash not in nodes:
            try:
                row = store.source(source_hash)
            except KeyError:
                return None
            nodes[source_hash] = LineageNode(row.hash, row.parent_hash, row.created_at)
        return nodes[source_hash]

    for trial in sorted(trials, key=lambda t: t.id):
        node = node_for(trial.source_hash)
        if node is not None:
            count_trial(node, trial)
    pending = list(nodes.values())
    while pending:  # bring in unused ancestors so every rewrite reaches its base
        node = pending.pop()
        if node.parent_hash and node.parent_hash not in nodes:
            parent = node_for(node.parent_hash)
            if parent is not None:
                pending.append(parent)
    roots: list[LineageNode] = []
    for node in nodes.values():
        parent = nodes.get(node.parent_hash) if node.parent_hash else None
        if parent is None or parent is node:
            roots.append(node)
        else:
            parent.children.append(node)

    def order(node: LineageNode) -> tuple[int, datetime, str]:
        first = node.first_trial_id
        return (first if first is not None else 1 << 62, node.created_at, node.hash)

    for node in nodes.values():
        node.children.sort(key=order)
    roots.sort(key=lambda n: (not n.is_base, *order(n)))
    return roots


def best_node(roots: list[LineageNode]) -> LineageNode | None:
    """The version with the highest best score of the run."""
    scored = [n for root in roots for n in root.walk() if n.best_score is not None]
    return max(scored, key=lambda n: (n.best_score, -(n.best_trial_id or 0)), default=None)
