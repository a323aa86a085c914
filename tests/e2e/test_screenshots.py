"""Every chart's text in view: nothing overlaps or is cut, at every size, in every look.

A teacher projects the app at 1280×720, sometimes zoomed to 150 %, in presenter mode and
in Streamlit's dark theme; students read it on their own screens. For each of the four
looks (light or dark, normal or presenter) a browser trains a tiny model once, then
shows Build & Train's charts, Gradient Flow, Inside the Cell and Compare Runs (after a
two-run sweep) at each size. There the
browser measures the boxes of every Plotly chart's text (the title, the axis titles,
the subtitles of the panels and other notes, the colour bars, the legend, the tick
labels) and of its plot areas, and the test asserts that none of them overlaps another,
that none reaches past the chart's edges, and that no legend needs a scrollbar.

Browser zoom at 150 % shows the page in 1.5 × 1.5 device pixels per CSS pixel, so the
page is laid out for a viewport of 1280/1.5 × 720/1.5 CSS pixels: the context's
`device_scale_factor` is 1.5 and that size is one of the sizes. Layout depends only on
CSS pixels, so the other two sizes share the context (and its trained run).

The screenshots (one per chart, condition and page) land where the `screenshot` fixture
puts them; look at them after a change of the figures' layout.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

import pytest

from tests.e2e.server import wait_idle

pytestmark = pytest.mark.e2e

MAIN = "stMainBlockContainer"
# Seconds to train; ten epochs, as many as the gradient-flow legend once failed to show.
TINY = "task.seq_len=8&task.n_samples=64&layer1.units=4&training.epochs=10"
SIZES = {
    "1280x720": {"width": 1280, "height": 720},
    "1600x1000": {"width": 1600, "height": 1000},
    "1280x720 at 150% zoom": {"width": 853, "height": 480},
}
# Presenter mode starts with the sidebar folded, so that even zoomed another 150 % its
# type (two times larger then) has the window's width.
PRESENTER_SIZES = tuple(SIZES)
# The size at which a tab opens and clicks the sidebar's page links.
WIDE = SIZES["1600x1000"]
PAGES = ("Build & Train", "Gradient Flow", "Inside the Cell", "Compare Runs")
# Compare Runs draws once there are two runs: its "Vary one parameter" trains two more.
SWEEP_UNITS = "2,6"
# Text boxes include the font's whole ascent and descent, so neighbours that merely
# touch are fine; more than this much shared is an overlap a reader sees.
TOLERANCE = 2.0


@dataclass(frozen=True)
class Look:
    dark: bool
    presenter: bool

    @property
    def name(self) -> str:
        return ("dark" if self.dark else "light") + (" presenter" if self.presenter else "")


LOOKS = [Look(dark, presenter) for presenter, dark in itertools.product((False, True), repeat=2)]

# Reads, for every Plotly chart shown in the main area, the boxes (in CSS pixels of the
# viewport) of its text parts and plot areas, and whether its legend scrolls.
MEASURE = r"""() => {
    const box = element => {
        const rect = element.getBoundingClientRect();
        return rect.width > 0 && rect.height > 0
            ? [rect.left, rect.top, rect.right, rect.bottom] : null;
    };
    const union = boxes => {
        boxes = boxes.filter(found => found);
        if (!boxes.length) return null;
        return [Math.min(...boxes.map(edges => edges[0])),
                Math.min(...boxes.map(edges => edges[1])),
                Math.max(...boxes.map(edges => edges[2])),
                Math.max(...boxes.map(edges => edges[3]))];
    };
    const charts = Array.from(document.querySelectorAll(
        '[data-testid="stMainBlockContainer"] [data-testid="stPlotlyChart"]'))
        .filter(chart => !chart.closest('[data-retained]') && chart.offsetParent !== null);
    return charts.map((chart, index) => {
        chart.setAttribute('data-layout-check', index);  // for the screenshot
        const plot = chart.querySelector('.js-plotly-plot');
        const info = plot.querySelector('.infolayer');
        const parts = [];
        // `element` is an element, or already a box (a union of several).
        const add = (kind, name, element, text) => {
            const edges = element && (element.getBoundingClientRect ? box(element) : element);
            if (edges) parts.push({kind, name, box: edges,
                                   text: (text ?? element.textContent ?? '').trim()});
        };
        info.querySelectorAll('.g-gtitle text').forEach(
            text => add('title', text.getAttribute('class'), text));
        info.querySelectorAll('text').forEach(text => {
            const name = text.getAttribute('class') || '';
            if (/^[xy]\d*title$/.test(name)) add('axis title', name.replace('title', ''), text);
        });
        info.querySelectorAll('g.annotation').forEach((note, index) =>
            add('note', `annotation ${index}`, note.querySelector('.annotation-text')));
        info.querySelectorAll('g.legend').forEach(legend => {
            add('legend', 'legend', legend.querySelector('rect.bg'), legend.textContent);
            const bar = legend.querySelector('rect.scrollbar');
            if (bar && Number(bar.getAttribute('height')) > 0) {
                add('scrollbar', 'legend scrollbar', bar, 'scrollbar');
            }
        });
        info.querySelectorAll('g.colorbar').forEach(bar => {
            const pieces = Array.from(bar.querySelectorAll('.cbfill, .cbaxis text, .cbtitle text'));
            const name = (bar.getAttribute('class') || '').split(' ')[0];
            add('colour bar', name, union(pieces.map(box)),
                (bar.querySelector('.cbtitle') || {}).textContent);
            // Each label on its own too, so that a label cut at the edge is named, and
            // the bar's title apart, which must not sit on the bar or its labels.
            bar.querySelectorAll('.cbaxis text').forEach(
                text => add('colour bar label', name, text));
            bar.querySelectorAll('.cbtitle text').forEach(
                text => add('colour bar title', name, text));
            bar.querySelectorAll('.cbfill').forEach(
                fill => add('colour bar fill', name, fill, ''));
        });
        plot.querySelectorAll('.xaxislayer-above text, .yaxislayer-above text').forEach(text => {
            const axis = (text.parentElement.getAttribute('class') || '').replace('tick', '');
            add('tick label', axis, text);
        });
        plot.querySelectorAll('.draglayer .nsewdrag').forEach(area =>
            add('plot area', area.parentElement.getAttribute('class'), area, ''));
        const key = chart.closest('[class*="st-key-"]');
        const title = info.querySelector('.gtitle');
        return {
            key: key ? [...key.classList].find(name => name.startsWith('st-key-')) : '',
            title: title ? title.textContent : '',
            bounds: union([box(plot.querySelector('.svg-container'))]),
            parts,
        };
    });
}"""

# Every shown chart drawn at its element's current width, i.e. redrawn after a resize.
SETTLED = """() => Array.from(document.querySelectorAll(
        '[data-testid="stMainBlockContainer"] [data-testid="stPlotlyChart"]'))
    .filter(chart => !chart.closest('[data-retained]') && chart.offsetParent !== null)
    .every(chart => {
        const plot = chart.querySelector('.js-plotly-plot');
        return plot && plot._fullLayout &&
            Math.abs(plot._fullLayout.width - chart.getBoundingClientRect().width) <= 2;
    })"""

# Parts that are text a person reads, and that must stay apart from each other.
BLOCKS = ("title", "axis title", "note", "legend", "colour bar")
# Parts that are no text, measured by their shape.
SHAPES = ("plot area", "scrollbar", "colour bar", "colour bar fill")
# What a colour bar's title must keep off: the parts of its own bar.
OWN_BAR = {"colour bar label": "labels", "colour bar fill": "colours"}


def shared(first: list[float], second: list[float]) -> float:
    """How far two boxes overlap: the smaller of the overlap's width and height."""
    width = min(first[2], second[2]) - max(first[0], second[0])
    height = min(first[3], second[3]) - max(first[1], second[1])
    return min(width, height)


