"""Credit grading (DOMAIN.md §3.1–3.4, §8 E1–E3, E11): band edges, exact scores, grading from the ledger, the
first-year rule, strategic levels, decided grades, history, the grade in force, the set-based regrade (which
must agree with the Python scoring for every customer), workspace isolation and the ``kehu tick`` jobs.

Clock: T0 = 2025-06-02 10:00 Shanghai, so the scoring period is 2024-06-03 … 2025-06-02 and a customer is in
its first year of trade when trading began after 2024-06-02.
"""

import datetime as dt
from decimal import Decimal

import pytest

import kehu
from kehu.core.db import database
from kehu.core.models import Customer
from kehu.plugins.credit import grading, ledger
from kehu.plugins.credit.models import OPEN, PAID, WRITTEN_OFF, Allocation, CreditGrading, Payment, Receivable
from kehu.plugins.credit.policy import policy_for

from .conftest import SHANGHAI, T0, D

IN_PERIOD = "2025-03-01"
BEFORE_PERIOD = "2024-06-02"  # the day before the period starts


# --- ledger helpers (the ship and pay services are another engineer's; these write the same rows) -----------


def sale(crm, customer, amount, received_on=IN_PERIOD):
    """A receivable for ``customer``, as the ship service records it."""
    handle = crm.as_("admin")
    with database.atomic():
        return ledger.record_sale(handle.context, policy_for(handle.context), customer, D(amount),
                                  dt.date.fromisoformat(received_on)).id


def pay(crm, customer, amount, paid_on=IN_PERIOD, receivable=None):
    """A payment, applied to ``receivable`` (when given) as the pay service would: allocation and ``paid``."""
    handle = crm.as_("admin")
    with database.atomic():
        payment = Payment.create(workspace=handle.context.workspace, customer=customer, amount=D(amount),
                                 paid_on=dt.date.fromisoformat(paid_on))
        if receivable is not None:
            row = Receivable.get_by_id(receivable)
            Allocation.create(workspace=handle.context.workspace, payment=payment, receivable=row,
                              amount=D(amount), paid_on=payment.paid_on)
            row.paid += D(amount)
            row.status = PAID if row.paid >= row.amount else OPEN
            row.save()


def settled_sale(crm, customer, amount, received_on=IN_PERIOD, paid_on=IN_PERIOD):
    """A sale paid in full."""
    pay(crm, customer, amount, paid_on, receivable=sale(crm, customer, amount, received_on))


def customers(crm, count, prefix="c", owner="li", now=None):
    """``count`` new customers (created at ``now``, default two years before T0: none in its first year)."""
    created = crm.as_("admin", now or T0 - dt.timedelta(days=730)).customers.create_many(
        [{"name": f"{prefix}{i}", "owner": owner} for i in range(count)])["created"]
    return [c["id"] for c in created]


def points(crm, sales="0", rate="0", receivables="0", strategic="ordinary"):
    return crm.as_("li").credit.score(sales, rate, receivables, strategic)["points"]


class Spy:
    """Records every ``kehu_credit_graded`` call and whether a transaction was still open."""

    def __init__(self):
        self.calls = []

    @kehu.hookimpl
    def kehu_credit_graded(self, context, gradings):
        self.calls.append((list(gradings), database.in_transaction()))


@pytest.fixture
def spy(crm, kehu_connect_with):
    """``(app, spy)``: an app with the spy plugin enabled in acme."""
    watcher = Spy()
    app = kehu_connect_with(plugins=[("spy", watcher)])
    app.workspace("acme", user="admin").plugins.enable("spy")
    return app, watcher


# --- band edges and exact scores (pure calculation) ------------------------------------------------------


def test_sales_band_edges_one_fen_either_side(crm):
    for edge, at, below in (("10000000", 10, 8), ("8000000", 8, 6), ("5000000", 6, 4), ("1000000", 4, 2)):
        assert points(crm, sales=edge)["sales"] == at
        assert points(crm, sales=str(D(edge) + D("0.01")))["sales"] == at
        assert points(crm, sales=str(D(edge) - D("0.01")))["sales"] == below
    assert points(crm, sales="1200万")["sales"] == 10


