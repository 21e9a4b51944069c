"""Self-contained HTML of a markdown report, for ``snakemake --report``: a small renderer of the markdown
subset the reports use (headings, pipe tables, paragraphs, block quotes, lists, bold, italics, code,
links and images). Images of the report folder are embedded as data URIs, links to other reports point to
their HTML; no script, no network."""
from __future__ import annotations

import base64
import html
import re
from collections.abc import Callable, Mapping

STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 1.5em auto; max-width: 72em;
       padding: 0 1em; color: #222; line-height: 1.45; }
h1 { font-size: 1.5em; } h2 { font-size: 1.25em; margin-top: 1.6em; } h3 { font-size: 1.05em; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: left; vertical-align: top; }
th { background: #f2f2f2; } tr:nth-child(even) td { background: #fafafa; }
code { background: #f4f4f4; padding: 0 0.2em; font-size: 0.92em; }
blockquote { border-left: 4px solid #e0b040; margin: 0.8em 0; padding: 0.2em 0.8em; background: #fffaf0; }
img { max-width: 100%; }
"""

_TABLE_SEPARATOR = re.compile(r"^\|(\s*:?-+:?\s*\|)+\s*$")
_CELL_SPLIT = re.compile(r"(?<!\\)\|")

Images = Mapping[str, bytes]
"""File name -> PNG bytes of the images a report may show (embedded as data URIs)."""


def inline(text: str, images: Images | None = None, link: Callable[[str], str] | None = None) -> str:
    """Escape ``text`` and render code spans, images, links, bold and italics."""
    images = images or {}
    link = link or (lambda target: target)
    parts = re.split(r"(`[^`]*`)", text)   # nothing inside a code span is markup
    out = []
    for part in parts:
        if part.startswith("`") and part.endswith("`") and len(part) >= 2:
            out.append(f"<code>{html.escape(part[1:-1])}</code>")
            continue
        escaped = html.escape(part, quote=False)

        def image(match: re.Match) -> str:
            alt, target = match.group(1), html.unescape(match.group(2))
            source = (f"data:image/png;base64,{base64.b64encode(images[target]).decode()}" if target in images
                      else target)
            return f'<img alt="{html.escape(alt)}" src="{html.escape(source)}">'

        escaped = re.sub(r"!\[([^\]]*)\]\(([^)\s]+)\)", image, escaped)
        escaped = re.sub(r"(?<!!)\[([^\]]+)\]\(([^)\s]+)\)",
                         lambda m: f'<a href="{html.escape(link(html.unescape(m.group(2))))}">{m.group(1)}</a>', escaped)
        escaped = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", escaped)
        escaped = re.sub(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])", r"<em>\1</em>", escaped)
        out.append(escaped)
    return "".join(out)


def _cells(line: str) -> list[str]:
    body = line.strip()
    body = body[1:] if body.startswith("|") else body
    body = body[:-1] if body.endswith("|") and not body.endswith("\\|") else body
    return [cell.strip().replace("\\|", "|") for cell in _CELL_SPLIT.split(body)]


def markdown_to_html(text: str, images: Images | None = None, link: Callable[[str], str] | None = None) -> str:
    """The HTML body of markdown ``text`` (the subset the reports use)."""
    def span(value: str) -> str:
        return inline(value, images, link)

    lines = text.splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if not stripped:
            i += 1
            continue
        heading = re.match(r"^(#{1,6})\s+(.*)$", stripped)
        if heading:
            level = len(heading.group(1))
            out.append(f"<h{level}>{span(heading.group(2).strip())}</h{level}>")
            i += 1
        elif stripped.startswith("|") and i + 1 < len(lines) and _TABLE_SEPARATOR.match(lines[i + 1].strip()):
            header = _cells(stripped)
            i += 2
            rows = []
            while i < len(lines) and lines[i].strip().startswith("|"):
                rows.append(_cells(lines[i]))
                i += 1
            head = "".join(f"<th>{span(c)}</th>" for c in header)
            body = "\n".join("<tr>" + "".join(f"<td>{span(c)}</td>" for c in row) + "</tr>" for row in rows)
            out.append(f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>")
        elif stripped.startswith(">"):
            quoted = []
            while i < len(lines) and lines[i].strip().startswith(">"):
                quoted.append(lines[i].strip()[1:].strip())
                i += 1
            out.append(f"<blockquote><p>{span(' '.join(quoted))}</p></blockquote>")
        elif re.match(r"^([-*]|\d+\.)\s+", stripped):
            ordered = bool(re.match(r"^\d+\.", stripped))
            items = []
            while i < len(lines) and re.match(r"^([-*]|\d+\.)\s+", lines[i].strip()):
                items.append(re.sub(r"^([-*]|\d+\.)\s+", "", lines[i].strip()))
                i += 1
            tag = "ol" if ordered else "ul"
            out.append(f"<{tag}>\n" + "\n".join(f"<li>{span(item)}</li>" for item in items) + f"\n</{tag}>")
        else:
            paragraph = []
            while i < len(lines) and lines[i].strip() and not _block_start(lines, i):
                paragraph.append(lines[i].strip())
                i += 1
            out.append(f"<p>{span(' '.join(paragraph))}</p>")
    return "\n".join(out)


def _block_start(lines: list[str], i: int) -> bool:
    stripped = lines[i].strip()
    return bool(re.match(r"^(#{1,6}\s|>|([-*]|\d+\.)\s)", stripped)) or (
        stripped.startswith("|") and i + 1 < len(lines) and bool(_TABLE_SEPARATOR.match(lines[i + 1].strip())))


def html_link(target: str) -> str:
    """A link of a report as seen from its HTML beside the others: ``table3.md`` -> ``table3.html``."""
    if "://" in target or target.startswith("#"):
        return target
    if target.endswith(".md"):
        return target[:-3] + ".html"
    return "../" + target    # a file of the report folder, one level up from html/


def html_page(markdown: str, images: Images | None = None) -> str:
    """A complete, self-contained HTML page of a markdown report (its title from the first heading)."""
    title = next((line.lstrip("#").strip() for line in markdown.splitlines() if line.startswith("# ")), "Report")
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{html.escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
            f"{markdown_to_html(markdown, images, html_link)}\n</body>\n</html>\n")