def cut(part: list[float], bounds: list[float]) -> float:
    """How far a box reaches out of the chart's bounds."""
    return max(bounds[0] - part[0], bounds[1] - part[1], part[2] - bounds[2],
               part[3] - bounds[3])


def describe(part: dict) -> str:
    if part["kind"] == "tick label":
        # An axis's labels overlap together: one line for them all.
        return f"tick labels of axis {part['name']!r}"
    text = part["text"][:40]
    return f"{part['kind']} {part['name']!r}" + (f" ({text!r})" if text else "")


def axes_of(subplot: str) -> tuple[str, ...]:
    """The axes of a subplot: "x2y2" -> ("x2", "y2")."""
    return tuple(re.findall(r"[xy]\d*", subplot))


def problems_of(chart: dict) -> list[str]:
    """What a reader of this chart would find overlapping, cut off or scrolling."""
    # A blank text (a title that only keeps its room) shows nothing to overlap.
    parts = [part for part in chart["parts"] if part["kind"] in SHAPES or part["text"].strip()]
    found = []
    for part in parts:
        if part["kind"] == "scrollbar":
            found.append("the legend needs a scrollbar: some of its entries are hidden")
        elif part["kind"] not in ("plot area", "colour bar fill") and \
                cut(part["box"], chart["bounds"]) > TOLERANCE:
            found.append(f"{describe(part)} is cut by the chart's edge")
    blocks = [part for part in parts if part["kind"] in BLOCKS]
    ticks = [part for part in parts if part["kind"] == "tick label"]
    areas = [part for part in parts if part["kind"] == "plot area"]
    # Plotly sets a horizontal bar's title beside the bar, and a short one onto it.
    for title, other in itertools.product(parts, parts):
        if title["kind"] == "colour bar title" and title["name"] == other["name"] and \
                other["kind"] in OWN_BAR and shared(title["box"], other["box"]) > TOLERANCE:
            found.append(f"{describe(title)} overlaps its own bar's {OWN_BAR[other['kind']]}")
    for first, second in itertools.combinations(blocks, 2):
        if shared(first["box"], second["box"]) > TOLERANCE:
            found.append(f"{describe(first)} overlaps {describe(second)}")
    for block, tick in itertools.product(blocks, ticks):
        if shared(block["box"], tick["box"]) > TOLERANCE:
            found.append(f"{describe(block)} overlaps {describe(tick)}")
    for first, second in itertools.combinations(ticks, 2):
        if first["name"] != second["name"] and shared(first["box"], second["box"]) > TOLERANCE:
            found.append(f"{describe(first)} overlaps {describe(second)}")
    # A note may sit in a plot area on purpose (an empty chart's message); nothing else.
    for part, area in itertools.product(blocks + ticks, areas):
        if part["kind"] == "note":
            continue
        own = part["kind"] == "tick label" and part["name"] in axes_of(area["name"])
        if not own and shared(part["box"], area["box"]) > TOLERANCE:
            found.append(f"{describe(part)} reaches into the plot area {area['name']!r}")
    # The labels of one axis that run into the same thing are one problem to a reader.
    return list(dict.fromkeys(found))


