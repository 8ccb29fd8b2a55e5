"""HTML data reports: every column shown with an inline chart, nothing loaded from anywhere."""

import re

import numpy as np
import pandas as pd
import pytest

from twelve.monitoring import report_format, reports
from twelve.monitoring.profile_summary import summary_frame
from twelve.monitoring.profiling import ProfileStore, profile_frame

ROWS = 3000


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    delay = rng.exponential(20, ROWS) - 10
    delay[0] = 1300.0  # one extreme value: the histogram must not become a single bar
    delay[rng.choice(ROWS, 400, replace=False)] = np.nan
    return pd.DataFrame(
        {
            "arr_delay": delay,
            "hour": rng.integers(5, 24, ROWS),
            "year": np.full(ROWS, 2013),
            "carrier": pd.array(rng.choice(["UA", "B6", "EV", "DL", "AA"], ROWS), "string"),
            "flight_id": [f"F{i:05d}" for i in range(ROWS)],
            "time_hour": pd.date_range("2013-01-01", periods=ROWS, freq="15min", tz="UTC"),
            "<b>odd & name</b>": rng.random(ROWS),
        }
    )


@pytest.fixture(scope="module")
def page(frame) -> str:
    return reports.render_report(
        profile_frame(frame),
        dataset="raw_flights",
        version="0123456789abcdef0123456789abcdef",
        sample=frame,
        source="data/raw/flights/2013-01.parquet",
        facts={"month": "2013-01"},
    )


def test_the_heading_names_the_dataset_and_the_version(page):
    heading = re.search(r"<h1>(.*?)</h1>", page, re.DOTALL).group(1)
    assert "raw_flights" in heading
    assert "0123456789abcdef0123456789abcdef" in heading
    assert "<title>raw_flights @ 0123456789abcdef0123456789abcdef" in page
    assert "data/raw/flights/2013-01.parquet" in page
    assert "2013-01" in page


def test_every_column_has_a_card_with_an_inline_chart(frame, page):
    cards = re.findall(r"<section class='card' id='(col-[^']+)'>(.*?)</section>", page, re.DOTALL)
    assert len(cards) == len(frame.columns)
    for column in ["arr_delay", "hour", "year", "carrier", "time_hour"]:
        body = dict(cards)[f"col-{column}"]
        assert column in body
        assert "<svg" in body, f"no chart for {column}"
    assert "identifier" in dict(cards)["col-flight_id"]  # unique strings: no useless bars


def test_column_names_are_escaped_not_injected(page):
    assert "<b>odd & name</b>" not in page
    assert "&lt;b&gt;odd &amp; name&lt;/b&gt;" in page


def test_the_report_loads_nothing_from_outside(page):
    assert "<script" not in page
    assert "<link" not in page
    assert "@import" not in page
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", page)
    assert not re.search(r"url\(\s*['\"]?(?:https?:)?//", page)
    assert not re.search(r"<!DOCTYPE svg|<\?xml", page)  # inlined SVG without external DTDs


def test_missing_values_and_cardinalities_are_reported(frame, page):
    missing = page[page.index('id="missing"') : page.index('id="columns"')]
    assert "arr_delay" in missing
    assert "<svg" in missing
    assert "13.3%" in missing  # 400 of 3000
    summary = page[page.index('id="summary"') : page.index('id="missing"')]
    carrier_row = re.search(r"<tr><td class='l'><a href='#col-carrier'>.*?</tr>", summary).group(0)
    assert "<td>5</td>" in carrier_row  # distinct carriers


def test_alerts_name_what_a_reader_must_notice(page):
    alerts = page[page.index('id="alerts"') : page.index('id="summary"')]
    assert "arr_delay: 13.3% of the values are missing." in alerts
    assert "year: a single distinct value (constant column)." in alerts
    assert "flight_id: nearly every value is distinct" in alerts


def test_a_heavy_tail_is_clipped_and_said_so(page):
    card = re.search(r"id='col-arr_delay'>(.*?)</section>", page, re.DOTALL).group(1)
    assert "Axis clipped to the 1st to 99th percentile" in card
    assert "1,300" in card  # the true maximum is still stated


def test_datetimes_are_shown_as_dates(page):
    card = re.search(r"id='col-time_hour'>(.*?)</section>", page, re.DOTALL).group(1)
    assert "2013-01-01 00:00" in card
    assert "Times in UTC" in card


def test_a_frame_without_missing_values_says_so():
    page = reports.render_report(
        profile_frame(pd.DataFrame({"x": [1.0, 2.0, 3.0]})), dataset="d", version="v"
    )
    assert "No value is missing in any column." in page
    assert "Sample rows" not in page


def test_sample_rows_are_shown(frame, page):
    sample = page[page.index("id='sample'") :]
    assert "F00000" in sample
    assert "F00009" in sample
    assert "F00010" not in sample


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (float("nan"), report_format.NONE),
        (None, report_format.NONE),
        (2013.0, "2,013"),
        (1234567.891, "1,234,568"),
        (1234.5, "1,234.5"),
        (12.3456, "12.35"),
        (0.012345, "0.0123"),
        (float("inf"), "∞"),
    ],
)
def test_numbers_are_formatted_for_reading(value, text):
    assert report_format.format_number(value) == text


def test_the_markdown_summary_has_one_row_per_column(frame):
    text = report_format.markdown_summary(summary_frame(profile_frame(frame)))
    lines = text.splitlines()
    assert lines[0].startswith("| column | kind | missing |")
    assert len(lines) == 2 + len(frame.columns)
    assert any(line.startswith("| carrier | categorical | 0.0% | 5 |") for line in lines)


def test_document_version_stores_the_profile_and_writes_the_report(tmp_path, frame):
    store = ProfileStore(tmp_path / "profiles")
    documented = reports.document_version(
        frame.head(200),
        dataset="raw_flights",
        version="v1",
        store=store,
        source="x.parquet",
        reports_root=tmp_path / "reports",
        sample_rows=0,
    )
    assert documented.profile.path == tmp_path / "profiles" / "raw_flights" / "v1.bin"
    assert documented.report == tmp_path / "reports" / "raw_flights" / "v1.html"
    html = documented.report.read_text()
    assert "raw_flights" in html
    assert "Sample rows" not in html
    assert store.info("raw_flights", "v1")["rows"] == 200
    assert list(documented.summary.index) == list(frame.columns)


def test_report_paths_follow_the_profile_keys(monkeypatch, tmp_path):
    monkeypatch.setenv("TWELVE_HOME", str(tmp_path))
    assert reports.report_path("training_set", "abc") == tmp_path / "reports/training_set/abc.html"
    with pytest.raises(ValueError, match="not usable as a file name"):
        reports.report_path("training_set", "../abc")
