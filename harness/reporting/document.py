"""A report page as a list of blocks, written once and rendered twice: Markdown (``.md``) and HTML (``.html``).

Every page of a run (the index, each case) is built as blocks (``Heading``, ``Text``, ``Quote``, ``Table``,
``Code``, ``Figures``, ``Definitions``) by ``harness.reporting.rendering``; ``markdown`` and ``html`` write
them. So the two files say the same thing, and the HTML is real HTML (tables, inline figures, links to the
other HTML pages), never Markdown shown raw. Inline text knows the marks the pages use: `code` spans in
backticks and **strong** text; table cells may be ``Link`` and ``Image`` items.
"""

from __future__ import annotations

import html as html_module
import re
from dataclasses import dataclass, field

_CODE_SPAN = re.compile(r"`([^`]+)`")
_STRONG = re.compile(r"\*\*([^*]+)\*\*")


@dataclass(frozen=True)
class Link:
    """A link to another page: ``markdown_href`` from the ``.md`` page, ``html_href`` from the ``.html`` page."""

    text: str
    markdown_href: str
    html_href: str


@dataclass(frozen=True)
class Image:
    """A small image in a table cell (a thumbnail), linked to ``href`` pages like ``Link``."""

    src: str
    alt: str
    link: Link | None = None


Cell = str | Link | Image | tuple  # a tuple: several items in one cell


@dataclass(frozen=True)
class Heading:
    level: int
    text: str


@dataclass(frozen=True)
class Text:
    text: str
    strong: bool = False


@dataclass(frozen=True)
class Quote:
    text: str


@dataclass(frozen=True)
class Definitions:
    pairs: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Table:
    """Rows of cells; ``row_classes`` marks rows for the HTML style (e.g. ``adds`` for a row to notice)."""

    header: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    row_classes: tuple[str, ...] = ()
    cell_classes: dict[str, tuple[str, ...]] = field(default_factory=dict)  # column → the css class per value
    empty: str = "(none)"


@dataclass(frozen=True)
class Code:
    text: str
    language: str = ""


@dataclass(frozen=True)
class Figures:
    names: tuple[str, ...]


Block = Heading | Text | Quote | Definitions | Table | Code | Figures


# --- Markdown ----------------------------------------------------------------------------------------------


def _md_cell(cell: Cell) -> str:
    if isinstance(cell, tuple):
        return " ".join(_md_cell(item) for item in cell)
    if isinstance(cell, Link):
        return f"[{cell.text}]({cell.markdown_href})"
    if isinstance(cell, Image):
        image = f"![{cell.alt}]({cell.src})"
        return f"[{image}]({cell.link.markdown_href})" if cell.link else image
    return str(cell).replace("|", "\\|").replace("\n", " ")


def markdown(blocks: list[Block]) -> str:
    lines: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            lines += ["#" * block.level + " " + block.text, ""]
        elif isinstance(block, Text):
            lines += [f"**{block.text}**" if block.strong else block.text, ""]
        elif isinstance(block, Quote):
            lines += [f"> {block.text}", ""]
        elif isinstance(block, Definitions):
            lines += [f"- **{key}**: {value}" for key, value in block.pairs] + [""]
        elif isinstance(block, Table):
            if not block.rows:
                lines += [block.empty, ""]
                continue
            lines.append("| " + " | ".join(block.header) + " |")
            lines.append("|" + "---|" * len(block.header))
            lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in block.rows]
            lines.append("")
        elif isinstance(block, Code):
            lines += ["```" + block.language, block.text, "```", ""]
        elif isinstance(block, Figures):
            lines += [f"![{name}]({name})" for name in block.names] + [""]
    return "\n".join(lines)


# --- HTML --------------------------------------------------------------------------------------------------