def test_collection_band_edges(crm):
    for edge, at, below in (("1", 10, 8), ("0.8", 8, 6), ("0.5", 6, 4), ("0.3", 4, 2)):
        assert points(crm, rate=edge)["collection"] == at
        assert points(crm, rate=f"{D(edge) * 100}%")["collection"] == at
        assert points(crm, rate=str(D(edge) - D("0.0001")))["collection"] == below
    assert points(crm, rate="1.5")["collection"] == 10  # collecting old debts: above 100%


def test_receivables_band_edges_one_fen_either_side(crm):
    for edge, at, above in (("10000", 10, 8), ("200000", 8, 6), ("800000", 6, 4), ("2000000", 4, 2)):
        assert points(crm, receivables=edge)["receivables"] == at
        assert points(crm, receivables=str(D(edge) - D("0.01")))["receivables"] == at
        assert points(crm, receivables=str(D(edge) + D("0.01")))["receivables"] == above


def test_worked_examples_e1_e2_e3_e11_are_exact(crm):
    score = crm.as_("li").credit.score
    e1 = score("9000000", "85%", "500000", "key")
    assert e1 == {"points": {"sales": 8, "collection": 8, "receivables": 6, "strategic": 8}, "score": "7.40",
                  "grade": "B", "credit_limit": "1000000.00", "credit_days": 50}
    e2 = score("12000000", "1", "150000", "leader")
    assert (e2["score"], e2["grade"], e2["credit_limit"], e2["credit_days"]) == ("9.40", "A", "2000000.00", 50)
    # E3 and E11: (sales, rate, receivables, level) → score, grade.
    for figures, expected in (
            (("8000000", "0.8", "200000", "key"), ("8.00", "A")),             # 8/8/8/8, "not below 8"
            (("10000000", "0.5", "200000", "important"), ("7.80", "B")),      # 10/6/8/6
            (("0", "1", "0", "leader"), ("7.60", "B")),                       # 2/10/10/10: never A
            (("3000000", "45%", "2500000", "ordinary"), ("3.40", "C")),       # 4/4/2/4
            (("5000000", "0.29", "200000", "sporadic"), ("5.00", "B")),       # E11: 6/2/8/2 is exactly 5
            (("4999999.99", "0.29", "200000", "sporadic"), ("4.40", "C"))):
        result = score(*figures)
        assert (result["score"], result["grade"]) == expected, figures
    assert score("0", "0", "3000000", "sporadic")["credit_limit"] == "0.00"  # C: no credit


def test_score_rejects_bad_values(crm):
    score = crm.as_("li").credit.score
    for figures, words in ((("abc", "1", "0", "key"), "sales"), (("-1", "1", "0", "key"), "sales"),
                           (("1.001", "1", "0", "key"), "fen"), (("1", "x%", "0", "key"), "collection rate"),
                           (("1", "-5%", "0", "key"), "collection rate"), (("1", "1", "lots", "key"), "receivables"),
                           (("1", "1", "0", "emperor"), "strategic level"), (("1", "1", "0", None), "strategic")):
        with pytest.raises(kehu.errors.Invalid, match=words):
            score(*figures)


# --- grading from the ledger ------------------------------------------------------------------------------


