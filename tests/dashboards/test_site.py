"""The oversight site (`assay dashboard build`): rows and filter data of every entry, trend charts
with text alternatives, small groups withheld, byte-identical rebuilds, the ledger's integrity on the
index, and refusals of bad input. No browser here: tests/e2e/test_dashboard_browser.py drives one."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from site_ledger import CROSS_EOD, PREFECT_URL, SECRET_TEXT, Node, build_ledger, parse_html

from assay.dashboards import site as site_module
from assay.dashboards.site import MARKER, build_site, render_site
from assay.dashboards.site_charts import Value, line_chart
from assay.flows.cli import main

ASSAY = str(Path(sys.executable).parent / "assay")
PAGES = [
    "index.html",
    "index.en.html",
    "service-housing-aid.html",
    "service-housing-aid.en.html",
    "service-welfare-review.html",
    "service-welfare-review.en.html",
]


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The hand-made ledger of tests/site_ledger.py (read only: tests that alter it copy it)."""
    return build_ledger(tmp_path_factory.mktemp("site") / "ledger")


@pytest.fixture(scope="module")
def files(ledger: Path) -> dict[str, bytes]:
    """The site's files rendered from the ledger."""
    return render_site(ledger)


def _page(files: dict[str, bytes], name: str) -> Node:
    return parse_html(files[name].decode())


def _rows(page: Node) -> list[Node]:
    return page.find("table", id="entries").find("tbody").find_all("tr")


def _cells(row: Node) -> list[str]:
    return [td.text() for td in row.find_all("td")]


def _cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """Run `assay ARGS` in this process; return its exit code and stderr."""
    monkeypatch.setattr(sys, "argv", ["assay", *args])
    with pytest.raises(SystemExit) as exc:
        main()
    return int(exc.value.code or 0), capsys.readouterr().err


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_the_site_has_both_languages_of_each_page_and_copies_every_report(files, ledger) -> None:
    pages = [name for name in files if name.endswith(".html") and not name.startswith("entries/")]
    assert sorted(pages) == sorted(PAGES)
    copied = {name for name in files if name.startswith("entries/")}
    sealed = {str(p.relative_to(ledger)) for p in ledger.glob("entries/*/report*.html")}
    assert copied == sealed and len(sealed) == 12  # five audits and one round, in two languages
    for name in copied:
        assert files[name] == (ledger / name).read_bytes()
    assert not [name for name in files if name.endswith(("record.json", "manifest.json", "comparison.json"))]


def test_the_index_lists_every_entry_newest_first_with_its_columns(files) -> None:
    rows = _rows(_page(files, "index.en.html"))
    assert [r.attrs["id"] for r in rows] == [f"entry-00000{i}" for i in (6, 5, 4, 3, 2, 1)]
    latest = _cells(rows[0])
    assert latest[:9] == [
        "welfare-review.vendor-c.v3",
        "welfare-review",
        "Gongjeong Systems",
        "vendor-c",
        "3",
        "inconclusive",
        "regression",
        "2026-03-15",
        "kr-public-service@0.3.0",
    ]
    assert _cells(rows[2])[5:7] == ["eligible with conditions", "baseline"]
    round_row = _cells(rows[3])
    assert round_row[0] == "welfare-review.round-welfare-review-q1.v1 (procurement round)"
    assert round_row[2:6] == [
        "Alpha Analytics, Gongjeong Systems",
        "welfare-review-q1",
        "1",
        "1 of 2 eligible",
    ]
    ko = _rows(_page(files, "index.html"))
    assert _cells(ko[0])[5:7] == ["판단 보류", "악화"]
    assert _cells(ko[5])[5] == "부적격"


