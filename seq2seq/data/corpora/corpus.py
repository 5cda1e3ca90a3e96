"""`Corpus`: the (source, target) string pairs of one split."""

from dataclasses import dataclass, field


@dataclass
class Corpus:
    """Aligned pairs of one split; a source may repeat with several targets (references).

    `skipped` counts the lines dropped while reading the file(s) this corpus came from, by
    reason (e.g. {"empty": 3, "duplicate": 2}).
    """

    sources: list[str]
    targets: list[str]
    name: str = ""
    skipped: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.sources) != len(self.targets):
            raise ValueError(f"{len(self.sources)} sources but {len(self.targets)} targets")

    def __len__(self) -> int:
        return len(self.sources)

    def references(self) -> tuple[list[str], list[list[str]]]:
        """Distinct sources in first-seen order, and for each the distinct targets in order."""
        groups: dict[str, list[str]] = {}
        for source, target in zip(self.sources, self.targets):
            refs = groups.setdefault(source, [])
            if target not in refs:
                refs.append(target)
        return list(groups), list(groups.values())

    def select(self, keep: list[bool]) -> "Corpus":
        """The pairs where `keep` is True, with the same `skipped` counts."""
        pairs = [(s, t) for s, t, k in zip(self.sources, self.targets, keep) if k]
        return Corpus(
            sources=[s for s, _ in pairs],
            targets=[t for _, t in pairs],
            name=self.name,
            skipped=dict(self.skipped),
        )
