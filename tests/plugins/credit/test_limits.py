"""Credit limits (DOMAIN.md §3.4–3.6, §3.10): the check and its approval bands, credit requests, shipping,
cash sales, the long-overdue block, write-offs and settlements in goods — through the services."""

import datetime as dt

import pytest

from kehu.core.models import Event
from kehu.errors import Conflict, Invalid, KehuError, NotFound, PermissionDenied
from kehu.plugins.credit.models import Allocation, CreditApproval, CreditGrading, Payment, Receivable

from .conftest import T0, D

LIMITS = {"A": D("2000000"), "B": D("1000000")}
FEN = D("0.01")


def graded(crm, key, grade):
    """Give demo customer ``key`` the grade ``grade`` (a decided grading the day before T0)."""
    CreditGrading.create(workspace=crm.workspace_row(), customer=crm.customer(key), kind="decided", grade=grade,
                         at=T0 - dt.timedelta(days=1))
    return crm.customer(key)


def approve_all(crm, approval, meeting="GM-2025-06"):
    """Approve every remaining step, each by a user of the deciding role."""
    for role in approval["chain"][approval["step"]:]:
        login = "gm" if role == "gm_office" else role
        approval = crm.as_(login).credit.approve(approval["id"], meeting=meeting if role == "gm_office" else None)
    return approval


def receivable(receivable_id):
    return Receivable.get_by_id(receivable_id)


# --- the check: bands, E4, E5 ---------------------------------------------------------------------------------

# (percentage over the limit or contract share, fen over?) → approvers, per grade; each band includes its edge.
EDGES = {
    "A": {(20, 0): ["vp"], (20, 1): ["vp"], (30, 0): ["vp"], (30, 1): ["gm"], (50, 0): ["gm"],
          (50, 1): ["gm_office"]},
    "B": {(20, 0): ["vp"], (20, 1): ["gm"], (30, 0): ["gm"], (30, 1): ["gm_office"], (50, 0): ["gm_office"],
          (50, 1): ["gm_office"]},
    # C: the vp approves the application first, then the band (not the vp twice in a row).
    "C": {(20, 0): ["vp"], (20, 1): ["vp", "gm"], (30, 0): ["vp", "gm"], (30, 1): ["vp", "gm"],
          (50, 0): ["vp", "gm"], (50, 1): ["vp", "gm_office"]},
}


@pytest.mark.parametrize("grade", ["A", "B", "C"])
def test_every_band_edge_and_one_fen_over(crm, grade):
    customer = graded(crm, "big", grade) if grade != "C" else crm.customer("big")  # never graded → C
    finance = crm.as_("finance").credit
    for (pct, fen), approvers in EDGES[grade].items():
        if grade == "C":
            contract = D("400000")
            amount = contract * pct / 100 + fen * FEN
            found = finance.check(customer, amount=str(amount), contract=str(contract))
        else:
            amount = LIMITS[grade] * (100 + pct) / 100 + fen * FEN
            found = finance.check(customer, amount=str(amount))
        assert found["grade"] == grade
        assert (found["decision"], found["approvers"]) == ("approval_required", approvers), (pct, fen, found)
        assert found["over_pct"] == f"{pct}.00", found  # one fen over rounds back to the edge for display


def test_e4_rows_and_over_by_counts_the_outstanding_balance(crm):
    b, a = graded(crm, "mid", "B"), graded(crm, "big", "A")
    finance = crm.as_("finance").credit
    for customer, amount, pct, approvers in [(b, "1250000", "25.00", ["gm"]), (a, "2600000", "30.00", ["vp"]),
                                             (a, "300万", "50.00", ["gm"]), (a, "3100000", "55.00", ["gm_office"])]:
        found = finance.check(customer, amount=amount)
        assert (found["over_pct"], found["approvers"]) == (pct, approvers), found
    at_limit = finance.check(b, amount="1000000")
    assert at_limit == {**at_limit, "decision": "ok", "approvers": [], "over_by": "0.00", "over_pct": "0.00",
                        "credit_limit": "1000000.00", "outstanding": "0.00"}
    crm.as_("li").credit.ship(b, amount="600000", received_on="2025-06-01")
    found = finance.check(b, amount="450000")  # 600000 + 450000 − 1000000
    assert (found["outstanding"], found["over_by"], found["over_pct"], found["approvers"]) == \
        ("600000.00", "50000.00", "5.00", ["vp"])
    within = finance.check(b, amount="100000")
    assert (within["decision"], within["over_by"], within["over_pct"]) == ("ok", "-300000.00", "-30.00")
    with pytest.raises(Conflict, match="no approval needed"):
        crm.as_("li").credit.request(b, amount="100000")