def test_rows_carry_the_data_the_filters_read(files) -> None:
    page = _page(files, "index.html")
    got = [
        (
            r.attrs["data-service"],
            json.loads(r.attrs["data-vendors"]),
            r.attrs["data-recommendation"],
            r.attrs["data-date"],
            r.attrs["data-monitoring"],
        )
        for r in _rows(page)
    ]
    assert got == [
        ("welfare-review", ["Gongjeong Systems"], "inconclusive", "2026-03-15", "regression"),
        ("housing-aid", ["Beta Data"], "eligible", "2026-02-20", ""),
        ("welfare-review", ["Gongjeong Systems"], "eligible_with_conditions", "2026-02-15", "baseline"),
        ("welfare-review", ["Alpha Analytics", "Gongjeong Systems"], "", "2026-01-20", ""),
        ("welfare-review", ["Gongjeong Systems"], "eligible", "2026-01-15", ""),
        ("welfare-review", ["Alpha Analytics"], "not_eligible", "2026-01-10", ""),
    ]
    options = {
        name: [o.attrs["value"] for o in page.find("select", id=f"f-{name}").find_all("option")]
        for name in ("service", "vendor", "recommendation")
    }
    assert options == {
        "service": ["", "housing-aid", "welfare-review"],
        "vendor": ["", "Alpha Analytics", "Beta Data", "Gongjeong Systems"],
        "recommendation": ["", "eligible", "eligible_with_conditions", "not_eligible", "inconclusive"],
    }
    assert page.find("input", id="f-from").attrs["type"] == "date"
    assert page.find("input", id="f-to").attrs["type"] == "date"


def test_every_link_is_relative_and_resolves_except_the_prefect_run(files) -> None:
    for name in PAGES:
        page = _page(files, name)
        for a in page.find_all("a"):
            href = a.attrs["href"]
            if a.attrs.get("class") == "prefect":
                assert href == PREFECT_URL
                continue
            assert not re.match(r"^[a-z]+:|^/", href), (name, href)
            assert href.split("#")[0] in files, (name, href)
    prefect = _page(files, "index.html").find_all("a", class_="prefect")
    assert len(prefect) == 1 and prefect[0].text() == "Prefect 실행"
    row = _page(files, "index.html").find("tr", id="entry-000001")
    assert row.find("a", class_="prefect").attrs["href"] == PREFECT_URL
    reports = {a.attrs["href"] for a in _page(files, "index.en.html").find_all("a", class_="report")}
    assert "entries/000006/report.en.html" in reports and "entries/000003/report.en.html" in reports
    assert "entries/000006/report.html" in {
        a.attrs["href"] for a in _page(files, "index.html").find_all("a", class_="report")
    }


def test_the_language_switch_links_each_page_to_its_other_language(files) -> None:
    for name in PAGES:
        page = _page(files, name)
        lang = "en" if name.endswith(".en.html") else "ko"
        other = name.replace(".en.html", ".html") if lang == "en" else name.replace(".html", ".en.html")
        assert page.find("html").attrs["lang"] == lang
        switch = page.find("a", id="lang-switch")
        assert switch.attrs["href"] == other and switch.attrs["hreflang"] == ("ko" if lang == "en" else "en")
    assert _page(files, "index.html").find("h1").text() == "AI 감사 감독 현황"
    assert _page(files, "index.en.html").find("h1").text() == "AI audit oversight"


def test_the_site_loads_nothing_from_elsewhere(files) -> None:
    for name in PAGES:
        text = files[name].decode()
        page = parse_html(text)
        assert not [s for s in page.find_all("script") if "src" in s.attrs]
        assert not [link for link in page.find_all("link") if link.attrs.get("rel") != "icon"]
        assert page.find("link").attrs["href"] == "data:,"
        csp = page.find("meta", http_equiv="Content-Security-Policy").attrs["content"]
        assert csp.startswith("default-src 'none';")
        external = set(re.findall(r"https?://[^\s\"'<>]+", text))
        assert external <= {"http://www.w3.org/2000/svg", PREFECT_URL}, external
        assert "@import" not in text and "url(" not in text


def _chart(page: Node, candidate: str, metric: str) -> tuple[Node, Node]:
    section = page.find("section", data_candidate=candidate)
    block = section.find("div", data_metric=metric)
    return block.find("svg"), block.find("table", class_="data")


def _table(table: Node) -> list[list[str]]:
    return [_cells(tr) for tr in table.find("tbody").find_all("tr")]


