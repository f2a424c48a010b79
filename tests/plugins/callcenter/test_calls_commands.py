"""``kehu calls ...`` and ``kehu visits ...`` as a user types them: JSON and text output, one-line errors."""

import json

from kehu.plugins.callcenter.settings import DEFAULT_SETTINGS


def test_log_a_call_and_see_the_talk_track(crm):
    li, tea = crm.cli("li"), str(crm.customer("tea"))
    result = li.ok("calls", "log", tea, "--intent", "2", "--annotation", "outlook=growing",
                   "--annotation", "targets=restaurants", "--annotation", "competition=many", "--need-category",
                   "获客引流", "--disposition", "visit_booked", "--callback", "2025-03-05T10:00", "--notes", "boss")
    assert (result["intent"], result["next"]["action"], result["next"]["due"]) == (2, "book_visit",
                                                                                   "2025-03-05T02:00:00+00:00")
    text = li.text("calls", "log", tea, "--intent", "-1")
    assert "stage 2 → -1 (拒绝 refuses)" in text and "  - persist: call back periodically" in text
    assert "next: callback for li due 2025-04-02T02:00:00+00:00" in text
    history = li.ok("calls", "history", tea)
    assert [h["move"] for h in history] == ["2 → -1", "new → 2"]
    assert "2 → -1" in li.text("calls", "history", tea)


def test_bad_call_input_is_one_line_and_exit_1(crm):
    li, tea = crm.cli("li"), str(crm.customer("tea"))
    assert li.fails("calls", "log", tea, "--intent", "9") == \
        "intent stage must be one of -1, 0, 1, 2, 3, 4, not 9"
    assert "Not a valid integer" in li.fails("calls", "log", tea, "--intent", "two")
    assert li.fails("calls", "log", tea, "--intent", "1", "--annotation", "nokey").startswith(
        "an annotation is KEY=TEXT")
    assert "missing: need category" in li.fails("calls", "log", tea, "--intent", "1", "--annotation", "outlook=a",
                                                "--annotation", "targets=b", "--annotation", "competition=c")
    assert li.fails("calls", "log", tea, "--intent", "1", "--callback", "soon") == \
        "callback: 'soon' is not an ISO-8601 date or time"
    li.fails("calls", "log", str(crm.customer("shop")), "--intent", "1", code="permission_denied")
    li.fails("calls", "log", "lead:x", "--intent", "1")
    li.usage("calls", "log", tea)  # --intent is required: a usage error
    assert li.ok("calls", "history", tea) == []


def test_categories_stages_and_script(crm):
    li, tea = crm.cli("li"), str(crm.customer("tea"))
    assert li.ok("calls", "categories") == DEFAULT_SETTINGS["categories"]
    assert [s["stage"] for s in li.ok("calls", "stages")] == [-1, 0, 1, 2, 3, 4]
    assert "push for a visit" in li.text("calls", "stages")
    script = li.ok("calls", "script", tea)
    assert (script["intent"], script["assumed"]) == (0, True)
    assert "(assumed: no call yet)" in li.text("calls", "script", tea)
    assert "Q: 太贵了 too expensive" in li.text("calls", "script", tea)


def test_classify(crm):
    tea = str(crm.customer("tea"))
    crm.cli("li").ok("calls", "log", tea, "--intent", "1")
    assert crm.cli("m1").ok("calls", "classify", tea, "--rep", "li", "--month", "2025-03")["classification"] == "new"
    assert crm.cli("m1").text("calls", "classify", tea, "--rep", "li", "--month", "2025-02").startswith("none: ")
    crm.cli("li").fails("calls", "classify", tea, "--rep", "li", "--month", "2025-3")
    crm.cli("li").fails("calls", "classify", tea, "--rep", "nobody", "--month", "2025-03", code="not_found")


def test_settings_show_and_set(crm, tmp_path):
    override = tmp_path / "cc.json"
    override.write_text(json.dumps({"categories": {"need": ["新品推广 new products"]}}), encoding="utf-8")
    assert crm.cli("li").ok("calls", "settings", "show")["sources"] == DEFAULT_SETTINGS["sources"]
    crm.cli("li").fails("calls", "settings", "set", str(override), code="permission_denied")
    assert crm.cli("gm").ok("calls", "settings", "set", str(override))["categories"]["need"] == ["新品推广 new products"]
    assert crm.cli("li").ok("calls", "categories")["need"] == ["新品推广 new products"]
    override.write_text("{not json", encoding="utf-8")
    assert crm.cli("admin").fails("calls", "settings", "set", str(override)).startswith("the settings file is not JSON")
    crm.cli("admin").fails("calls", "settings", "set", str(tmp_path / "missing.json"))
    assert crm.cli("li").ok("calls", "categories")["need"] == ["新品推广 new products"]


def test_visits_log_and_list(crm):
    li, tea = crm.cli("li"), str(crm.customer("tea"))
    call = li.ok("calls", "log", tea, "--intent", "2")["call"]
    visit = li.ok("visits", "log", tea, "--result", "met", "--purpose", "demo", "--contact", "王总")
    assert visit["calls"] == [call]
    assert "after calls (none)" in li.text("visits", "log", tea, "--result", "follow_up")  # none since the visit
    assert li.fails("visits", "log", tea, "--result", "great").startswith("result: Must be one of")
    assert [v["result"] for v in crm.cli("m1").ok("visits", "list", "--customer", tea)] == ["follow_up", "met"]
    assert "result" in li.text("visits", "list", "--rep", "li", "--csv").splitlines()[0]
