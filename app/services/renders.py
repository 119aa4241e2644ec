"""Renders of a stored version (Markdown, HTML), diffs between versions, and the Atom feed.

Everything here reads the stored document only, so a render never changes after publishing.
"""

import difflib
import html
import json
import re
from typing import Any

from feedgen.feed import FeedGenerator

from app.models import ThreadVersion


def _cites(numbers: list[int]) -> str:
    return "".join(f"[{n}]" for n in numbers)


def _evolution_line(entry: dict[str, Any] | None) -> str:
    if entry is None:
        return "Evolution: unchanged in this version."
    note = f" {entry['note']}" if entry.get("note") else ""
    return f"Evolution: {entry['kind'].capitalize()}.{note}"


def _stamp(doc: dict[str, Any]) -> str:
    return doc["published_at"].replace("T", " ")[:16] + " UTC"


def markdown(version: ThreadVersion) -> str:
    """The layout of the thread history document, as Markdown: title, Version N, timestamp and
    item count, then the sections Narrative, Timeline, Perspectives (each with its Evolution
    line), Tensions and Sources."""
    doc = json.loads(version.document)
    out = [
        f"# {doc['thread']['title']} · history",
        "",
        f"Version {doc['version']}",
        "",
        f"{_stamp(doc)} · {doc['item_count']} items",
        "",
        "## Narrative",
        "",
    ]
    for paragraph in doc["narrative"]["text"].split("\n"):
        if paragraph.strip():
            out += [paragraph, ""]
    out += ["## Timeline", ""]
    out += [
        f"- {e['date']}: {e['text']} {_cites(e['citations'])}".rstrip() for e in doc["timeline"]
    ]
    out += ["", "## Perspectives", ""]
    for p in doc["perspectives"]:
        out += [f"### {p['label']}", "", p["stance"], "", _evolution_line(p["evolution"]), ""]
    out += ["## Tensions", ""]
    out += [f"- {t['question']} {_cites(t['citations'])}".rstrip() for t in doc["tensions"]]
    out += ["", "## Sources", ""]
    for s in doc["sources"]:
        where = " — ".join(x for x in (s.get("venue") or s.get("host"), s.get("date")) if x)
        alias = (
            f" (also cited as {', '.join(f'[{a}]' for a in s['aliases'])})" if s["aliases"] else ""
        )
        out.append(f"- [{s['number']}] {s['title']}{' — ' + where if where else ''}{alias}")
    return "\n".join(out) + "\n"


def linked(text: str) -> str:
    """HTML-escaped text whose [n] citations link to the source entries (#source-n)."""
    escaped = html.escape(text)
    return re.sub(r"\[(\d+)\]", r'<a href="#source-\1">[\1]</a>', escaped)


def html_page(version: ThreadVersion) -> str:
    doc = json.loads(version.document)
    title = html.escape(doc["thread"]["title"])
    parts = [
        '<!doctype html><html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{title} · version {doc['version']}</title>",
        "<style>body{font-family:system-ui,sans-serif;max-width:50rem;margin:auto;padding:1rem;"
        "line-height:1.5}h2{margin-top:2rem}.evo{color:#555}</style></head><body>",
        f"<h1>{title} · history</h1>",
        f"<p>Version {doc['version']} · {_stamp(doc)} · {doc['item_count']} items"
        + (" · <em>generated digest</em>" if doc["narrative"]["generated"] else "")
        + "</p>",
        "<h2>Narrative</h2>",
    ]
    parts += [f"<p>{linked(p)}</p>" for p in doc["narrative"]["text"].split("\n") if p.strip()]
    parts.append("<h2>Timeline</h2><ul>")
    parts += [
        f"<li><time>{e['date']}</time>: {linked(e['text'] + ' ' + _cites(e['citations']))}</li>"
        for e in doc["timeline"]
    ]
    parts.append("</ul><h2>Perspectives</h2>")
    for p in doc["perspectives"]:
        parts.append(
            f"<h3>{html.escape(p['label'])}</h3><p>{linked(p['stance'])}</p>"
            f'<p class="evo">{html.escape(_evolution_line(p["evolution"]))}</p>'
        )
    parts.append("<h2>Tensions</h2><ul>")
    parts += [
        f"<li>{linked(t['question'] + ' ' + _cites(t['citations']))} "
        f"<small>({t['status']})</small></li>"
        for t in doc["tensions"]
    ]
    parts.append("</ul><h2>Sources</h2><ol>")
    for s in doc["sources"]:
        alias = "".join(f'<span id="source-{a}"></span>' for a in s["aliases"])
        parts.append(
            f'<li id="source-{s["number"]}" value="{s["number"]}">{alias}'
            f"{html.escape(s['title'])}</li>"
        )
    parts.append("</ol></body></html>")
    return "\n".join(parts) + "\n"


