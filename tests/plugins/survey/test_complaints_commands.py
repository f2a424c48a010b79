"""``kehu complaints ...``: happy paths as JSON and text, and bad input as one-line errors (exit 1)."""

import datetime as dt

HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)


def test_the_workflow_from_the_command_line(crm):
    tea = crm.customer("tea")
    opened = crm.cli("li").ok("complaints", "open", tea, "--subject", "送货延迟", "--kind", "inquiry",
                              "--details", "晚了两天", "--due", "2025-03-05T18:00")
    cid = opened["id"]
    assert (opened["kind"], opened["category"], opened["due_at"], opened["notified"]) == (
        "inquiry", "service", "2025-03-05T10:00:00+00:00", ["m1"])
    assert crm.cli("m1", HOUR).ok("complaints", "dispatch", cid, "--to", "li")["assignee"] == "li"
    assert crm.cli("li", 2 * HOUR).ok("complaints", "resolve", cid, "--resolution", "补发",
                                      "--opinion", "已补发")["status"] == "resolved"
    assert crm.cli("li", DAY).ok("complaints", "revisit", cid, "--notes", "满意")["status"] == "revisited"
    assert [c["id"] for c in crm.cli("li", DAY).ok("complaints", "list", "--open", "--mine")] == [cid]
    confirmed = crm.cli("li", 2 * DAY).ok("complaints", "confirm", cid, "--satisfied", "yes")
    assert confirmed["status"] == "confirmed"
    shown = crm.cli("li", 2 * DAY).ok("complaints", "show", cid)
    assert [s["step"] for s in shown["steps"]] == ["opened", "dispatched", "resolved", "revisited", "confirmed"]
    text = crm.cli("li", 2 * DAY).text("complaints", "show", cid)
    assert f"complaint {cid} (service inquiry)" in text and "dispatched" in text and "m1" in text
    assert crm.cli("li", 2 * DAY).ok("complaints", "list", "--open") == []
    assert "(none)" in crm.cli("sun").text("complaints", "list")


def test_bad_input_is_a_one_line_error(crm):
    tea = crm.customer("tea")
    li = crm.cli("li")
    assert "category must be one of" in li.fails("complaints", "open", tea, "--subject", "x", "--category", "price")
    assert "not an ISO-8601" in li.fails("complaints", "open", tea, "--subject", "x", "--due", "soon")
    li.fails("complaints", "open", "abc", "--subject", "x")
    li.fails("complaints", "open", 9999, "--subject", "x", code="not_found")
    cid = li.ok("complaints", "open", tea, "--subject", "x", "--category", "product_quality")["id"]
    li.fails("complaints", "dispatch", cid, "--to", "qa", code="permission_denied")
    assert "wang is a rep" in crm.cli("m1").fails("complaints", "dispatch", cid, "--to", "wang")
    assert "is open" in crm.cli("m1").fails("complaints", "resolve", cid, "--resolution", "x", code="conflict")
    crm.cli("sun").fails("complaints", "show", cid, code="permission_denied")
    li.fails("complaints", "show", 9999, code="not_found")
    crm.cli("m1").ok("complaints", "dispatch", cid, "--to", "qa")
    crm.cli("qa").ok("complaints", "resolve", cid, "--resolution", "ok", "--opinion", "合格")
    crm.cli("li", HOUR).ok("complaints", "revisit", cid)
    assert "yes or no" in li.fails("complaints", "confirm", cid, "--satisfied", "maybe")
    result = li.run("complaints", "dispatch", cid)  # a missing option is usage: exit 2
    assert result.exit_code == 2
