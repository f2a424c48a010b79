"""``kehu credit check | request | ship | write-off | write-offs | settle-goods`` end to end through the CLI:
happy paths in ``--json`` and text, and bad input (exit 1, one ``Error:`` line or one JSON error object,
nothing stored)."""

import datetime as dt

import pytest

from kehu.core.models import Event
from kehu.plugins.credit.models import CreditApproval, Payment, Receivable

from .conftest import SHANGHAI
from .test_limits import graded

KEHU_ENV = ("KEHU_DB", "KEHU_WORKSPACE", "KEHU_USER", "KEHU_DEBUG")


@pytest.fixture(autouse=True)
def _no_kehu_environment(monkeypatch):
    for name in KEHU_ENV:
        monkeypatch.delenv(name, raising=False)


def stored():
    """What the credit commands could have written: receivables, payments, approvals, audit rows."""
    return (Receivable.select().count(), Payment.select().count(), CreditApproval.select().count(),
            Event.select().count())


def test_check_request_approve_ship(crm):
    customer = str(graded(crm, "mid", "B"))
    li, gm = crm.cli("li"), crm.cli("gm")
    found = li.ok("credit", "check", customer, "--amount", "125万")
    assert (found["decision"], found["over_by"], found["over_pct"], found["approvers"]) == \
        ("approval_required", "250000.00", "25.00", ["gm"])
    assert "approval_required" in li.text("credit", "check", customer, "--amount", "1250000")
    assert "over its limit of 1000000.00" in li.fails("credit", "ship", customer, "--amount", "1250000",
                                                      "--received-on", "2025-06-01", code="over_limit")
    request = li.ok("credit", "request", customer, "--amount", "1250000")
    assert (request["chain"], request["next"]) == (["gm"], "gm")
    li.fails("credit", "approve", request["id"], code="permission_denied")
    assert gm.ok("credit", "approve", request["id"])["status"] == "approved"
    sale = li.ok("credit", "ship", customer, "--amount", "1250000", "--received-on", "2025-06-01", "--request",
                 request["id"], "--note", "first order")
    assert (sale["amount"], sale["due_on"], sale["request"], sale["over_limit"], sale["note"]) == \
        ("1250000.00", "2025-07-21", request["id"], True, "first order")
    assert li.ok("credit", "approvals", "--status", "used")[0]["id"] == request["id"]


def test_cash_write_off_register_and_settle_goods(crm):
    customer = str(graded(crm, "big", "A"))
    li = crm.cli("li")
    cash = li.ok("credit", "ship", customer, "--amount", "8000", "--received-on", "2025-06-01", "--cash")
    assert (cash["status"], cash["paid"], cash["outstanding"]) == ("paid", "8000.00", "0.00")
    sale = li.ok("credit", "ship", customer, "--amount", "50000", "--received-on", "2025-06-01")
    li.fails("credit", "write-off", cash["id"], "--reason", "x", code="conflict")  # paid: not open
    write_off = li.ok("credit", "write-off", sale["id"], "--reason", "bankrupt")
    assert write_off["chain"] == ["vp", "finance", "gm"]
    li.fails("credit", "settle-goods", sale["id"], "--value", "abc", "--asset", "truck")
    for login in ("vp", "finance", "gm"):
        crm.cli(login).ok("credit", "approve", write_off["id"])
    [entry] = crm.cli("finance").ok("credit", "write-offs")
    assert (entry["receivable"], entry["written_off"], entry["reason"]) == (sale["id"], "50000.00", "bankrupt")
    text = crm.cli("finance").text("credit", "write-offs", "--csv")
    assert text.splitlines()[0] == "receivable,customer_name,amount,written_off,reason,approved_at"
    other = li.ok("credit", "ship", customer, "--amount", "20000", "--received-on", "2025-06-01")
    settle = li.ok("credit", "settle-goods", other["id"], "--value", "20000", "--asset", "printing press")
    assert (settle["kind"], settle["amount"], settle["details"]) == \
        ("goods_settlement", "20000.00", {"asset": "printing press"})


def test_bad_input_is_one_line_and_stores_nothing(crm):
    customer = str(graded(crm, "big", "A"))
    c_customer = str(crm.customer("mid"))
    li = crm.cli("li")
    before = stored()
    message = li.fails("credit", "check", customer, "--amount", "abc")
    assert message == "amount: must be an amount in yuan, not 'abc'"
    assert li.fails("credit", "request", customer, "--amount", "-5") == "amount: must be zero or more, not '-5'"
    assert "more than zero" in li.fails("credit", "ship", customer, "--amount", "0", "--received-on", "2025-06-01")
    assert "two decimals" in li.fails("credit", "ship", customer, "--amount", "1.001", "--received-on", "2025-06-01")
    assert "date" in li.fails("credit", "ship", customer, "--amount", "100", "--received-on", "June 1st")
    assert "--contract" in li.fails("credit", "request", c_customer, "--amount", "1000")
    li.fails("credit", "ship", customer, "--amount", "100", "--received-on", "2025-06-01", "--request", "x")
    li.fails("credit", "ship", customer, "--amount", "100", "--received-on", "2025-06-01", "--request", "99",
             code="not_found")
    li.fails("credit", "check", "nobody", "--amount", "1")
    li.fails("credit", "check", "424242", "--amount", "1", code="not_found")
    li.fails("credit", "write-off", "7", "--reason", "x", code="not_found")
    li.fails("credit", "settle-goods", "7", "--value", "1", "--asset", " ", code="invalid")
    crm.cli("zhao").fails("credit", "ship", customer, "--amount", "1", "--received-on", "2025-06-01",
                          code="permission_denied")
    li.usage("credit", "check", customer)  # --amount missing
    li.usage("credit", "ship", customer, "--amount", "1")  # --received-on missing
    assert stored() == before


def test_denied_for_long_overdue(crm):
    customer = str(graded(crm, "big", "A"))
    january = crm.cli("li", dt.datetime(2025, 1, 2, 10, tzinfo=SHANGHAI))
    january.ok("credit", "ship", customer, "--amount", "1000", "--received-on", "2025-01-01")
    li = crm.cli("li")
    found = li.ok("credit", "check", customer, "--amount", "1")
    assert found["decision"] == "denied" and "supply restricted" in found["reason"]
    assert "supply restricted" in li.fails("credit", "ship", customer, "--amount", "1", "--received-on",
                                           "2025-06-02", code="denied")
    li.ok("credit", "ship", customer, "--amount", "1", "--received-on", "2025-06-02", "--cash")