def open_page(page, title: str) -> None:
    page.set_viewport_size(WIDE)
    link = page.locator('[data-testid="stSidebarNav"] a', has_text=title)
    expand = page.get_by_test_id("stExpandSidebarButton")
    folded = expand.is_visible()  # presenter mode starts with the sidebar folded
    if folded:
        expand.click()
        page.wait_for_timeout(500)  # the sidebar slides in
    link.click()
    if folded:  # as the person folds it again, to give the charts the width
        page.get_by_test_id("stSidebar").hover()
        page.get_by_test_id("stSidebarCollapseButton").locator("button").click()
        page.wait_for_timeout(500)
    page.wait_for_selector(f"h1:has-text('{title}')", timeout=60_000)
    if title == "Compare Runs":
        wait_idle(page, timeout=60)
        main = page.get_by_test_id(MAIN)
        values = main.get_by_label("Values (comma separated)", exact=True)
        values.fill(SWEEP_UNITS)
        values.press("Enter")
        wait_idle(page, timeout=60)
        main.get_by_role("button", name="Train the runs").click()
    page.wait_for_selector(f'[data-testid="{MAIN}"] [data-testid="stPlotlyChart"]',
                           timeout=180_000)
    wait_idle(page, timeout=60)


def measure(page) -> list[dict]:
    page.wait_for_function(SETTLED, timeout=30_000)
    # Plotly draws the colour bars and legends in a second pass after the resize.
    page.wait_for_timeout(400)
    return page.evaluate(MEASURE)