def diff(a: ThreadVersion, b: ThreadVersion) -> dict[str, Any]:
    """What changed from version a to a later version b (numbers compared as works)."""
    da, db = json.loads(a.document), json.loads(b.document)

    def keyed(doc: dict[str, Any], section: str, key: str = "id") -> dict[Any, dict[str, Any]]:
        return {item[key]: item for item in doc[section]}

    sa, sb = keyed(da, "sources", "number"), keyed(db, "sources", "number")
    aliases_b = {n: s["number"] for s in db["sources"] for n in s["aliases"]}
    ta, tb = keyed(da, "tensions"), keyed(db, "tensions")
    pa = keyed(da, "perspectives")

    def change(p: dict[str, Any]) -> tuple[str, dict[str, Any] | None]:
        if p["id"] not in pa:
            return "new", p["evolution"]
        entries = [e for e in p.get("evolution_history", []) if a.number < e["version"] <= b.number]
        if not entries:
            return "unchanged", None
        last = max(entries, key=lambda e: e["version"])
        return last["kind"], {"kind": last["kind"], "note": last["note"]}

    perspectives = []
    for p in db["perspectives"]:
        kind, entry = change(p)
        perspectives.append(
            {"id": p["id"], "label": p["label"], "change": kind, "evolution": entry}
        )
    gone = sorted(set(sa) - set(sb))
    return {
        "thread_id": b.thread_id,
        "title": db["thread"]["title"],
        "from": a.number,
        "to": b.number,
        "sources_added": [sb[n] for n in sorted(set(sb) - set(sa))],
        "sources_removed": [sa[n] for n in gone if n not in aliases_b],
        "sources_merged": [{"number": n, "into": aliases_b[n]} for n in gone if n in aliases_b],
        "timeline_added": [e for e in db["timeline"] if e["id"] not in keyed(da, "timeline")],
        "timeline_removed": [e for e in da["timeline"] if e["id"] not in keyed(db, "timeline")],
        "claims_added": [c for c in db["claims"] if c["id"] not in keyed(da, "claims")],
        "evidence_added": [e for e in db["evidence"] if e["id"] not in keyed(da, "evidence")],
        "perspectives": perspectives,
        "tension_status_changes": [
            {"id": i, "title": tb[i]["title"], "from": ta[i]["status"], "to": tb[i]["status"]}
            for i in sorted(set(ta) & set(tb))
            if ta[i]["status"] != tb[i]["status"]
        ],
        # Lines without their ends, joined with them: a last line lacking "\n" would
        # otherwise run into the next line of the diff.
        "narrative_diff": "\n".join(
            difflib.unified_diff(
                da["narrative"]["text"].splitlines(),
                db["narrative"]["text"].splitlines(),
                fromfile=f"version {a.number}",
                tofile=f"version {b.number}",
                lineterm="",
            )
        ),
    }


def _show_source(s: dict[str, Any]) -> str:
    return f"[{s['number']}] {s['title']}"


def _show_event(e: dict[str, Any]) -> str:
    return f"{e['date']}: {e['text']}"


def _show_evidence(e: dict[str, Any]) -> str:
    return f"{e['relation']} claim {e['claim_id']}"


def _show_perspective(p: dict[str, Any]) -> str:
    return f"{p['label']}: {p['change']}"


def _show_status(t: dict[str, Any]) -> str:
    return f"{t['title']}: {t['from']} → {t['to']}"


def diff_html(d: dict[str, Any]) -> str:
    def items(rows: list[dict[str, Any]], show: Any) -> str:
        return "".join(f"<li>{html.escape(show(r))}</li>" for r in rows) or "<li>none</li>"

    lines = "".join(
        f'<span class="{"add" if ln.startswith("+") else "del" if ln.startswith("-") else ""}">'
        f"{html.escape(ln)}</span>\n"
        for ln in d["narrative_diff"].splitlines()
    )
    sections = [
        ("Sources added", d["sources_added"], _show_source),
        ("Sources removed", d["sources_removed"], _show_source),
        ("Timeline events added", d["timeline_added"], _show_event),
        ("Claims added", d["claims_added"], lambda c: c["text"]),
        ("Evidence added", d["evidence_added"], _show_evidence),
        ("Perspectives", d["perspectives"], _show_perspective),
        ("Tension status changes", d["tension_status_changes"], _show_status),
    ]
    body = "".join(f"<h2>{name}</h2><ul>{items(rows, show)}</ul>" for name, rows, show in sections)
    head = html.escape(d["title"])
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{head}: version {d['from']} → {d['to']}</title>"
        "<style>body{font-family:system-ui,sans-serif;max-width:50rem;margin:auto;padding:1rem}"
        ".add{background:#e6ffe6}.del{background:#ffe6e6}pre{white-space:pre-wrap}</style>"
        f"</head><body><h1>{head}</h1><p>Version {d['from']} → {d['to']}</p>{body}"
        f"<h2>Narrative</h2><pre>{lines}</pre></body></html>\n"
    )


def atom_feed(title: str, thread_id: int, versions: list[ThreadVersion], base_url: str) -> bytes:
    feed = FeedGenerator()
    feed.id(f"urn:theory-atlas:thread:{thread_id}")
    feed.title(f"{title}: versions")
    feed.link(href=f"{base_url}/api/v1/threads/{thread_id}/feed.atom", rel="self")
    feed.link(href=f"{base_url}/api/v1/threads/{thread_id}/versions", rel="alternate")
    feed.author({"name": "Theory Atlas"})
    docs = [(v, json.loads(v.document)) for v in sorted(versions, key=lambda v: v.number)]
    feed.updated(max((d["published_at"] for _, d in docs), default="1970-01-01T00:00:00Z"))
    for v, doc in docs:
        url = f"{base_url}/api/v1/threads/{thread_id}/versions/{v.number}?format=html"
        entry = feed.add_entry(order="append")
        entry.id(f"urn:sha256:{v.content_hash}")
        entry.title(f"Version {v.number} · {doc['item_count']} items")
        entry.link(href=url)
        entry.updated(doc["published_at"])
        entry.published(doc["published_at"])
        entry.summary(doc["narrative"]["text"][:1000])
    return bytes(feed.atom_str(pretty=True))
