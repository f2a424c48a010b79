"""``kehu calls invalid ...``, ``dialing-list``, ``claim``, ``claims``, ``return-unclaimed``: happy paths, bad input."""

import datetime as dt

from .conftest import T0

DAY = dt.timedelta(days=1)


def test_invalid_mark_list_correct(crm):
    li = crm.cli("li")
    tea = crm.customer("tea")
    mark = li.ok("calls", "invalid", "mark", tea, "--reason", "空号")
    assert (mark["customer"], mark["phone"], mark["reason"], mark["marked_by"]) == (tea, "13900000001", "空号", "li")
    assert [m["id"] for m in li.ok("calls", "invalid", "list")] == [mark["id"]]
    assert "13900000001" in li.text("calls", "invalid", "list")
    assert "already marked invalid" in li.fails("calls", "invalid", "mark", "13900000001", code="conflict")
    fixed = li.ok("calls", "invalid", "correct", mark["id"], "--phone", "13900000099")
    assert (fixed["status"], fixed["corrected_to"], fixed["corrected_by"]) == ("corrected", "13900000099", "li")
    assert li.ok("calls", "invalid", "list") == []
    assert [m["status"] for m in li.ok("calls", "invalid", "list", "--all")] == ["corrected"]
    li.fails("calls", "invalid", "correct", "999", "--phone", "13900000098", code="not_found")
    li.fails("calls", "invalid", "correct", "abc", "--phone", "13900000098")
    li.fails("calls", "invalid", "mark", "12-ab")
    li.fails("calls", "invalid", "mark", crm.customer("mart"), code="permission_denied")


def test_claim_claims_dialing_list_and_return(crm):
    li = crm.cli("li")
    result = li.ok("calls", "claim", "--count", "2")
    assert [c["customer"] for c in result["claimed"]] == [crm.customer("open1"), crm.customer("open2")]
    assert (result["granted"], result["remaining_today"], result["notice"]) == (2, 98, None)
    assert "claimed 1 of 1 (97 left today)" in li.text("calls", "claim", "--count", "1")
    assert len(li.ok("calls", "claims", "--mine")) == 3
    assert crm.cli("wang").ok("calls", "claims", "--mine") == []
    assert [r["why"] for r in li.ok("calls", "dialing-list")] == ["owner", "owner", "claim", "claim", "claim"]
    li.fails("calls", "return-unclaimed", code="permission_denied")
    assert crm.cli("m1", now=T0 + 2 * DAY).ok("calls", "return-unclaimed") == {"returned": 3, "reps": 1}
    assert li.ok("calls", "claims") == []


def test_claim_bad_input(crm):
    li = crm.cli("li")
    for bad in ("abc", "0", "-1", "1.5", "100001"):
        li.fails("calls", "claim", "--count", bad)
    crm.cli("admin").fails("calls", "claim", "--count", "1", as_=None)  # the system claims nothing
    li.usage("calls", "claim")