def test_trend_points_bands_and_the_table_carry_the_values(files) -> None:
    page = _page(files, "service-welfare-review.en.html")
    svg, table = _chart(page, "vendor-c", "balanced_accuracy")
    points = svg.find_all("circle", class_="pt")
    assert [(p.attrs["data-version"], p.attrs["data-value"]) for p in points] == [
        ("1", "0.7120"),
        ("2", "0.7340"),
        ("3", "0.6880"),
    ]
    ys = [float(p.attrs["cy"]) for p in points]
    xs = [float(p.attrs["cx"]) for p in points]
    assert ys[1] < ys[0] < ys[2] and xs[0] < xs[1] < xs[2]  # higher is up, later is right
    assert len(svg.find_all("polygon", class_="band")) == 1
    assert len(svg.find_all("polyline", class_="line")) == 1
    band = [
        tuple(map(float, p.split(","))) for p in svg.find("polygon", class_="band").attrs["points"].split()
    ]
    assert len(band) == 6 and all(b[1] < y for b, y in zip(band[:3], ys, strict=True))  # upper edge above
    assert all(b[1] > y for b, y in zip(band[3:], reversed(ys), strict=True))  # lower edge below
    # v3's regression of balanced accuracy is ringed; nothing else is.
    rings = svg.find_all("circle", class_="flag-ring")
    assert [(r.attrs["cx"], r.attrs["cy"]) for r in rings] == [(points[2].attrs["cx"], points[2].attrs["cy"])]
    # The text alternative: a title, a description with every value, and the table below.
    assert svg.attrs["role"] == "img"
    assert svg.find("title").text() == "vendor-c: balanced accuracy by version"
    desc = svg.find("desc").text()
    assert "v1: 0.712 [0.701, 0.723]; v2: 0.734 [0.722, 0.746]; v3: 0.688 [0.676, 0.700]." in desc
    assert _table(table) == [
        ["v1", "welfare-review.vendor-c.v1", "2026-01-15", "0.712", "[0.701, 0.723]", "", ""],
        ["v2", "welfare-review.vendor-c.v2", "2026-02-15", "0.734", "[0.722, 0.746]", "", "baseline"],
        [
            "v3",
            "welfare-review.vendor-c.v3",
            "2026-03-15",
            "0.688",
            "[0.676, 0.700]",
            "",
            "regression (this metric)",
        ],
    ]
    labels = [t.text() for t in svg.find_all("text", class_="axis-label")]
    assert labels == ["version", "balanced accuracy"]


def test_a_version_without_the_metric_breaks_the_line(files) -> None:
    svg, table = _chart(_page(files, "service-welfare-review.en.html"), "vendor-c", "roc_auc")
    assert [p.attrs["data-version"] for p in svg.find_all("circle", class_="pt")] == ["1", "3"]
    assert svg.find_all("polyline", class_="line") == [] and svg.find_all("polygon", class_="band") == []
    assert len(svg.find_all("line", class_="whisker")) == 2  # each lone point keeps its interval
    assert _table(table)[1][3:6] == ["—", "", "not measured"]
    assert svg.find_all("circle", class_="flag-ring") == []  # the monitor saw no ROC AUC regression


def test_the_fairness_trend_is_the_largest_published_single_attribute_gap(files) -> None:
    for name, withheld in (
        ("service-welfare-review.en.html", "withheld (a group below 10): disability"),
        ("service-welfare-review.html", "비공개 (집단 10명 미만): disability"),
    ):
        svg, table = _chart(_page(files, name), "vendor-c", "eod_max")
        rows = _table(table)
        # v1: nationality 0.087 beats sex 0.041; disability (4 people) is withheld, the intersection
        # (0.644) is not a single attribute.
        assert rows[0][3:6] == ["0.087", "[0.051, 0.123]", f"nationality; {withheld}"]
        assert [r[3] for r in rows] == ["0.087", "0.064", "0.158"]
        assert [p.attrs["data-value"] for p in svg.find_all("circle", class_="pt")] == [
            "0.0870",
            "0.0640",
            "0.1580",
        ]
        assert len(svg.find_all("circle", class_="flag-ring")) == 1
    cross = f"{CROSS_EOD:.3f}"
    for name in PAGES:
        text = files[name].decode()
        assert [s for s in SECRET_TEXT if s in text] == [], name
        assert cross not in text and f"{CROSS_EOD:.4f}" not in text, name


