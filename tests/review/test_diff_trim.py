"""summary.md fits a GitHub comment (65,536 characters) and is never cut inside a table."""
from tools.diff_markdown import GITHUB_COMMENT_LIMIT, Table, Text, cell, render


def tables_in(markdown: str) -> list[list[str]]:
    tables, current = [], []
    for line in markdown.splitlines():
        if line.startswith("|"):
            current.append(line)
        elif current:
            tables.append(current)
            current = []
    if current:
        tables.append(current)
    return tables


def cells(line: str) -> int:
    return len(line.replace("\\|", "").strip().strip("|").split("|"))


def assert_well_formed(markdown: str) -> None:
    for table in tables_in(markdown):
        assert len(table) >= 2 and set(table[1].replace("|", "")) == {"-"}, table[:2]
        width = cells(table[0])
        for line in table:
            assert line.endswith("|") and cells(line) == width, line


def big_report(rows: int) -> list:
    blocks = [Text("# Infrastructure diff"), Table(["stack", "add", "change"], [["prod", "1", "2"]])]
    for i in range(4):
        blocks.append(Text(f"## section {i}"))
        blocks.append(Table(["resource", "property", "before", "after"],
                            [[f"`res-{i}-{n}`", f"`spec.values[{n}]`", "`" + "x" * 80 + "`", "`a|b`"] for n in range(rows)]))
    return blocks


def test_short_output_is_untouched():
    blocks = big_report(3)
    out = render(blocks, GITHUB_COMMENT_LIMIT)
    assert "Trimmed" not in out and out.count("`res-") == 12
    assert_well_formed(out)


def test_long_output_is_trimmed_to_the_limit_between_table_rows():
    blocks = big_report(400)
    full = render(blocks, 10**9)
    assert len(full) > GITHUB_COMMENT_LIMIT
    out = render(blocks, GITHUB_COMMENT_LIMIT)
    assert len(out) <= GITHUB_COMMENT_LIMIT
    assert out.startswith("# Infrastructure diff") and "| prod | 1 | 2 |" in out  # the overview survives
    assert "more rows not shown" in out and "Trimmed to fit" in out
    assert_well_formed(out)
    # What is kept is a prefix of the full report, row for row.
    kept = [line for line in out.splitlines() if line.startswith("| `res-")]
    assert kept == [line for line in full.splitlines() if line.startswith("| `res-")][: len(kept)]


def test_trimming_at_every_size_never_breaks_a_table():
    blocks = big_report(40)
    for limit in range(600, len(render(blocks, 10**9)), 997):
        out = render(blocks, limit)
        assert len(out) <= limit
        assert_well_formed(out)


def test_cells_escape_pipes_and_newlines():
    assert cell("a|b\nc") == "a\\|b c"
    assert len(cell("y" * 500, 50)) == 50