def test_e5_grade_c_chain_vp_first_then_gm(crm):
    customer = crm.customer("mid")  # never graded: C, no credit
    li = crm.as_("li").credit
    found = li.check(customer, amount="10万", contract="40万")
    assert (found["grade"], found["credit_limit"], found["measure"], found["over_pct"], found["approvers"]) == \
        ("C", "0.00", "contract_share", "25.00", ["vp", "gm"])
    with pytest.raises(Invalid, match="--contract"):
        li.check(customer, amount="100000")
    with pytest.raises(Invalid, match="at least the amount"):
        li.request(customer, amount="100000", contract="50000")
    request = li.request(customer, amount="100000", contract="400000")
    assert (request["kind"], request["chain"], request["next"], request["contract"]) == \
        ("credit", ["vp", "gm"], "vp", "400000.00")
    assert request["details"] == {**request["details"], "grade": "C", "over_pct": "25.00", "over_by": "100000.00"}
    with pytest.raises(PermissionDenied):
        crm.as_("gm").credit.approve(request["id"])  # the vp approves the application first
    assert approve_all(crm, request)["status"] == "approved"
    sale = li.ship(customer, amount="100000", received_on="2025-06-02", request=request["id"])
    assert (sale["status"], sale["request"], sale["grade"], sale["over_limit"]) == \
        ("open", request["id"], "C", True)


# --- shipping -------------------------------------------------------------------------------------------------


def test_ship_over_limit_needs_an_approved_request_used_once(crm):
    customer = graded(crm, "mid", "B")
    li = crm.as_("li").credit
    first = li.ship(customer, amount="900000", received_on="2025-06-01")
    assert (first["status"], first["due_on"], first["outstanding"], first["over_limit"]) == \
        ("open", "2025-07-21", "900000.00", False)
    with pytest.raises(KehuError) as refused:
        li.ship(customer, amount="200000", received_on="2025-06-02")
    assert refused.value.code == "over_limit" and "1000000" in refused.value.message
    request = li.request(customer, amount="200000")
    assert request["chain"] == ["vp"]  # 10% over
    with pytest.raises(KehuError, match="pending, not approved") as pending:
        li.ship(customer, amount="200000", received_on="2025-06-02", request=request["id"])
    assert pending.value.code == "over_limit"
    approve_all(crm, request)
    with pytest.raises(KehuError, match="covers only 200000") as small:
        li.ship(customer, amount="250000", received_on="2025-06-02", request=request["id"])
    assert small.value.code == "over_limit"
    sale = li.ship(customer, amount="200000", received_on="2025-06-02", request=request["id"])
    assert (sale["request"], sale["over_limit"], sale["outstanding"]) == (request["id"], True, "1100000.00")
    assert CreditApproval.get_by_id(request["id"]).status == "used"
    with pytest.raises(KehuError, match="is used") as again:
        li.ship(customer, amount="1", received_on="2025-06-02", request=request["id"])
    assert again.value.code == "over_limit"
    [notice] = crm.notifications("li", kind="credit_over_limit")
    assert "1100000" in notice.message
    assert [e.entity_id for e in crm.events("credit.shipped")] == [str(first["id"]), str(sale["id"])]
    assert len(crm.events("credit.approval_used")) == 1