def test_a_lower_disclosure_minimum_publishes_the_small_group(tmp_path: Path, ledger: Path) -> None:
    """The suppression follows the record's own minimum: at 3, the group of 4 is the largest gap."""
    from assay.ledger.record import AuditRecord

    copy = tmp_path / "ledger"
    shutil.copytree(ledger, copy)
    path = copy / "entries/000002/record.json"
    record = AuditRecord.model_validate_json(path.read_bytes())
    record.policy["parameters"]["disclosure_min"] = 3
    path.write_text(record.model_dump_json(indent=2))
    svg, table = _chart(_page(render_site(copy), "service-welfare-review.en.html"), "vendor-c", "eod_max")
    assert _table(table)[0][3:6] == ["0.911", "[0.500, 0.990]", "disability"]
    assert svg.find_all("circle", class_="pt")[0].attrs["data-value"] == "0.9113"


def test_building_twice_gives_byte_identical_files(tmp_path: Path, ledger: Path, files) -> None:
    assert render_site(ledger) == files
    first, second = tmp_path / "a", tmp_path / "b"
    build_site(ledger, first)
    build_site(ledger, second)
    assert _tree(first) == _tree(second) == files
    build_site(ledger, first)  # again, over the earlier build
    assert _tree(first) == files


def test_a_changed_byte_is_named_at_the_top_of_the_index(
    tmp_path: Path, ledger: Path, monkeypatch, capsys
) -> None:
    copy = tmp_path / "ledger"
    shutil.copytree(ledger, copy)
    intact = _page(render_site(copy), "index.en.html").find("p", id="integrity")
    assert intact.text() == "intact: 6 entries, every hash and link verified"
    assert "ok" in intact.attrs["class"].split()
    target = copy / "entries/000004/report.html"
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 1
    target.write_bytes(bytes(data))
    code, err = _cli(
        monkeypatch, capsys, "dashboard", "build", "--ledger", str(copy), "--out", str(tmp_path / "s")
    )
    assert code == 3, err
    assert "entries/000004/report.html" in err
    site = _tree(tmp_path / "s")
    for name, words in (("index.en.html", "integrity failure: "), ("index.html", "무결성 실패: ")):
        page = _page(site, name)
        banner = page.find("p", id="integrity")
        assert banner.text() == f"{words}entries/000004/report.html: SHA-256 does not match the manifest"
        assert banner.attrs["role"] == "alert" and "bad" in banner.attrs["class"].split()
        altered = [r.attrs["id"] for r in _rows(page) if "altered" in r.attrs["class"].split()]
        assert altered == ["entry-000004"]
    # The altered file is still shown, as it is, beside the mark.
    assert site["entries/000004/report.html"] == bytes(data)


def test_an_unreadable_record_is_listed_and_named(tmp_path: Path, ledger: Path) -> None:
    copy = tmp_path / "ledger"
    shutil.copytree(ledger, copy)
    (copy / "entries/000005/record.json").write_text("{not json")
    page = _page(render_site(copy), "index.en.html")
    row = page.find("tr", id="entry-000005")
    assert row.attrs["data-kind"] == "unreadable"
    assert _cells(row)[0].startswith(
        "housing-aid.vendor-b.v1 (unreadable entry: record.json: ValidationError"
    )
    assert (
        "entries/000005/record.json: SHA-256 does not match the manifest"
        in page.find("p", id="integrity").text()
    )
    assert len(_rows(page)) == 6


def test_a_missing_ledger_is_one_line_and_exit_2(tmp_path: Path, monkeypatch, capsys) -> None:
    missing = tmp_path / "nowhere"
    code, err = _cli(
        monkeypatch, capsys, "dashboard", "build", "--ledger", str(missing), "--out", str(tmp_path / "s")
    )
    assert code == 2
    assert err.strip() == f"error: {missing}: no ledger folder there (give --ledger DIR)"
    assert not (tmp_path / "s").exists()
    (tmp_path / "empty").mkdir()
    code, err = _cli(
        monkeypatch,
        capsys,
        "dashboard",
        "build",
        "--ledger",
        str(tmp_path / "empty"),
        "--out",
        str(tmp_path / "s"),
    )
    assert code == 2 and "not a ledger" in err and len(err.strip().splitlines()) == 1