@pytest.fixture(params=LOOKS, ids=lambda look: look.name.replace(" ", "-"))
def trained_page(request, browser, app_url):
    """A tab in the look, with a tiny model trained (Build & Train's charts shown)."""
    look = request.param
    context = browser.new_context(viewport=WIDE, device_scale_factor=1.5,
                                  color_scheme="dark" if look.dark else "light")
    page = context.new_page()
    page.goto(f"{app_url}/?{TINY}" + ("&presenter=1" if look.presenter else ""))
    wait_idle(page, timeout=120)
    page.get_by_test_id(MAIN).get_by_role("button", name="Train").click()
    page.get_by_test_id(MAIN).get_by_text("Finished", exact=False).first.wait_for(
        timeout=120_000)
    wait_idle(page, timeout=60)
    yield look, page
    context.close()


def test_no_chart_text_overlaps_or_is_cut_and_no_legend_scrolls_at_any_size(
        trained_page, screenshot):
    look, page = trained_page
    found = []
    for title in PAGES:
        if title != "Build & Train":
            open_page(page, title)
        for size_name, size in SIZES.items():
            if look.presenter and size_name not in PRESENTER_SIZES:
                continue
            page.set_viewport_size(size)
            charts = measure(page)
            assert charts, f"{title} shows no chart at {size_name}"
            for index, chart in enumerate(charts):
                where = f"{title}, {chart['title'] or chart['key']}, {size_name}, {look.name}"
                found.extend(f"{where}: {problem}" for problem in problems_of(chart))
                element = page.locator(f'[data-layout-check="{index}"]')
                # The fixture saves what it is given; an element saves just that chart.
                screenshot(element, "layout-" + "-".join(
                    word for word in (look.name, size_name, title, str(index))
                ).replace(" ", "-").replace("&", "and").replace("%", ""))
    assert not found, f"{len(found)} problem(s):\n" + "\n".join(found)


def test_the_check_finds_overlapping_cut_and_scrolling_parts_and_passes_the_rest():
    def part(kind: str, name: str, box: list[float], text: str = "text") -> dict:
        return {"kind": kind, "name": name, "box": box, "text": text}

    chart = {"bounds": [0, 0, 400, 300], "parts": [
        part("title", "gtitle", [10, 10, 200, 30]),
        part("plot area", "xy", [60, 50, 200, 250], ""),
        part("plot area", "x2y2", [230, 50, 380, 250], ""),
        part("axis title", "y2", [190, 100, 210, 200]),  # ten pixels into the first plot
        part("tick label", "y", [40, 60, 61, 75], "1"),  # touches its own plot: fine
        part("colour bar label", "cbcoloraxis", [385, 100, 410, 115], "−0.5"),
        part("scrollbar", "legend scrollbar", [300, 40, 304, 90], "scrollbar"),
        part("axis title", "x", [0, 0, 400, 300], "\u00a0"),  # blank: shows nothing
    ]}
    assert problems_of(chart) == [
        "colour bar label 'cbcoloraxis' ('−0.5') is cut by the chart's edge",
        "the legend needs a scrollbar: some of its entries are hidden",
        "axis title 'y2' ('text') reaches into the plot area 'xy'",
    ]