def test_rejected_request_does_not_cover_and_c_cannot_ship_on_credit(crm):
    customer = crm.customer("mid")  # C
    li = crm.as_("li").credit
    with pytest.raises(KehuError, match="no credit") as refused:
        li.ship(customer, amount="1000", received_on="2025-06-02")
    assert refused.value.code == "over_limit"
    request = li.request(customer, amount="1000", contract="100000")
    crm.as_("vp").credit.reject(request["id"], reason="new customer")
    with pytest.raises(KehuError, match="rejected") as rejected:
        li.ship(customer, amount="1000", received_on="2025-06-02", request=request["id"])
    assert rejected.value.code == "over_limit"
    other = li.request(crm.customer("big"), amount="1000", contract="100000")
    with pytest.raises(Invalid, match="not a credit request of"):
        li.ship(customer, amount="1000", received_on="2025-06-02", request=other["id"])
    assert Receivable.select().count() == 0


def test_cash_sale_is_paid_at_once(crm):
    customer = crm.customer("mid")  # C: no credit, but cash before delivery is always possible
    sale = crm.as_("li").credit.ship(customer, amount="50000.50", received_on="2025-06-01", cash=True)
    assert (sale["status"], sale["cash"], sale["paid"], sale["closed_on"], sale["outstanding"]) == \
        ("paid", True, "50000.50", "2025-06-01", "0.00")
    [payment] = Payment.select()
    [allocation] = Allocation.select()
    assert (payment.kind, payment.amount, payment.paid_on) == ("cash_sale", D("50000.50"), dt.date(2025, 6, 1))
    assert (allocation.receivable_id, allocation.amount) == (sale["id"], D("50000.50"))
    with pytest.raises(Invalid, match="needs no credit request"):
        crm.as_("li").credit.ship(customer, amount="1", received_on="2025-06-01", cash=True, request="1")
    assert crm.notifications(kind="credit_over_limit") == []


def test_long_overdue_customer_is_denied_credit_but_may_pay_cash(crm):
    customer = graded(crm, "big", "A")
    crm.as_("li", "2025-01-02T10:00").credit.ship(customer, amount="1000", received_on="2025-01-01")
    # due 2025-02-20; on 2025-05-21 it is 90 days past due (not more), on 2025-05-22 91.
    assert crm.as_("li", "2025-05-21T10:00").credit.check(customer, amount="1000")["decision"] == "ok"
    found = crm.as_("li").credit.check(customer, amount="1000")
    assert (found["decision"], found["approvers"]) == ("denied", [])
    assert "2025-02-20" in found["reason"] and "102 days" in found["reason"]
    for attempt in (lambda: crm.as_("li").credit.ship(customer, amount="1000", received_on="2025-06-02"),
                    lambda: crm.as_("li").credit.request(customer, amount="3000000")):
        with pytest.raises(KehuError, match="supply restricted") as denied:
            attempt()
        assert denied.value.code == "denied"
    assert crm.as_("li").credit.ship(customer, amount="1000", received_on="2025-06-02", cash=True)["status"] == "paid"


def test_who_may_ship(crm):
    customer = graded(crm, "big", "A")  # owned by li, 销售一部
    for login in ("zhao", "wang"):  # another unit's rep; a rep of the same unit (own scope)
        with pytest.raises(PermissionDenied):
            crm.as_(login).credit.ship(customer, amount="1000", received_on="2025-06-02")
    with pytest.raises(PermissionDenied):
        crm.as_("zhao").credit.check(customer, amount="1000")
    with pytest.raises(PermissionDenied):
        crm.as_("finance").credit.request(customer, amount="3000000")
    for login in ("li", "m1", "finance"):
        assert crm.as_(login).credit.ship(customer, amount="1000", received_on="2025-06-02")["status"] == "open"
    with pytest.raises(NotFound):
        crm.as_("li").credit.ship(999999, amount="1000", received_on="2025-06-02")


# --- write-offs and settlements in goods ----------------------------------------------------------------------


