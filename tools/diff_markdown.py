"""Markdown blocks that can be trimmed to a size limit without ever cutting a table in half.

A PR comment holds at most 65,536 characters (GitHub). `render(blocks, limit)` keeps blocks in
order while they fit; a table that does not fit whole keeps its header and as many complete rows
as fit, closed by a row that says how many were left out; everything after it is replaced by one
note. The result is always valid Markdown and never longer than `limit`."""
import re
from dataclasses import dataclass, field

GITHUB_COMMENT_LIMIT = 65_536


@dataclass
class Text:
    text: str


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]] = field(default_factory=list)


def cell(value: object, width: int = 160) -> str:
    text = str(value).replace("\r", " ").replace("\n", " ").replace("|", "\\|")
    return text if len(text) <= width else text[: width - 1] + "…"


def _row(cells: list[str]) -> str:
    # A `|` or a line break inside a cell would end the cell or the row: escape what cell() has not.
    safe = [re.sub(r"(?<!\\)\|", r"\\|", str(c)).replace("\r", " ").replace("\n", " ") for c in cells]
    return "| " + " | ".join(safe) + " |\n"


def render_table(table: Table) -> str:
    head = _row(table.header) + "|" + "|".join("---" for _ in table.header) + "|\n"
    return head + "".join(_row(r) for r in table.rows) + "\n"


def render_block(block: Text | Table) -> str:
    return render_table(block) if isinstance(block, Table) else block.text.rstrip("\n") + "\n\n"


def render(blocks: list[Text | Table], limit: int = GITHUB_COMMENT_LIMIT,
           trimmed_note: str = "_Trimmed to fit a pull-request comment; the full report is in the workflow's `build/diff` artifact._") -> str:
    full = "".join(render_block(b) for b in blocks)
    if len(full) <= limit:
        return full
    note = f"\n{trimmed_note}\n"
    budget = limit - len(note)
    out: list[str] = []
    used = 0
    for block in blocks:
        text = render_block(block)
        if used + len(text) <= budget:
            out.append(text)
            used += len(text)
            continue
        if isinstance(block, Table):
            head = render_table(Table(block.header))[:-1]  # header and separator, no blank line
            kept: list[str] = []
            size = len(head)
            for i, r in enumerate(block.rows):
                line = _row(r)
                closing = _row([f"… {len(block.rows) - i - 1} more rows not shown"] + [""] * (len(block.header) - 1))
                if used + size + len(line) + len(closing) + 1 > budget:
                    break
                kept.append(line)
                size += len(line)
            left = len(block.rows) - len(kept)
            closing = _row([f"… {left} more rows not shown"] + [""] * (len(block.header) - 1))
            if used + size + len(closing) + 1 <= budget:
                out.append(head + "".join(kept) + closing + "\n")
        break
    return "".join(out) + note