def test_e1_points_from_the_ledger_stored_audited_and_in_force(crm, spy):
    app, watcher = spy
    big = crm.customer("big")
    crm.as_("m1").credit.strategic(big, "key")
    settled_sale(crm, big, "8500000")
    sale(crm, big, "500000", "2025-05-20")  # open: the receivables
    result = app.workspace("acme", user="m1", now=T0).credit.grade(big)
    assert result == {
        "customer": big, "grade": "B", "score": "7.40", "kind": "computed", "flags": [], "reason": None,
        "points": {"sales": 8, "collection": 8, "receivables": 6, "strategic": 8},
        "inputs": {"sales": "9000000.00", "collected": "8500000.00", "collection_rate": "0.9444",
                   "receivables": "500000.00", "strategic": "key", "period_from": "2024-06-03",
                   "period_to": "2025-06-02"},
        "credit_limit": "1000000.00", "credit_days": 50}
    row = CreditGrading.get(CreditGrading.customer == big)
    assert (row.actor_id, row.at, row.score, row.credit_limit) == (crm.uid("m1"), T0, 740, D("1000000"))
    assert crm.events("credit.graded")[-1].after == {"grading": row.id, "grade": "B", "kind": "computed"}
    assert watcher.calls == [([{"customer": big, "grade": "B", "kind": "computed", "score": "7.40",
                                "credit_limit": "1000000.00", "credit_days": 50}], False)]
    assert grading.grade_in_force(crm.as_("li").context, big) == ("B", D("1000000.00"), 50, True)


def test_e2_grade_a_but_c_in_the_first_year_with_a_reason(crm):
    eight_months_ago = dt.datetime(2024, 10, 2, 9, 0, tzinfo=SHANGHAI)
    new = crm.add_customer("新客户", owner="li", now=eight_months_ago)
    for customer in (crm.customer("big"), new):
        crm.as_("m1").credit.strategic(customer, "leader")
        settled_sale(crm, customer, "11850000")
        sale(crm, customer, "150000")  # open receivables 15万
    # an old sale, before the period (and the new customer's creation), paid in it: the rate reaches 100%
    settled_sale(crm, crm.customer("big"), "150000", received_on="2024-05-01", paid_on="2024-07-01")
    pay(crm, new, "150000", "2025-04-01")
    old = crm.as_("finance").credit.grade(crm.customer("big"))
    assert (old["points"], old["score"], old["grade"], old["credit_limit"]) == (
        {"sales": 10, "collection": 10, "receivables": 8, "strategic": 10}, "9.40", "A", "2000000.00")
    young = crm.as_("finance").credit.grade(new)
    assert (young["score"], young["grade"], young["credit_limit"], young["flags"]) == (
        "9.40", "C", "0.00", ["first_year"])
    assert "first year of trade" in young["reason"] and "12 months" in young["reason"]


def test_trading_begins_at_the_earliest_of_creation_and_first_sale(crm):
    grade = crm.as_("finance").credit.grade
    exactly_a_year = crm.add_customer("一年整", now=dt.datetime(2024, 6, 2, 23, 59, tzinfo=SHANGHAI))
    a_day_less = crm.add_customer("差一天", now=dt.datetime(2024, 6, 3, 0, 0, tzinfo=SHANGHAI))
    sold_before = crm.add_customer("先有台账", now=dt.datetime(2025, 1, 1, tzinfo=SHANGHAI))
    sale(crm, sold_before, "100", received_on="2024-06-01")  # goods received before the record was made
    assert grade(exactly_a_year)["flags"] == ["no_sales", "no_strategic_level"]
    assert grade(a_day_less)["flags"] == ["no_sales", "no_strategic_level", "first_year"]
    assert grade(sold_before)["reason"] is None


def test_no_sales_and_no_strategic_level_score_lowest_and_are_flagged(crm):
    far = crm.customer("far")
    pay(crm, far, "5000")  # collected, but no sales: the rate has no meaning
    result = crm.as_("d1").credit.grade(far)
    assert result["points"] == {"sales": 2, "collection": 2, "receivables": 10, "strategic": 2}
    assert result["flags"] == ["no_sales", "no_strategic_level"]
    assert result["inputs"]["collection_rate"] is None and result["inputs"]["strategic"] is None
    assert (result["score"], result["grade"]) == ("4.40", "C")


