"""The class room in a real browser: a teacher tab and three student tabs, each its own
browser context (its own session), on the shared test server.

The teacher opens a room on the Class Room page and reads the students' link off the
page; each student opens that link with a setting of their own (units 2, 4 and 6),
trains, types a name and presses Send to class; the teacher's class view, never
reloaded, counts three runs and draws three points on the metric chart. Screenshots at
1280×720 and 1600×1000, and in presenter mode.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.server import wait_idle

pytestmark = pytest.mark.e2e

MAIN = "stMainBlockContainer"
TINY = "task.seq_len=6&task.n_samples=64&training.epochs=2"
STUDENTS = ((2, "Ada"), (4, "<b>Bo</b>"), (6, "Cy %{x}"))
# The points of the class view's metric chart, read from plotly's own data in the page.
METRIC_POINTS = """() => {
    for (const plot of document.querySelectorAll('.js-plotly-plot')) {
        const title = (((plot.layout || {}).title || {}).text) || '';
        if (!title.startsWith('Final ')) continue;
        return (plot.data || []).filter(t => t.name !== 'median')
            .flatMap(t => Array.from(t.x || []));
    }
    return null;
}"""


def open_page(page, url: str) -> None:
    page.goto(url)
    wait_idle(page, timeout=120)
    page.wait_for_selector("h1", timeout=60_000)


def assert_no_traceback(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0, \
        page.locator('[data-testid="stException"]').first.inner_text()[:500]


def metric_value(page, label: str) -> str:
    metric = page.get_by_test_id("stMetric").filter(has_text=label).first
    return metric.get_by_test_id("stMetricValue").inner_text().strip()


def test_three_students_send_their_runs_and_the_teacher_sees_them_without_reloading(
        app_url, browser, screenshot):
    teacher_context = browser.new_context(viewport={"width": 1280, "height": 720})
    teacher = teacher_context.new_page()
    student_contexts = []
    try:
        open_page(teacher, f"{app_url}/class_room?{TINY}")
        teacher.get_by_test_id(MAIN).get_by_role("button", name="Open a room").click()
        teacher.get_by_text("Students joined").wait_for(timeout=30_000)
        wait_idle(teacher)
        query = dict(re.findall(r"[?&]([^=&]+)=([^&]*)", teacher.url))
        code, key = query["room"], query["teacher"]
        assert re.fullmatch(r"[0-9A-Z]{3}-[0-9A-Z]{3}", code)
        link = teacher.get_by_test_id("stCode").inner_text().strip()
        assert f"room={code}" in link and "task.seq_len=6" in link
        assert key not in link and "teacher=" not in link
        assert code in teacher.get_by_test_id(MAIN).inner_text()
        screenshot(teacher, "class-room-open-1280x720")

        # Three students, each in a browser of their own, open the link and train.
        students = []
        for units, name in STUDENTS:
            context = browser.new_context(viewport={"width": 1280, "height": 720})
            student_contexts.append(context)
            page = context.new_page()
            open_page(page, f"{link}&layer1.units={units}")
            page.get_by_text(f"You are in class room {code}", exact=False).first.wait_for(
                timeout=30_000)
            page.get_by_test_id(MAIN).get_by_role("button", name="Train").click()
            students.append((page, units, name))
        for page, units, name in students:
            page.get_by_test_id(MAIN).get_by_text("Finished 2 epochs", exact=False).first \
                .wait_for(timeout=240_000)
            wait_idle(page, timeout=60)
            # Each trained a setting of their own (the run line names it).
            page.get_by_test_id(MAIN).get_by_text(f"lstm {units} on adding").first.wait_for(
                timeout=30_000)
            box = page.get_by_test_id(MAIN).get_by_label("Your name for the class", exact=True)
            box.fill(name)
            page.get_by_test_id(MAIN).get_by_role("button", name="Send to class").click()
            page.get_by_text(f"Sent to class room {code} as", exact=False).first.wait_for(
                timeout=30_000)
            assert name in page.get_by_test_id(MAIN).inner_text()  # shown as text
            assert page.get_by_test_id(MAIN).locator("b", has_text="Bo").count() == 0
            assert_no_traceback(page)
        screenshot(students[1][0], "class-room-student-sent-1280x720")

        # The teacher's page, never reloaded, follows.
        expect(teacher.get_by_test_id("stMetric").filter(has_text="Runs received")
               .get_by_test_id("stMetricValue")).to_have_text("3", timeout=30_000)
        assert metric_value(teacher, "Students joined") == "3"
        teacher.wait_for_function(f"() => ({METRIC_POINTS})()?.length === 3", timeout=30_000)
        assert sorted(teacher.evaluate(METRIC_POINTS)) == [2, 4, 6]
        main = teacher.get_by_test_id(MAIN)
        for _, name in STUDENTS:
            expect(main.get_by_text(name, exact=True)).to_be_visible()
        assert main.locator("b", has_text="Bo").count() == 0  # a name is never HTML
        assert_no_traceback(teacher)
        screenshot(teacher, "class-room-teacher-1280x720")
        screenshot(teacher, "class-room-teacher-1280x720-full", full_page=True)
        teacher.set_viewport_size({"width": 1600, "height": 1000})
        teacher.wait_for_timeout(1000)
        screenshot(teacher, "class-room-teacher-1600x1000")

        # Presenter mode, for the projector: larger type, still every run.
        teacher.get_by_test_id("stSidebar").get_by_text("Presenter mode").click()
        expect(teacher).to_have_url(re.compile(r"presenter=1"), timeout=30_000)
        wait_idle(teacher)
        teacher.wait_for_function(f"() => ({METRIC_POINTS})()?.length === 3", timeout=30_000)
        assert f"teacher={key}" in teacher.url and f"room={code}" in teacher.url
        screenshot(teacher, "class-room-presenter-1600x1000")
        teacher.set_viewport_size({"width": 1280, "height": 720})
        teacher.wait_for_timeout(1000)
        screenshot(teacher, "class-room-presenter-1280x720")

        # Hide names: the projector shows "student N" only.
        teacher.get_by_test_id(MAIN).get_by_text("Hide names", exact=True).click()
        expect(main.get_by_text("student 2", exact=True)).to_be_visible(timeout=15_000)
        assert main.get_by_text("Ada", exact=True).count() == 0

        # One click takes the class into Compare Runs.
        main.get_by_role("button", name="All into Compare Runs").click()
        teacher.wait_for_selector("h1:has-text('Compare Runs')", timeout=60_000)
        wait_idle(teacher, timeout=120)
        chosen = teacher.get_by_test_id(MAIN).get_by_test_id("stMultiSelect").inner_text()
        assert chosen.count("(class,") == 3, chosen
        assert_no_traceback(teacher)
    finally:
        for context in student_contexts:
            context.close()
        teacher_context.close()