def test_out_must_be_new_empty_or_an_earlier_build(tmp_path: Path, ledger: Path, monkeypatch, capsys) -> None:
    busy = tmp_path / "documents"
    busy.mkdir()
    (busy / "thesis.txt").write_text("keep me")
    code, err = _cli(monkeypatch, capsys, "dashboard", "build", "--ledger", str(ledger), "--out", str(busy))
    assert code == 2 and "refusing to replace it" in err and len(err.strip().splitlines()) == 1
    assert _tree(busy) == {"thesis.txt": b"keep me"}
    afile = tmp_path / "file.html"
    afile.write_text("x")
    code, err = _cli(monkeypatch, capsys, "dashboard", "build", "--ledger", str(ledger), "--out", str(afile))
    assert code == 2 and "is a file" in err and afile.read_text() == "x"
    inside = ledger / "entries" / "site"
    code, err = _cli(monkeypatch, capsys, "dashboard", "build", "--ledger", str(ledger), "--out", str(inside))
    assert code == 2 and not inside.exists()
    # An empty folder, then the earlier build in it, are replaced; a stale file goes with the old build.
    empty = tmp_path / "site"
    empty.mkdir()
    code, err = _cli(monkeypatch, capsys, "dashboard", "build", "--ledger", str(ledger), "--out", str(empty))
    assert code == 0, err
    assert (empty / MARKER).is_file() and "6 entries" in err
    (empty / "stale.html").write_text("old")
    code, err = _cli(monkeypatch, capsys, "dashboard", "build", "--ledger", str(ledger), "--out", str(empty))
    assert code == 0 and not (empty / "stale.html").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["documents", "file.html", "site"]  # no temp folders


@pytest.mark.parametrize("earlier", [False, True])
def test_an_interrupted_build_leaves_nothing_half_written(
    tmp_path: Path, ledger: Path, monkeypatch, earlier
) -> None:
    out = tmp_path / "site"
    if earlier:
        build_site(ledger, out)
    before = _tree(out) if earlier else None
    real = site_module.write_tree

    def half(root: Path, files: dict[str, bytes]) -> None:
        real(root, dict(list(files.items())[: len(files) // 2]))
        raise KeyboardInterrupt

    monkeypatch.setattr(site_module, "write_tree", half)
    with pytest.raises(KeyboardInterrupt):
        build_site(ledger, out)
    assert sorted(p.name for p in tmp_path.iterdir()) == (["site"] if earlier else [])
    if earlier:
        assert _tree(out) == before


def test_charts_break_lines_at_missing_values_and_centre_a_single_version() -> None:
    chart = line_chart(
        [Value(1, 0.5, 0.4, 0.6), Value(2, None), Value(3, 0.7, 0.6, 0.8), Value(4, 0.6, 0.5, 0.7)], "#0072B2"
    )
    assert [p.version for p in chart.points] == [1, 3, 4]
    assert len(chart.lines) == 1 and len(chart.lines[0].split()) == 2  # only 3 → 4 is joined
    assert len(chart.bands) == 1
    assert [t.label for t in chart.x_ticks] == ["v1", "v2", "v3", "v4"]
    assert [t.label for t in chart.y_ticks] == ["0.3", "0.4", "0.5", "0.6", "0.7", "0.8", "0.9"]
    one = line_chart([Value(5, 0.25, 0.2, 0.3)], "#000000")
    assert one.points[0].x == f"{one.left + (one.width - one.left - one.right) / 2:.1f}"
    assert one.lines == [] and one.bands == []
    assert line_chart([Value(1, None)], "#000000").points == []


def test_serve_prints_its_url_serves_the_site_and_stops_on_ctrl_c(tmp_path: Path, files) -> None:
    site = tmp_path / "site"
    site_module.write_tree(site, files)

    def sigint_ignored_and_blocked() -> None:
        # As a parent may leave it (a test runner's worker did, now and then): the server must
        # restore Ctrl-C itself.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})

    proc = subprocess.Popen(
        [ASSAY, "dashboard", "serve", "--dir", str(site), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
        preexec_fn=sigint_ignored_and_blocked,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", url), url
        # Generous limits: they only keep a hung server from hanging the suite, on a loaded machine.
        with urllib.request.urlopen(url + "index.en.html", timeout=120) as resp:
            assert resp.status == 200 and resp.read() == files["index.en.html"]
        with urllib.request.urlopen(url, timeout=120) as resp:
            assert resp.read() == files["index.html"]
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err
    missing = subprocess.run(
        [ASSAY, "dashboard", "serve", "--dir", str(tmp_path / "none")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert missing.returncode == 2 and "no index.html there" in missing.stderr
