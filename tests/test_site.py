"""The leaderboard site (``gibench leaderboard site``): built from the repository's boards, every
asset local, every CSV value escaped, paper rows marked, plots where boards have degradations.
The browser's view of it is tested in tests/test_site_browser.py."""

from __future__ import annotations

import csv
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner

from gibench.cli import main
from gibench.errors import GibenchError
from gibench.leaderboard.board import board_names, load_board
from gibench.leaderboard.schema import COLUMN_NAMES
from gibench.leaderboard.site import MARKER, build_site, linkify, page_name
from gibench.registry import get_registry

REPO = Path(__file__).resolve().parents[1]
BOARDS = REPO / "leaderboards"


class _Links(HTMLParser):
    """Every (tag, attribute, value) of src/href attributes, and the scripts' sources."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str, str]] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        for name in ("src", "href"):
            if attrs.get(name) is not None:
                self.links.append((tag, name, attrs[name]))


def _parse(path: Path) -> _Links:
    parser = _Links()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site") / "site"
    build_site(BOARDS, out, get_registry())
    return out


def _table_rows(path: Path, table_id: str = "board") -> list[str]:
    text = path.read_text(encoding="utf-8")
    table = text.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    return re.findall(r"<tr class=\"([^\"]*)\">", table.split("<tbody>", 1)[1])


def test_every_board_has_a_page_linked_from_the_index(site):
    index = _parse(site / "index.html")
    hrefs = {value for tag, _, value in index.links if tag == "a"}
    for name in board_names(BOARDS):
        page = f"board-{name}.html"
        assert page in hrefs
        assert (site / page).is_file()
    assert (site / MARKER).is_file()


def test_board_table_has_the_markdown_tables_lines_and_marks_paper_rows(site):
    for name in board_names(BOARDS):
        markdown = (BOARDS / f"{name}.md").read_text(encoding="utf-8")
        md_rows = [ln for ln in markdown.splitlines() if ln.startswith("| ")][1:]
        classes = _table_rows(site / f"board-{name}.html")
        assert len(classes) == len(md_rows), name
        sources = [re.search(r"\| (paper|reproduced|new) ", ln).group(1) for ln in md_rows]
        assert [c.split()[0] for c in classes] == [f"source-{s}" for s in sources], name


def test_board_header_names_training_subset_and_policy(site):
    page = (site / "board-genimage-cross-generator.html").read_text(encoding="utf-8")
    assert "<dt>Trained on</dt><dd>SD V1.4</dd>" in page
    assert "<dt>Evaluation policy</dt><dd>each detector&#39;s own" in page
    assert 'href="#note-1"' in page and 'id="note-1"' in page


def test_every_asset_is_local_and_exists(site):
    pages = sorted(site.glob("*.html"))
    assert pages
    for page in pages:
        parsed = _parse(page)
        for tag, _, value in parsed.links:
            if tag == "a" and re.match(r"https?://", value):
                continue  # a provenance link: followed by a reader, never loaded
            assert not re.match(r"[a-z][a-z0-9+.-]*:|//", value), (page.name, value)
            target = value.split("#", 1)[0]
            if target:
                assert (site / target).resolve().is_file(), (page.name, value)
                assert (site / target).resolve().is_relative_to(site.resolve())
        scripts = [attrs for tag, attrs in parsed.tags if tag == "script"]
        assert scripts == [{"src": "static/sort.js", "defer": None}], page.name


def test_robustness_plots_for_boards_with_degradations_only(site):
    for name in board_names(BOARDS):
        rows = load_board(BOARDS / f"{name}.csv").rows()
        degraded = {r["degradation"].split(":")[0] for r in rows if r["degradation"] != "none"}
        images = [v for tag, _, v in _parse(site / f"board-{name}.html").links if tag == "img"]
        assert {re.search(r"-robustness-(\w+)\.png$", v).group(1) for v in images} == degraded
        for image in images:
            assert (site / image).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_detector_page_holds_its_rows_of_every_board(site):
    expected = {}
    for name in board_names(BOARDS):
        rows = [r for r in load_board(BOARDS / f"{name}.csv").rows() if r["detector"] == "cnnspot"]
        if rows:
            expected[name] = rows
    page = site / "detector-cnnspot.html"
    text = page.read_text(encoding="utf-8")
    for k, (name, rows) in enumerate(expected.items(), 1):
        assert f'href="board-{name}.html">{name}</a>' in text
        assert len(_table_rows(page, f"rows-{k}")) == len(rows)


def _hostile_board(root: Path) -> None:
    row = dict.fromkeys(COLUMN_NAMES, "")
    row.update(detector="<img src=x onerror=alert(1)>", plugin="evil", plugin_version="1",
               weights="trained", seed="0", train_subset="../../x", test_subset="<b>t</b>",
               degradation="<svg/onload=alert(2)>:1", acc="50", date="2024-01-01",
               source="new", submitter="<script>alert(3)</script>",
               reference='javascript:alert(4) see https://example.org/a?b="><script>x')
    with open(root / "mini-evil.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMN_NAMES)
        writer.writeheader()
        writer.writerow(row)


def test_markup_in_the_csv_is_escaped_and_names_no_path(tmp_path):
    root = tmp_path / "boards"
    root.mkdir()
    _hostile_board(root)
    out = tmp_path / "site"
    build_site(root, out, get_registry())
    files = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert all(not f.startswith("..") and "/" not in f.removeprefix("static/").removeprefix(
        "plots/") for f in files)
    for page in out.glob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert "<script>" not in text and "<img src=x" not in text and "<svg" not in text
        assert 'href="javascript' not in text
        for tag, attrs in _parse(page).tags:
            assert not any(k.startswith("on") for k in attrs), (page.name, tag, attrs)
    evil = (out / "board-mini-evil.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(3)&lt;/script&gt;" in (
        out / f"detector-{page_name('<img src=x onerror=alert(1)>')}.html").read_text()
    assert "&lt;img src=x onerror=alert(1)&gt;" in evil
    # the address ends where markup starts; the quote after it is text, escaped
    assert ('<a href="https://example.org/a?b=" rel="nofollow noopener">https://example.org/a?b='
            '</a>&#34;&gt;&lt;script&gt;x') in evil


def test_linkify_escapes_and_links_only_http_addresses():
    html = str(linkify('see https://example.org/x?a=1&b=2. and javascript:alert(1) <b>'))
    assert html == ('see <a href="https://example.org/x?a=1&amp;b=2" rel="nofollow noopener">'
                    'https://example.org/x?a=1&amp;b=2</a>. and javascript:alert(1) '
                    '&lt;b&gt;')


def test_page_names_are_plain_or_digests():
    assert page_name("cnnspot") == "cnnspot"
    assert page_name("../etc/passwd").startswith("x-")
    assert page_name(".hidden").startswith("x-")
    assert page_name("a b") != page_name("a_b")


@pytest.fixture
def small_root(tmp_path) -> Path:
    """One board without degradations (no plots: fast to build)."""
    root = tmp_path / "boards"
    root.mkdir()
    shutil.copy(BOARDS / "mini-cross-generator.csv", root)
    return root


def test_rebuild_replaces_a_site_and_refuses_another_folder(tmp_path, small_root):
    out = tmp_path / "site"
    build_site(small_root, out, get_registry())
    (out / "stale.html").write_text("old")
    build_site(small_root, out, get_registry())
    assert not (out / "stale.html").exists() and (out / "index.html").is_file()
    other = tmp_path / "notes"
    other.mkdir()
    (other / "mine.txt").write_text("keep")
    with pytest.raises(GibenchError, match="notes exists and is not a site"):
        build_site(small_root, other, get_registry())
    assert (other / "mine.txt").read_text() == "keep"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["boards", "notes", "site"]


def test_cli_site_command(tmp_path, small_root):
    result = CliRunner().invoke(main, ["leaderboard", "site", str(tmp_path / "out"),
                                       "--root", str(small_root)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "index.html").is_file()
    assert "open" in result.output
