"""search_docs and read_doc: BM25 search over Markdown, text, HTML and PDF documents, confined to the project
and the source folders the settings allow."""

from __future__ import annotations

from pathlib import Path

import pytest

from boocode.errors import ToolError
from boocode.tools.base import Tool, ToolContext
from boocode.tools.docs import DocumentIndex, doc_tools, passages


def pdf_with_text(*pages: str) -> bytes:
    """A minimal valid PDF with one line of Helvetica text per page."""
    objects = ["<< /Type /Catalog /Pages 2 0 R >>"]
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(len(pages)))
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>")
    font = 3 + 2 * len(pages)
    for i, text in enumerate(pages):
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {4 + 2 * i} 0 R "
            f"/Resources << /Font << /F1 {font} 0 R >> >> >>"
        )
        stream = f"BT /F1 12 Tf 72 712 Td ({text}) Tj ET"
        objects.append(f"<< /Length {len(stream)} >>\nstream\n{stream}\nendstream")
    objects.append("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode()
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += "".join(f"{offset:010d} 00000 n \n" for offset in offsets).encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return out


@pytest.fixture
def docs(root: Path) -> Path:
    folder = root / "docs"
    folder.mkdir()
    (folder / "battery.md").write_text(
        "# Power\n\nThe KS-4 sensor has a battery life of 18 months.\n\n"
        "# Radio\n\nIt sends data over LoRaWAN.\n"
    )
    (folder / "old.txt").write_text("The KS-3 sensor had a battery life of 9 months.\nIt is discontinued.\n")
    (folder / "team.html").write_text(
        "<html><head><script>var x = 'battery';</script></head><body><p>The firmware team is led by"
        "\nInes Okafor.</p></body></html>"
    )
    (folder / "report.pdf").write_bytes(pdf_with_text("Quarterly report", "Revenue grew by 12 percent"))
    (folder / "code.py").write_text("battery = 1\n")
    return folder


@pytest.fixture
def tools() -> tuple[Tool, Tool]:
    return doc_tools()


async def test_search_ranks_passages_by_bm25(docs: Path, ctx: ToolContext, tools: tuple[Tool, Tool]) -> None:
    search, _ = tools
    out = (await search.run({"query": "KS-4 battery life", "path": "docs"}, ctx)).content
    head, first, second = out.split("\n\n")[:3]
    assert head == "2 best passages (4 documents, 4 passages in docs):"
    assert first.startswith("[1] docs/battery.md:1-7 (score ") and "18 months" in first
    assert second.startswith("[2] docs/old.txt:1-2 ")  # KS-3 shares fewer and commoner words
    assert "code.py" not in out and "var x" not in out  # not a document; scripts are not text


async def test_html_and_pdf_are_read_as_text(docs: Path, ctx: ToolContext, tools: tuple[Tool, Tool]) -> None:
    search, read = tools
    assert (
        "[1] docs/report.pdf:1-4"
        in (await search.run({"query": "revenue grew", "path": "docs"}, ctx)).content
    )
    pdf = (await read.run({"path": "docs/report.pdf"}, ctx)).content
    assert pdf.splitlines() == [
        "     1\t[page 1]",
        "     2\tQuarterly report",
        "     3\t[page 2]",
        "     4\tRevenue grew by 12 percent",
    ]
    html = (await read.run({"path": "docs/team.html"}, ctx)).content
    assert html == "     1\tThe firmware team is led by Ines Okafor."  # the script is gone


async def test_exact_finds_a_quote_across_lines_and_says_when_it_is_absent(
    docs: Path, ctx: ToolContext, tools: tuple[Tool, Tool]
) -> None:
    search, _ = tools
    found = (
        await search.run({"query": "team is led by Ines Okafor", "path": "docs", "exact": True}, ctx)
    ).content
    assert found.splitlines()[1] == "docs/team.html:1: The firmware team is led by Ines Okafor."
    missing = await search.run({"query": "a battery life of 20 months", "path": "docs", "exact": True}, ctx)
    assert missing.content.startswith("the exact text was not found (4 documents")


async def test_the_index_follows_changes(docs: Path, ctx: ToolContext, tools: tuple[Tool, Tool]) -> None:
    search, _ = tools
    assert "no passages match" in (await search.run({"query": "zebra", "path": "docs"}, ctx)).content
    (docs / "zoo.md").write_text("A zebra lives here.\n")
    assert "docs/zoo.md:1-1" in (await search.run({"query": "zebra", "path": "docs"}, ctx)).content


async def test_a_folder_outside_the_project_must_be_allowed(
    root: Path, ctx: ToolContext, tmp_path: Path
) -> None:
    outside = tmp_path / "papers"
    outside.mkdir()
    (outside / "p.md").write_text("Outside knowledge about tides.\n")
    search, read = doc_tools()
    with pytest.raises(ToolError, match=r"outside the project; .* BOOCODE_SOURCE_DIRS"):
        await search.run({"query": "tides", "path": str(outside)}, ctx)
    with pytest.raises(ToolError, match="outside the project"):
        await read.run({"path": "../papers/p.md"}, ctx)
    search, read = doc_tools([outside])
    found = (await search.run({"query": "tides", "path": str(outside)}, ctx)).content
    assert f"[1] {outside}/p.md:1-1" in found
    assert (
        await read.run({"path": f"{outside}/p.md"}, ctx)
    ).content == "     1\tOutside knowledge about tides."
    with pytest.raises(ToolError, match="outside the project"):  # the allowance is for that folder only
        await search.run({"query": "x", "path": str(tmp_path)}, ctx)


async def test_read_doc_refuses_code_and_reads_past_the_end_clearly(
    docs: Path, ctx: ToolContext, tools: tuple[Tool, Tool]
) -> None:
    _, read = tools
    with pytest.raises(ToolError, match="use read_file"):
        await read.run({"path": "docs/code.py"}, ctx)
    with pytest.raises(ToolError, match="offset 50 is past the end"):
        await read.run({"path": "docs/old.txt", "offset": 50}, ctx)


def test_passages_split_at_headings_and_stay_short() -> None:
    lines = ["# A", "word " * 50, "", "# B", "more " * 200, "tail"]
    found = [(p.start, p.end) for p in passages("x.md", lines)]
    assert found == [(1, 2), (4, 5), (6, 6)]
    index = DocumentIndex({"x.md": lines}, [])
    assert index.passage_count == 3 and index.search("the of", 5) == []