def test_the_period_is_the_twelve_months_ending_today(crm):
    mid = crm.customer("mid")
    receivable = sale(crm, mid, "1000000", received_on="2024-06-03")  # first day: in
    sale(crm, mid, "999999", received_on=BEFORE_PERIOD)  # out of sales, but open: receivables
    sale(crm, mid, "777", received_on="2025-06-03")  # tomorrow: not yet a sale of the period
    pay(crm, mid, "300000", "2024-06-03", receivable)
    pay(crm, mid, "123456", BEFORE_PERIOD)  # out of collections
    inputs = crm.as_("finance").credit.grade(mid)["inputs"]
    assert (inputs["sales"], inputs["collected"], inputs["collection_rate"], inputs["receivables"]) == (
        "1000000.00", "300000.00", "0.3000", "1700776.00")


# --- permissions: grade, strategic, set-grade -----------------------------------------------------------


def test_who_may_grade(crm):
    big, far = crm.customer("big"), crm.customer("far")
    for login in ("li", "wang"):
        with pytest.raises(kehu.errors.PermissionDenied):
            crm.as_(login).credit.grade(big)
    with pytest.raises(kehu.errors.PermissionDenied, match="scope"):
        crm.as_("m1").credit.grade(far)  # zhao's customer, 销售二部
    for login, customer in (("m1", big), ("d1", far), ("vp", far), ("finance", far), ("admin", big)):
        assert crm.as_(login).credit.grade(customer)["kind"] == "computed"
    with pytest.raises(kehu.errors.NotFound):
        crm.as_("finance").credit.grade(999999)


def test_strategic_level_manager_or_above_in_scope_and_audited(crm):
    big, far = crm.customer("big"), crm.customer("far")
    for login in ("li", "finance"):
        with pytest.raises(kehu.errors.PermissionDenied):
            crm.as_(login).credit.strategic(big, "key")
    with pytest.raises(kehu.errors.PermissionDenied, match="scope"):
        crm.as_("m1").credit.strategic(far, "key")
    with pytest.raises(kehu.errors.Invalid, match="leader, key, important, ordinary, sporadic"):
        crm.as_("m1").credit.strategic(big, "emperor")
    assert crm.as_("m1").credit.strategic(big, "key")["strategic"] == "key"
    assert crm.as_("d1").credit.strategic(big, "leader") == {
        "customer": big, "strategic": "leader", "by": "d1", "at": T0.astimezone(dt.timezone.utc).isoformat()}
    assert [(e.before, e.after) for e in crm.events("credit.strategic_set")] == [
        (None, {"strategic": "key"}), ({"strategic": "key"}, {"strategic": "leader"})]
    assert crm.as_("finance").credit.grade(big)["points"]["strategic"] == 10


def test_set_grade_finance_or_gm_with_a_reason(crm):
    big = crm.customer("big")
    for login in ("li", "m1", "d1", "vp", "admin"):
        with pytest.raises(kehu.errors.PermissionDenied):
            crm.as_(login).credit.set_grade(big, "A", "review meeting")
    with pytest.raises(kehu.errors.Invalid, match="reason"):
        crm.as_("gm").credit.set_grade(big, "A", "   ")
    with pytest.raises(kehu.errors.Invalid, match="A, B, C"):
        crm.as_("gm").credit.set_grade(big, "D", "review meeting")
    crm.as_("finance").credit.grade(big)  # C: no sales
    decided = crm.as_("gm", T0 + dt.timedelta(hours=1)).credit.set_grade(big, "b", "2024 review: reliable payer")
    assert decided == {"customer": big, "grade": "B", "score": None, "points": None, "inputs": None,
                       "flags": None, "reason": "2024 review: reliable payer", "credit_limit": "1000000.00",
                       "credit_days": 50, "kind": "decided"}
    event = crm.events("credit.grade_decided")[-1]
    assert (event.before, event.after["grade"], event.actor_id) == ({"grade": "C"}, "B", crm.uid("gm"))
    assert grading.grade_in_force(crm.as_("li").context, big) == ("B", D("1000000.00"), 50, True)


