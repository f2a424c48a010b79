"""``kehu credit score | strategic | grade | regrade | set-grade | history`` as a user runs them: JSON results,
human lines, and bad input as one ``Error: ...`` line (exit 1) or ``{"error", "code"}`` with ``--json``."""

import datetime as dt

from .conftest import T0
from .test_grading import settled_sale, sale


def test_score_prints_points_score_grade_and_terms(crm):
    cli = crm.cli("li")
    assert cli.ok("credit", "score", "--sales", "9000000", "--collection-rate", "85%", "--receivables", "500000",
                  "--strategic", "key") == {
        "points": {"sales": 8, "collection": 8, "receivables": 6, "strategic": 8}, "score": "7.40", "grade": "B",
        "credit_limit": "1000000.00", "credit_days": 50}
    e11 = cli.ok("credit", "score", "--sales", "500万", "--collection-rate", "0.29", "--receivables", "200,000",
                 "--strategic", "sporadic")
    assert (e11["score"], e11["grade"]) == ("5.00", "B")
    text = cli.text("credit", "score", "--sales", "12000000", "--collection-rate", "1", "--receivables", "150000",
                    "--strategic", "leader")
    assert "9.40" in text and "2000000.00" in text


def test_score_bad_values_are_invalid_not_usage_errors(crm):
    cli = crm.cli("li")
    good = {"--sales": "9000000", "--collection-rate": "0.85", "--receivables": "0", "--strategic": "key"}
    for option, bad, words in (("--sales", "lots", "sales"), ("--sales", "-5", "sales"),
                               ("--collection-rate", "eighty%", "collection rate"),
                               ("--receivables", "1.234", "fen"), ("--strategic", "emperor", "strategic level")):
        args = [part for key, value in {**good, option: bad}.items() for part in (key, value)]
        assert words in cli.fails("credit", "score", *args, code="invalid")
    cli.usage("credit", "score", "--sales", "1")  # missing options: a usage error


def test_strategic_grade_and_history(crm):
    big = str(crm.customer("big"))
    assert "manager or above" in crm.cli("li").fails("credit", "strategic", big, "key", code="permission_denied")
    assert crm.cli("m1").fails("credit", "strategic", big, "emperor", code="invalid")
    assert crm.cli("m1").ok("credit", "strategic", big, "key")["strategic"] == "key"
    settled_sale(crm, crm.customer("big"), "8500000")
    sale(crm, crm.customer("big"), "500000")
    graded = crm.cli("finance").ok("credit", "grade", big)
    assert (graded["grade"], graded["score"], graded["kind"]) == ("B", "7.40", "computed")
    line = crm.cli("m1", T0 + dt.timedelta(minutes=1)).text("credit", "grade", big)
    assert line.strip() == f"customer {big}: grade B, score 7.40, limit 1000000.00, 50 days"
    crm.cli("li").fails("credit", "grade", big, code="permission_denied")
    crm.cli("finance").fails("credit", "grade", "abc", code="invalid")
    crm.cli("finance").fails("credit", "grade", "999999", code="not_found")
    history = crm.cli("li").ok("credit", "history", big)
    assert [(h["actor"], h["grade"], h["score"]) for h in history] == [("m1", "B", "7.40"), ("finance", "B", "7.40")]
    assert "finance" in crm.cli("li").text("credit", "history", big)


def test_set_grade_and_regrade(crm):
    big = str(crm.customer("big"))
    crm.cli("vp").fails("credit", "set-grade", big, "A", "--reason", "meeting", code="permission_denied")
    crm.cli("gm").fails("credit", "set-grade", big, "A", "--reason", " ", code="invalid")
    crm.cli("gm").fails("credit", "set-grade", big, "E", "--reason", "meeting", code="invalid")
    crm.cli("gm").usage("credit", "set-grade", big, "A")  # --reason is required
    decided = crm.cli("gm").ok("credit", "set-grade", big, "A", "--reason", "2024 review meeting")
    assert (decided["kind"], decided["grade"], decided["credit_limit"]) == ("decided", "A", "2000000.00")
    crm.cli("m1").fails("credit", "regrade", code="permission_denied")
    later = T0 + dt.timedelta(days=1)
    assert crm.cli("finance", later).ok("credit", "regrade") == {"graded": 4, "grades": {"A": 0, "B": 0, "C": 4}}
    assert crm.cli("finance", later).text("credit", "regrade", "--since", "2025-06-03").strip() == \
        "graded 0: A 0, B 0, C 0"
    crm.cli("finance").fails("credit", "regrade", "--since", "yesterday", code="invalid")
    history = crm.cli("finance").ok("credit", "history", big)
    assert [(h["kind"], h["grade"]) for h in history] == [("computed", "C"), ("decided", "A")]