CSS = """
body { font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 1360px; padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin-bottom: 1.5em; max-width: 100%; font-size: 0.9em; }
th, td { border: 1px solid #bbb; padding: 0.25em 0.5em; text-align: left; vertical-align: top; }
td { overflow-wrap: anywhere; min-width: 2.2em; } td:first-child { overflow-wrap: normal; }
th { background: #eef; position: sticky; top: 0; }
td.violated { background: #fdd; } td.inconclusive { background: #ffd; } td.holds { background: #dfd; }
tr.adds td { background: #fde8c8; font-weight: 600; }
code, pre { font-family: ui-monospace, monospace; font-size: 0.92em; }
pre { background: #f5f5f5; padding: 0.6em; overflow-x: auto; white-space: pre-wrap; }
blockquote { border-left: 4px solid #ccd; margin-left: 0; padding-left: 1em; color: #444; }
dl { display: grid; grid-template-columns: max-content auto; gap: 0.2em 1em; }
dt { font-weight: bold; } dd { margin: 0; overflow-wrap: anywhere; }
figure { display: inline-block; margin: 0 1em 1em 0; } figure img { max-width: 640px; width: 100%; }
img.thumb { height: 64px; border: 1px solid #ccc; margin-right: 0.3em; }
td.heat { text-align: right; }
"""


def _inline(text: str) -> str:
    escaped = html_module.escape(str(text))
    escaped = _CODE_SPAN.sub(lambda m: f"<code>{m.group(1)}</code>", escaped)
    return _STRONG.sub(lambda m: f"<strong>{m.group(1)}</strong>", escaped)


def _html_cell(cell: Cell) -> str:
    escape = html_module.escape
    if isinstance(cell, tuple):
        return " ".join(_html_cell(item) for item in cell)
    if isinstance(cell, Link):
        return f"<a href='{escape(cell.html_href)}'>{escape(cell.text)}</a>"
    if isinstance(cell, Image):
        image = f"<img class='thumb' src='{escape(cell.src)}' alt='{escape(cell.alt)}' loading='lazy'>"
        return f"<a href='{escape(cell.link.html_href)}'>{image}</a>" if cell.link else image
    return _inline(str(cell))


def _html_table(block: Table) -> list[str]:
    if not block.rows:
        return [f"<p>{_inline(block.empty)}</p>"]
    parts = ["<table><thead><tr>" + "".join(f"<th>{_inline(h)}</th>" for h in block.header) + "</tr></thead><tbody>"]
    for index, row in enumerate(block.rows):
        css = block.row_classes[index] if index < len(block.row_classes) else ""
        cells = []
        for column, cell in zip(block.header, row):
            classes = block.cell_classes.get(column)
            style = ""
            if classes is not None and index < len(classes) and classes[index]:
                style = classes[index]
            attribute = ""
            if style.startswith("background"):
                attribute = f" class='heat' style='{style}'"
            elif style:
                attribute = f" class='{style}'"
            cells.append(f"<td{attribute}>{_html_cell(cell)}</td>")
        parts.append((f"<tr class='{css}'>" if css else "<tr>") + "".join(cells) + "</tr>")
    parts.append("</tbody></table>")
    return parts


def html(blocks: list[Block], title: str) -> str:
    """A self-contained HTML page (inline style, relative links and images)."""
    escape = html_module.escape
    parts = [
        "<!DOCTYPE html>",
        "<html lang='en'><head><meta charset='utf-8'>",
        f"<meta name='viewport' content='width=device-width'><title>{escape(title)}</title>",
        f"<style>{CSS}</style></head><body>",
    ]
    for block in blocks:
        if isinstance(block, Heading):
            parts.append(f"<h{block.level}>{_inline(block.text)}</h{block.level}>")
        elif isinstance(block, Text):
            parts.append(
                f"<p><strong>{_inline(block.text)}</strong></p>" if block.strong else f"<p>{_inline(block.text)}</p>"
            )
        elif isinstance(block, Quote):
            parts.append(f"<blockquote>{_inline(block.text)}</blockquote>")
        elif isinstance(block, Definitions):
            parts.append(
                "<dl>" + "".join(f"<dt>{_inline(k)}</dt><dd>{_inline(v)}</dd>" for k, v in block.pairs) + "</dl>"
            )
        elif isinstance(block, Table):
            parts += _html_table(block)
        elif isinstance(block, Code):
            parts.append(f"<pre><code>{escape(block.text)}</code></pre>")
        elif isinstance(block, Figures):
            parts += [
                f"<figure><img src='{escape(n)}' alt='{escape(n)}'><figcaption>{escape(n)}</figcaption></figure>"
                for n in block.names
            ]
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
