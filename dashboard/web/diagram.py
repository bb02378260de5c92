"""The state-machine diagram as a self-contained SVG, drawn from the action table.

``state_machine_svg()`` returns the picture the state-machine page shows and the README embeds
(``docs/state-machine.svg``; rewrite it with
``python -m dashboard.web.write_state_machine``). The graph —
which arrows exist, which actions they carry, which task_states those pass through — comes from
``dashboard.web.transitions``, i.e. from ``compute.actions``. Only the placement of the
vm_states is fixed here; a vm_state added to the model without a place gets one in a spare row.
No outside service and no layout engine is involved. The words are in the active language
(the action table's labels through the catalogue; Nova's identifiers as they are); the README's
copy is English.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape

from django.utils.translation import gettext, pgettext, pgettext_lazy

from compute.models.tenancy import Role
from compute.states import VmState
from dashboard.web.presentation import badge
from dashboard.web.transitions import ANY, Arrow, Graph, graph, targets

V = VmState

#: The roles an arrow's label names (its action's least role above member), for the catalogue.
ROLE_WORDS = (pgettext_lazy("role", "manager"), pgettext_lazy("role", "admin"))

WIDTH, HEIGHT = 1560, 1180
NODE_W = 180

#: Node centres. Active is the hub; states that trade arrows sit next to each other.
PLACES: dict[str, tuple[float, float]] = {
    V.BUILDING: (780, 84),
    V.PAUSED: (330, 250),
    V.RESCUED: (1230, 250),
    V.SUSPENDED: (130, 560),
    V.ACTIVE: (780, 560),
    V.ERROR: (1430, 560),
    V.SHELVED: (330, 880),
    V.STOPPED: (780, 880),
    V.RESIZED: (1230, 880),
    V.SHELVED_OFFLOADED: (330, 1090),
    V.SOFT_DELETED: (1430, 300),
    V.DELETED: (1130, 84),
    ANY: (1430, 84),
}


def _paint(token: str, light: str) -> str:
    """A colour of the page's theme (static/css/dash.css's custom property), with the light
    theme's value where no page defines it (the SVG on its own, docs/state-machine.svg)."""
    return f"var(--{token}, {light})"


SURFACE = _paint("surface", "#ffffff")
INK = _paint("ink", "#0f172a")
SOFT_INK = _paint("muted-fg", "#475569")
FAINT_INK = _paint("muted", "#64748b")
BORDER = _paint("border", "#e2e8f0")
FAILURE = _paint("danger-dot", "#dc2626")

#: Fill, stroke and text colours per presentation tone (kept in step with static/css).
TONE_COLOURS: dict[str, tuple[str, str, str]] = {
    tone: (_paint(f"{tone}-bg", bg), _paint(f"{tone}-dot", dot), _paint(f"{tone}-fg", ink))
    for tone, (bg, dot, ink) in {
        "ok": ("#ecfdf3", "#16a34a", "#14532d"),
        "busy": ("#eff6ff", "#2563eb", "#1e3a8a"),
        "warn": ("#fffbeb", "#d97706", "#78350f"),
        "danger": ("#fef2f2", "#dc2626", "#7f1d1d"),
        "muted": ("#f8fafc", "#94a3b8", "#334155"),
        "accent": ("#f5f3ff", "#7c3aed", "#4c1d95"),
    }.items()
}

FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"
MONO = "ui-monospace, 'SFMono-Regular', Menlo, Consolas, 'Liberation Mono', monospace"

#: Bends for arrows that would otherwise cross a box, by (source, target); positive bends left.
BENDS: dict[tuple[str, str], float] = {}
#: Where along an arrow its label sits (0 = tail, 1 = head), where the middle is crowded.
LABEL_AT: dict[tuple[str, str], float] = {
    (V.PAUSED, V.SHELVED): 0.86,
    (V.SUSPENDED, V.SHELVED): 0.3,
    (V.BUILDING, V.ERROR): 0.3,
    (V.ERROR, V.ACTIVE): 0.3,
    (V.STOPPED, V.RESCUED): 0.62,
    (V.ERROR, V.STOPPED): 0.22,
    (V.SOFT_DELETED, V.ACTIVE): 0.3,
}