# --- history and the grade in force ---------------------------------------------------------------------


def test_history_newest_first_computed_and_decided_side_by_side(crm):
    big = crm.customer("big")
    crm.as_("finance", T0).credit.grade(big)
    crm.as_("gm", T0 + dt.timedelta(days=1)).credit.set_grade(big, "A", "strategic partner")
    crm.as_("m1", T0 + dt.timedelta(days=2)).credit.grade(big)
    history = crm.as_("li").credit.history(big)  # the owner may read it
    assert [(h["kind"], h["grade"], h["score"], h["actor"], h["credit_limit"]) for h in history] == [
        ("computed", "C", "4.40", "m1", "0.00"), ("decided", "A", None, "gm", "2000000.00"),
        ("computed", "C", "4.40", "finance", "0.00")]
    assert history[1]["reason"] == "strategic partner"
    assert history[0]["at"] == (T0 + dt.timedelta(days=2)).astimezone(dt.timezone.utc).isoformat()
    with pytest.raises(kehu.errors.PermissionDenied):
        crm.as_("zhao").credit.history(big)


def test_grade_in_force_uses_the_current_policy_and_c_when_never_graded(crm):
    big, mid = crm.customer("big"), crm.customer("mid")
    context = crm.as_("li").context
    assert grading.grade_in_force(context, mid) == ("C", D("0.00"), 50, False)
    crm.as_("gm").credit.set_grade(big, "B", "review")
    crm.as_("gm").credit.policy_set({"terms": {"B": {"limit": "1500000", "days": 40}}})
    assert grading.grade_in_force(crm.as_("li").context, big) == ("B", D("1500000.00"), 40, True)


# --- regrade: set-based, agreeing with the Python scoring -----------------------------------------------


EDGE_FIGURES = [
    # (sales, collected, open receivables, strategic): every band edge and one fen either side
    *[(str(D(edge) + delta), "0", "0", "key") for edge in ("10000000", "8000000", "5000000", "1000000")
      for delta in (D("-0.01"), D(0), D("0.01"))],
    *[("1000000", str(D(edge) * 1000000 + delta), "0", "important")
      for edge in ("1", "0.8", "0.5", "0.3") for delta in (D("-0.01"), D(0), D("0.01"))],
    *[("0", "0", str(D(edge) + delta), "ordinary") for edge in ("10000", "200000", "800000", "2000000")
      for delta in (D("-0.01"), D(0), D("0.01"))],
    ("5000000", "1000000", "200000", "sporadic"),  # E11: 6/2/8/2 = 5.00 → B
    ("8000000", "6400000", "200000", "key"),  # 8/8/8/8 = 8.00 → A
    ("3333333.33", "1111111.11", "12345.67", "leader"),  # a rate that is no finite decimal
    ("0", "0", "0", None),
]


def build_edge_ledgers(crm):
    """One customer per row of EDGE_FIGURES, plus a new customer, an overpaid one and a deleted one.

    The open balance is a sale of the period left unpaid (older sales for the part above the period's sales);
    the rest of the period's sales is paid up to ``collected`` and the remainder written off (bad debt is no
    open receivable); collections beyond that pay an older debt in the period.
    """
    ids = customers(crm, len(EDGE_FIGURES))
    for customer, (sales, collected, open_balance, level) in zip(ids, EDGE_FIGURES):
        if level:
            crm.as_("m1").credit.strategic(customer, level)
        sales, collected, open_balance = D(sales), D(collected), D(open_balance)
        open_in_period = min(open_balance, sales)
        settled = sales - open_in_period
        paid = min(collected, settled)
        if settled:
            receivable = sale(crm, customer, settled)
            if paid:
                pay(crm, customer, paid, receivable=receivable)
            if paid < settled:
                Receivable.update(status=WRITTEN_OFF).where(Receivable.id == receivable).execute()
        if open_in_period:
            sale(crm, customer, open_in_period, received_on="2025-05-01")
        if open_balance > open_in_period:
            sale(crm, customer, open_balance - open_in_period, received_on="2023-12-01")
        if collected > paid:
            pay(crm, customer, collected - paid)
    new = customers(crm, 1, prefix="new", now=T0 - dt.timedelta(days=100))[0]
    settled_sale(crm, new, "20000000")
    overpaid = customers(crm, 1, prefix="overpaid")[0]  # an open balance below zero still prints exactly
    Receivable.update(paid=D("100.50")).where(Receivable.id == sale(crm, overpaid, "100")).execute()
    gone = customers(crm, 1, prefix="gone")[0]
    Customer.update(deleted_at=T0).where(Customer.id == gone).execute()
    return ids, [new, overpaid], gone