def test_write_off_chain_end_to_end(crm):
    customer = graded(crm, "big", "A")
    li = crm.as_("li").credit
    sale = li.ship(customer, amount="300000", received_on="2025-06-01")
    with pytest.raises(Invalid):
        li.write_off(sale["id"], reason="  ")
    request = li.write_off(sale["id"], reason="customer bankrupt")
    assert (request["kind"], request["chain"], request["amount"], request["receivable"]) == \
        ("write_off", ["vp", "finance", "gm"], "300000.00", sale["id"])
    with pytest.raises(Conflict, match="already has a pending write_off"):
        li.write_off(sale["id"], reason="again")
    with pytest.raises(PermissionDenied):
        crm.as_("finance").credit.approve(request["id"])  # the vp reviews first
    crm.as_("vp").credit.approve(request["id"])
    crm.as_("finance").credit.approve(request["id"])
    assert receivable(sale["id"]).status == "open"  # until the gm approves
    done = crm.as_("gm", T0 + dt.timedelta(hours=1)).credit.approve(request["id"])
    assert done["status"] == "approved"
    row = receivable(sale["id"])
    assert (row.status, row.written_off_at, row.closed_on) == ("written_off", T0 + dt.timedelta(hours=1),
                                                               dt.date(2025, 6, 2))
    assert crm.as_("li").credit.check(customer, amount="1")["outstanding"] == "0.00"
    [entry] = crm.as_("finance").credit.write_offs()
    assert entry == {**entry, "receivable": sale["id"], "customer": customer, "amount": "300000.00",
                     "written_off": "300000.00", "reason": "customer bankrupt", "approval": request["id"]}
    assert entry["approved_at"].startswith("2025-06-02T03:00")
    assert crm.as_("zhao").credit.write_offs() == []  # outside zhao's scope
    with pytest.raises(Conflict, match="written_off, not open"):
        li.write_off(sale["id"], reason="twice")
    assert len(crm.events("credit.written_off")) == 1


def test_goods_settlement_reduces_then_closes_the_receivable(crm):
    customer = graded(crm, "big", "A")
    li = crm.as_("li").credit
    sale = li.ship(customer, amount="100000", received_on="2025-06-01")
    with pytest.raises(Invalid, match="more than the unpaid"):
        li.settle_goods(sale["id"], value="100000.01", asset="truck")
    first = li.settle_goods(sale["id"], value="30000", asset="a used truck")
    assert (first["kind"], first["chain"], first["details"]) == \
        ("goods_settlement", ["vp", "finance", "gm"], {"asset": "a used truck"})
    approve_all(crm, first)
    row = receivable(sale["id"])
    assert (row.status, row.paid) == ("open", D("30000"))
    approve_all(crm, li.settle_goods(sale["id"], value="70000", asset="stock of milk powder"))
    row = receivable(sale["id"])
    assert (row.status, row.paid, row.closed_on) == ("paid", D("100000"), dt.date(2025, 6, 2))
    assert [(p.kind, p.amount) for p in Payment.select().order_by(Payment.id)] == \
        [("goods", D("30000")), ("goods", D("70000"))]
    with pytest.raises(Conflict):
        li.settle_goods(sale["id"], value="1", asset="x")


def test_workspace_isolation(crm):
    customer = graded(crm, "big", "A")
    sale = crm.as_("li").credit.ship(customer, amount="1000", received_on="2025-06-01")
    request = crm.as_("li").credit.request(customer, amount="3000000")
    root = crm.as_("root", workspace="other").credit
    with pytest.raises(NotFound):
        root.check(customer, amount="1")
    with pytest.raises(NotFound):
        root.ship(customer, amount="1", received_on="2025-06-01")
    with pytest.raises(NotFound):
        root.write_off(sale["id"], reason="x")
    with pytest.raises(NotFound):
        root.approve(request["id"])
    assert root.write_offs() == []
    assert not Event.select().where(Event.workspace == crm.workspace_row("other"),
                                    Event.action.startswith("credit.")).exists()