@dataclass(frozen=True)
class Box:
    cx: float
    cy: float
    w: float
    h: float

    def edge_point(self, tx: float, ty: float) -> tuple[float, float]:
        """Where the line from the centre towards (tx, ty) leaves the box."""
        dx, dy = tx - self.cx, ty - self.cy
        if dx == 0 and dy == 0:
            return self.cx, self.cy
        scale = min(
            (self.w / 2) / abs(dx) if dx else math.inf, (self.h / 2) / abs(dy) if dy else math.inf
        )
        return self.cx + dx * scale, self.cy + dy * scale


def _wrap(words: list[str], limit: int) -> list[str]:
    lines: list[str] = []
    current = ""
    for word in words:
        candidate = f"{current}, {word}" if current else word
        if _width(candidate) > limit and current:
            lines.append(current + ",")
            current = word
        else:
            current = candidate
    if current:
        lines.append(current)
    return lines


def _walk_lines(walk: tuple[str, ...], limit: int = 34) -> list[str]:
    lines: list[str] = []
    current = ""
    for step in walk:
        candidate = f"{current} › {step}" if current else step
        if len(candidate) > limit and current:
            lines.append(current + " ›")
            current = step
        else:
            current = candidate
    if current:
        lines.append(current)
    return lines


class _Canvas:
    def __init__(self) -> None:
        self.back: list[str] = []
        self.front: list[str] = []

    def text(
        self,
        x: float,
        y: float,
        content: str,
        *,
        size: float = 12,
        weight: int = 400,
        fill: str = INK,
        anchor: str = "middle",
        mono: bool = False,
        layer: str = "front",
    ) -> None:
        family = MONO if mono else FONT
        (self.front if layer == "front" else self.back).append(
            f'<text x="{x:.1f}" y="{y:.1f}" font-family="{family}" font-size="{size}" '
            f'font-weight="{weight}" style="fill:{fill}" text-anchor="{anchor}">{escape(content)}</text>'
        )


def _fanned(g: Graph) -> list[Arrow]:
    """Arrows from any vm_state to a target the caller picks (reset state): listed in the
    "any vm_state" box rather than drawn across the whole picture."""
    return [a for key, arrows in g.arrows.items() if key[0] == ANY for a in arrows if _is_fanned(a)]


def _is_fanned(arrow: Arrow) -> bool:
    return arrow.source == ANY and len(_targets_of(arrow)) > 1


def _targets_of(arrow: Arrow) -> tuple[str, ...]:
    return targets(arrow.spec, arrow.source)


def _width(text: str) -> float:
    """The text's width in Latin characters: a CJK character is as wide as two."""
    return sum(2 if ord(ch) >= 0x2E80 else 1 for ch in text)


def _node_lines(state: str, g: Graph) -> list[str]:
    seen = list(dict.fromkeys(gettext(s.label) for s in g.in_place.get(state, ())))
    lines = _wrap(seen, 26) if seen else []
    if state == ANY:
        fans: dict[str, list[str]] = {}
        for arrow in _fanned(g):
            fans.setdefault(gettext(arrow.spec.label), []).append(arrow.target)
        for label, targets in fans.items():
            either = gettext(" or ").join(targets)
            lines.append(f"→ {either}: {label}")
    return lines


def _boxes(g: Graph) -> dict[str, Box]:
    boxes: dict[str, Box] = {}
    spare = 0
    for state in (*g.states, ANY):
        place = PLACES.get(state)
        if place is None:  # a vm_state without a place: a spare slot along the top
            place = (120 + 200 * spare, 92)
            spare += 1
        lines = _node_lines(state, g)
        h = 46 + (14 * len(lines) + 8 if lines else 0)
        boxes[state] = Box(place[0], place[1], NODE_W, h)
    return boxes