def test_regrade_agrees_with_grade_for_every_customer(crm):
    ids, (new, overpaid), gone = build_edge_ledgers(crm)
    result = crm.as_("finance").credit.regrade()
    everyone = [*crm.customers.values(), *ids, new, overpaid]
    assert result["graded"] == len(everyone)
    regraded = {r.customer_id: grading.grading_view(r) for r in CreditGrading.select()}
    assert gone not in regraded
    assert result["grades"] == {g: sum(1 for v in regraded.values() if v["grade"] == g) for g in "ABC"}
    later = T0 + dt.timedelta(seconds=1)
    for customer in everyone:
        assert crm.as_("finance", later).credit.grade(customer) == regraded[customer], customer
    # the band edges really were crossed
    edge_points = [regraded[c]["points"] for c in ids]
    assert [p["sales"] for p in edge_points[:12]] == [8, 10, 10, 6, 8, 8, 4, 6, 6, 2, 4, 4]
    assert [p["collection"] for p in edge_points[12:24]] == [8, 10, 10, 6, 8, 8, 4, 6, 6, 2, 4, 4]
    assert [p["receivables"] for p in edge_points[24:36]] == [10, 10, 8, 8, 8, 6, 6, 6, 4, 4, 4, 2]
    assert [(regraded[c]["score"], regraded[c]["grade"]) for c in ids[36:38]] == [("5.00", "B"), ("8.00", "A")]
    assert regraded[new]["grade"] == "C" and regraded[new]["reason"]
    assert regraded[overpaid]["inputs"]["receivables"] == "-0.50"
    assert len(crm.events("credit.graded")) == 2 * len(everyone)


def test_regrade_batches_announce_after_each_commit_and_resume(crm, spy, monkeypatch):
    app, watcher = spy
    monkeypatch.setattr(grading, "REGRADE_BATCH", 3)
    extra = customers(crm, 4)
    settled_sale(crm, extra[0], "9000000")
    handle = app.workspace("acme", user="vp", now=T0)
    assert handle.credit.regrade() == {"graded": 8, "grades": {"A": 1, "B": 0, "C": 7}}
    assert [len(gradings) for gradings, _ in watcher.calls] == [3, 3, 2]
    assert not any(open_ for _, open_ in watcher.calls)
    assert watcher.calls[0][0][0] == {"customer": crm.customer("big"), "grade": "C", "kind": "computed",
                                      "score": "4.40", "credit_limit": "0.00", "credit_days": 50}
    # a run resumed with the same start writes nothing twice; a later run grades everyone again
    assert handle.credit.regrade(since=T0)["graded"] == 0
    later = app.workspace("acme", user="vp", now=T0 + dt.timedelta(hours=1)).credit.regrade(since="2025-06-02")
    assert later["graded"] == 0
    assert app.workspace("acme", user="vp", now=T0 + dt.timedelta(days=1)).credit.regrade()["graded"] == 8
    assert CreditGrading.select().count() == 16


def test_who_may_regrade(crm):
    for login in ("li", "m1", "d1"):
        with pytest.raises(kehu.errors.PermissionDenied):
            crm.as_(login).credit.regrade()
    for minutes, login in enumerate(("vp", "gm", "finance", "admin", None)):
        assert crm.as_(login, T0 + dt.timedelta(minutes=minutes)).credit.regrade()["graded"] == 4


