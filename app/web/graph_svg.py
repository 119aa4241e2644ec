"""A neighbourhood of the debate graph drawn as SVG, laid out in rings: the centre in the
middle, the nodes one hop away on the first ring, two hops on the second, each placed near
the node that led to it, with labels running outwards. Pure: a neighbourhood answer in,
shapes and lines out."""

import math
from dataclasses import dataclass
from typing import Any

RING_GAP = 170
NODE_SPACING = 15  # px of ring per node: room for one line of 11 px text
LABEL_CHARS = 28
LABEL_ROOM = 190  # px beyond the outer ring for its labels

# Node types are told apart by shape and colour (colour alone would fail colour-blind readers).
STYLE = {
    "problem": ("hexagon", "#7c3aed"),
    "claim": ("circle", "#2563eb"),
    "tension": ("diamond", "#dc2626"),
    "source": ("square", "#0d9488"),
    "work": ("square", "#64748b"),
    "actor": ("triangle", "#d97706"),
    "perspective": ("circle", "#db2777"),
    "event": ("square", "#a16207"),
    "thread": ("hexagon", "#111827"),
    "run": ("triangle", "#16a34a"),
}
SUPPORTING = {"supports", "replicates"}
CONTESTING = {"contests", "fails_to_replicate"}


@dataclass
class DrawnNode:
    id: str
    type: str
    label: str
    hops: int
    x: float
    y: float
    angle: float  # radians, from the centre; labels run outwards along it

    @property
    def label_transform(self) -> str:
        """Labels point away from the centre, turned so they never read upside down."""
        if self.hops == 0:
            return f"translate({self.x:.1f},{self.y + 30:.1f})"
        degrees = math.degrees(self.angle)
        flip = 90 < degrees < 270
        dx, dy = 16 * math.cos(self.angle), 16 * math.sin(self.angle)
        turn = degrees + 180 if flip else degrees
        return f"translate({self.x + dx:.1f},{self.y + dy:.1f}) rotate({turn:.1f})"

    @property
    def label_anchor(self) -> str:
        if self.hops == 0:
            return "middle"
        return "end" if 90 < math.degrees(self.angle) < 270 else "start"

    @property
    def short(self) -> str:
        text = self.label
        return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1].rstrip() + "…"

    @property
    def shape(self) -> str:
        return shape_points(STYLE[self.type][0], self.x, self.y, 16 if self.hops == 0 else 11)

    @property
    def colour(self) -> str:
        return STYLE[self.type][1]


@dataclass
class DrawnEdge:
    x1: float
    y1: float
    x2: float
    y2: float
    relation: str

    @property
    def tone(self) -> str:
        if self.relation in SUPPORTING:
            return "supporting"
        return "contesting" if self.relation in CONTESTING else "neutral"


def shape_points(shape: str, x: float, y: float, r: float) -> str:
    """The polygon points of a node's shape (a circle is a 24-gon: one element type to draw)."""
    corners = {"circle": 24, "square": 4, "diamond": 4, "triangle": 3, "hexagon": 6}[shape]
    turn = {"square": math.pi / 4, "triangle": -math.pi / 2}.get(shape, 0.0)
    scale = 0.9 if shape == "square" else 1.0
    return " ".join(
        f"{x + r * scale * math.cos(turn + 2 * math.pi * i / corners):.1f},"
        f"{y + r * scale * math.sin(turn + 2 * math.pi * i / corners):.1f}"
        for i in range(corners)
    )


def _radii(counts: dict[int, int]) -> dict[int, float]:
    """Ring radii: RING_GAP apart at least, and wide enough for 14 px per node."""
    radii: dict[int, float] = {0: 0.0}
    for hops in sorted(h for h in counts if h):
        needed = counts[hops] * NODE_SPACING / (2 * math.pi)
        radii[hops] = max(radii.get(hops - 1, 0.0) + RING_GAP, needed)
    return radii


def layout(result: dict[str, Any]) -> tuple[list[DrawnNode], list[DrawnEdge], int]:
    """Positions for a neighbourhood answer, its edges as lines, and the drawing's size."""
    nodes = result["nodes"]
    neighbours: dict[str, list[str]] = {n["id"]: [] for n in nodes}
    for e in result["edges"]:
        if e["source"] in neighbours and e["target"] in neighbours:
            neighbours[e["source"]].append(e["target"])
            neighbours[e["target"]].append(e["source"])
    rings: dict[int, list[dict[str, Any]]] = {}
    for n in nodes:
        rings.setdefault(n["hops"], []).append(n)
    radii = _radii({h: len(r) for h, r in rings.items()})
    size = int(2 * (max(radii.values()) + LABEL_ROOM))
    centre = size / 2
    angle: dict[str, float] = {}
    placed: dict[str, DrawnNode] = {}
    for hops in sorted(rings):
        ring = rings[hops]

        def parent_angle(n: dict[str, Any]) -> float:
            seen = [angle[m] for m in neighbours[n["id"]] if m in angle]
            return min(seen) if seen else 0.0

        ring.sort(key=lambda n: (parent_angle(n), n["type"], n["id"]))
        for i, n in enumerate(ring):
            a = (2 * math.pi * i / len(ring)) % (2 * math.pi)
            angle[n["id"]] = a
            x = centre + radii[hops] * math.cos(a)
            y = centre + radii[hops] * math.sin(a)
            placed[n["id"]] = DrawnNode(n["id"], n["type"], n["label"], hops, x, y, a)
    edges = [
        DrawnEdge(a_.x, a_.y, b_.x, b_.y, e["relation"])
        for e in result["edges"]
        if (a_ := placed.get(e["source"])) and (b_ := placed.get(e["target"]))
    ]
    return list(placed.values()), edges, size