def _draw_node(canvas: _Canvas, state: str, box: Box, g: Graph) -> None:
    if state == ANY:
        fill, stroke, ink = (SURFACE, FAINT_INK, _paint("ink-2", "#334155"))
        title, subtitle = gettext("any vm_state"), gettext("every state")
        dash = ' stroke-dasharray="5 4"'
    else:
        b = badge("vm_state", state)
        fill, stroke, ink = TONE_COLOURS[b.tone]
        title, subtitle, dash = state, b.label, ""
    x, y = box.cx - box.w / 2, box.cy - box.h / 2
    keys = [s.key for s in g.in_place.get(state, ())]
    if state == ANY:
        keys += [a.spec.key for a in _fanned(g)]
    canvas.front.append(
        f'<g class="node" data-state="{escape(state)}" '
        f'data-actions="{escape(" ".join(dict.fromkeys(keys)))}"><title>{escape(title)}</title>'
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{box.w}" height="{box.h}" rx="10" '
        f'style="fill:{fill};stroke:{stroke}" stroke-width="1.6"{dash}/></g>'
    )
    canvas.text(box.cx, y + 21, title, size=14, weight=700, fill=ink, mono=True)
    if subtitle:
        canvas.text(box.cx, y + 37, subtitle, size=11, fill=ink)
    lines = _node_lines(state, g)
    if lines:
        top = y + 46
        canvas.front.append(
            f'<line x1="{x + 10:.1f}" y1="{top:.1f}" x2="{x + box.w - 10:.1f}" y2="{top:.1f}" '
            f'style="stroke:{stroke}" stroke-opacity="0.35"/>'
        )
        for i, line in enumerate(lines):
            prefix = "⟲ " if i == 0 and not line.startswith("→") else ""
            canvas.text(box.cx, top + 15 + 14 * i, prefix + line, size=10.5, fill=SOFT_INK)


def _label_lines(arrows: tuple[Arrow, ...], walked: set[str]) -> list[tuple[str, bool]]:
    """(text, is_action_name) lines: each action's label, then its walk in monospace — the
    walk only the first time the action is labelled (on its longest arrow), to keep the
    picture readable; ``walked`` records which actions already showed theirs."""
    lines: list[tuple[str, bool]] = []
    seen: set[str] = set()
    for arrow in arrows:
        spec = arrow.spec
        if spec.key in seen:
            continue
        seen.add(spec.key)
        name = gettext(spec.label)
        if arrow.failure:
            name = gettext("%(action)s (fails)") % {"action": name}
        if spec.role != Role.MEMBER:
            name += f" · {pgettext('role', spec.role)}"
        lines.append((name, True))
        if not arrow.failure and spec.key not in walked:
            walked.add(spec.key)
            lines.extend((w, False) for w in _walk_lines(spec.walk))
    return lines


def _draw_arrow(
    canvas: _Canvas,
    key: tuple[str, str],
    arrows: tuple[Arrow, ...],
    boxes: dict[str, Box],
    *,
    reverse: bool,
    walked: set[str],
) -> None:
    source, target = boxes[key[0]], boxes[key[1]]
    lines = _label_lines(arrows, walked)
    label_h = 13 * len(lines) + 7
    bend = BENDS.get(key, max(30.0, label_h / 2 + 8) if reverse else 0.0)
    mx, my = (source.cx + target.cx) / 2, (source.cy + target.cy) / 2
    dx, dy = target.cx - source.cx, target.cy - source.cy
    length = math.hypot(dx, dy) or 1.0
    nx, ny = -dy / length, dx / length
    cx, cy = mx + nx * bend * 2, my + ny * bend * 2
    sx, sy = source.edge_point(cx, cy)
    tx, ty = target.edge_point(cx, cy)
    failure = all(a.failure for a in arrows)
    colour = FAILURE if failure else SOFT_INK
    dash = ' stroke-dasharray="6 5"' if failure else ""
    marker = "url(#arrow-fail)" if failure else "url(#arrow)"
    names = ", ".join(dict.fromkeys(gettext(a.spec.label) for a in arrows))
    keys = " ".join(dict.fromkeys(a.spec.key for a in arrows))
    canvas.back.append(
        f'<path class="arrow" data-actions="{escape(keys)}" d="M{sx:.1f},{sy:.1f} Q{cx:.1f},{cy:.1f} {tx:.1f},{ty:.1f}" '
        f'fill="none" style="stroke:{colour}" stroke-width="1.4"{dash} marker-end="{marker}">'
        f"<title>{escape(key[0])} → {escape(key[1])}: {escape(names)}</title></path>"
    )
    # The label sits on the curve's midpoint (t = 0.5 of the quadratic Bézier).
    t = LABEL_AT.get(key, 0.5)
    lx = (1 - t) ** 2 * sx + 2 * (1 - t) * t * cx + t**2 * tx
    ly = (1 - t) ** 2 * sy + 2 * (1 - t) * t * cy + t**2 * ty
    widths = [_width(text) * (6.4 if bold else 5.9) for text, bold in lines]
    w, h = max(widths) + 12, label_h
    canvas.front.append(
        f'<g class="label" data-actions="{escape(keys)}">'
        f'<rect x="{lx - w / 2:.1f}" y="{ly - h / 2:.1f}" width="{w:.1f}" height="{h:.1f}" '
        f'rx="4" style="fill:{SURFACE};stroke:{BORDER}" fill-opacity="0.94"/>'
    )
    for i, (line, bold) in enumerate(lines):
        y = ly - h / 2 + 14 + 13 * i
        if bold:
            canvas.text(lx, y, line, size=11.5, weight=650, fill=colour)
        else:
            canvas.text(lx, y, line, size=10, fill=FAINT_INK, mono=True)
    canvas.front.append("</g>")