def test_workspace_isolation(crm):
    other = crm.as_("root", workspace="other")
    theirs = other.customers.create(name="别家客户", owner="root")["id"]
    with database.atomic():
        ledger.record_sale(other.context, policy_for(other.context), theirs, D("9000000"), dt.date(2025, 3, 1))
    assert crm.as_("finance").credit.regrade()["graded"] == 4
    with pytest.raises(kehu.errors.NotFound):
        crm.as_("finance").credit.grade(theirs)
    with pytest.raises(kehu.errors.NotFound):
        other.credit.grade(crm.customer("big"))
    mine = other.credit.regrade()
    assert mine == {"graded": 1, "grades": {"A": 0, "B": 0, "C": 1}}
    row = CreditGrading.get(CreditGrading.customer == theirs)
    assert row.inputs["sales"] == "9000000.00" and row.workspace_id != crm.workspace_row().id


# --- kehu tick -------------------------------------------------------------------------------------------


def test_tick_regrades_yearly_and_asks_for_the_quarterly_limit_review(crm):
    def jobs(now):
        results = {r["workspace"]: r["jobs"] for r in crm.app.tick(now=now, workspace="acme")}["acme"]
        return {j["job"]: j for j in results if j["job"].startswith("credit.")}

    first = jobs(T0)  # the review first: nothing graded yet, nobody asked
    assert first["credit.review_limits"]["result"] == {"customers": 0, "notified": 0}
    assert first["credit.regrade"]["result"] == {"graded": 4, "grades": {"A": 0, "B": 0, "C": 4}}
    assert {r.actor_id for r in CreditGrading.select()} == {None}
    assert crm.notifications(kind="credit_review") == []
    again = jobs(T0 + dt.timedelta(days=20))  # same year, same quarter
    assert again["credit.regrade"]["ran"] is False and again["credit.review_limits"]["ran"] is False
    next_quarter = jobs(dt.datetime(2025, 7, 1, 9, tzinfo=SHANGHAI))
    assert next_quarter["credit.review_limits"]["result"] == {"customers": 4, "notified": 2}
    assert next_quarter["credit.regrade"]["ran"] is False
    assert {n.user_id for n in crm.notifications(kind="credit_review")} == {crm.uid("finance"), crm.uid("gm")}
    assert "4 customer(s)" in crm.notifications("gm", "credit_review")[0].message
    assert crm.events("credit.limits_review_due")[-1].after == {"customers": 4, "notified": 2}
    assert jobs(dt.datetime(2026, 1, 1, 9, tzinfo=SHANGHAI))["credit.regrade"]["result"]["graded"] == 4
    assert CreditGrading.select().count() == 8


def test_money_stays_decimal(crm):
    crm.as_("m1").credit.strategic(crm.customer("big"), "important")
    sale(crm, crm.customer("big"), "0.01")
    result = crm.as_("finance").credit.grade(crm.customer("big"))
    assert result["inputs"]["sales"] == "0.01" and result["inputs"]["receivables"] == "0.01"
    assert isinstance(grading.grade_in_force(crm.as_("li").context, crm.customer("big"))[1], Decimal)


def test_the_yearly_job_never_overrules_a_grade_decided_earlier_that_year(crm):
    crm.as_("finance").credit.set_grade(crm.customer("big"), "A", reason="yearly review meeting")
    later = T0 + dt.timedelta(days=30)
    done = grading.regrade_job(crm.as_(None, later).context)
    assert done["graded"] == 3  # everyone but big
    assert grading.grade_in_force(crm.as_("li", later).context, crm.customer("big"))[0] == "A"
    # The next year's job grades big afresh.
    next_year = dt.datetime(2026, 1, 2, 10, tzinfo=SHANGHAI)
    assert grading.regrade_job(crm.as_(None, next_year).context)["graded"] == 4