def state_machine_svg() -> str:
    g = graph()
    boxes = _boxes(g)
    canvas = _Canvas()
    drawn = {key: tuple(a for a in arrows if not _is_fanned(a)) for key, arrows in g.arrows.items()}
    drawn = {key: arrows for key, arrows in drawn.items() if arrows}

    def length(key: tuple[str, str]) -> float:
        a, b = boxes[key[0]], boxes[key[1]]
        return math.hypot(a.cx - b.cx, a.cy - b.cy)

    walked: set[str] = set()
    # Longest arrows first: they have the room for an action's full walk.
    for key in sorted(drawn, key=length, reverse=True):
        _draw_arrow(
            canvas,
            key,
            drawn[key],
            boxes,
            reverse=(key[1], key[0]) in drawn,
            walked=walked,
        )
    for state in (*g.states, ANY):
        _draw_node(canvas, state, boxes[state], g)
    # The entry: a request to create accepts the instance in building.
    building = boxes[V.BUILDING]
    top = building.cy - building.h / 2
    canvas.back.append(
        f'<circle cx="{building.cx - 170:.1f}" cy="{top - 10:.1f}" r="7" style="fill:{INK}"/>'
        f'<path d="M{building.cx - 162:.1f},{top - 8:.1f} L{building.cx - building.w / 2:.1f},'
        f'{building.cy - 6:.1f}" style="stroke:{SOFT_INK}" stroke-width="1.4" fill="none" '
        f'marker-end="url(#arrow)"/>'
    )
    canvas.text(building.cx - 176, top - 24, "POST /servers", size=11, weight=600, anchor="start")
    legend = [
        gettext(
            "vm_states are boxes, actions are arrows; under each action, the task_states it "
            "passes through."
        ),
        gettext(
            "⟲ lists the actions that leave the vm_state unchanged. Drawn from compute/actions.py."
        ),
    ]
    for i, line in enumerate(legend):
        canvas.text(24, HEIGHT - 30 + 15 * i, line, size=11, fill=SOFT_INK, anchor="start")
    defs = (
        "<defs>"
        '<marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" '
        'markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        f'style="fill:{SOFT_INK}"/></marker>'
        '<marker id="arrow-fail" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" '
        'markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        f'style="fill:{FAILURE}"/></marker>'
        "</defs>"
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" aria-labelledby="sm-title">'
        '<title id="sm-title">'
        + escape(gettext("Instance state machine: vm_states and the actions between them"))
        + "</title>"
        f'<rect width="{WIDTH}" height="{HEIGHT}" style="fill:{SURFACE}"/>'
        f'{defs}<g class="arrows">{"".join(canvas.back)}</g>'
        f'<g class="nodes">{"".join(canvas.front)}</g></svg>\n'
    )
