"""The call-center reports (DOMAIN.md §4.4) on a hand-computed fixture, their scopes, and their errors.

The period is March 2025 in Shanghai (``--from 2025-03-01 --to 2025-03-31``, i.e. [03-01 00:00, 04-01 00:00)
local). Calls and visits are written straight into the tables (core activity + call-center details), as the
call-logging service would leave them:

=====  ======  ========  ===================  ======  ======  ==================  =========
call   rep     customer  at (local)           stage   before  disposition         callback
=====  ======  ========  ===================  ======  ======  ==================  =========
c1     li      tea       02-10 10:00          0       —       connected
c2     li      milk      02-03 10:00          1       —       connected
c3     wang    shop      02-05 15:00          1       —       connected
c15    li      open2     02-28 23:59:59       1       —       connected           (just before --from)
c20    zhao    mart      02-20 10:00          1       —       connected
c4     li      tea       03-01 00:00:00       1       0       connected           (exactly --from: in)
c5     li      tea       03-10 10:00          2       1       visit_booked        03-12
c6     li      milk      03-05 09:00          2       1       connected           (30 days after c2: new)
c7     li      milk      03-20 10:00          3       2       deal
c8     li      open1     03-07 10:00          -1      —       refused
c9     li      open2     03-08 10:00          0       1       no_answer           03-09
c18    li      lead:99   03-11 10:00          1       —       connected           (a lead, no customer)
c10    wang    shop      03-06 10:00          0       1       busy                (29 days after c3: old)
c11    wang    shop      03-15 10:00          2       0       connected
c12    wang    open1     03-25 10:00          0       -1      connected
c13    wang    open3     03-31 23:59:59       1       —       (none)              (last second: in)
c16    zhao    mart      03-12 10:00          1       1       connected
c17    sun     plant     03-13 10:00          2       —       connected
c14    li      tea       04-01 00:00:00       4       2       deal                (day after --to: out)
=====  ======  ========  ===================  ======  ======  ==================  =========

Visits: v1 li tea 03-12 "met" (calls c4, c5); v2 li milk 03-21 "signed" disposition deal (c6, c7); v3 wang shop
03-16 "not_met" (c10, c11); v5 zhao mart 03-13 "met" (c16); v4 li tea 04-01 10:00 "met" (out). Won
opportunities: wang's on shop updated 03-18 (in), li's on tea updated 02-20 (out). Invalid numbers: li marks
tea 03-02 (corrected 03-04), open2 03-09 (open), milk 03-20 (corrected 04-02, after the period: open); wang
marks shop 02-20 (out) and open3 03-31 12:00 (open); zhao marks mart 03-15. Workspace ``other``: rep olga
calls and visits its own customer in March, with a deal.
"""

import datetime as dt

import pytest

from kehu.core.models import Activity, Opportunity, User, Workspace
from kehu.core.services.reports import run_report
from kehu.errors import Invalid, NotFound
from kehu.plugins.callcenter.models import CallcenterSettings, CallLog, InvalidPhone, VisitLog
from kehu.plugins.callcenter.reports import percent
from tests.plugins.callcenter.conftest import EAST_1, EAST_2, NORTH_1, SHANGHAI

MARCH = ("2025-03-01", "2025-03-31")
STAGES = [-1, 0, 1, 2, 3, 4]


def local(month, day, hour=10, minute=0, second=0):
    return dt.datetime(2025, month, day, hour, minute, second, tzinfo=SHANGHAI)


class Log:
    """Writes call-center rows of one workspace directly, consistent with the models' docstrings."""

    def __init__(self, crm, workspace="acme"):
        self.crm = crm
        self.workspace = Workspace.get(Workspace.name == workspace)

    def user(self, login):
        return User.get(User.workspace == self.workspace, User.login == login)

    def customer_id(self, key):
        return key if isinstance(key, int) else self.crm.customer(key)

    def activity(self, kind, rep, customer, at, entity=None):
        return Activity.create(workspace=self.workspace, kind=kind, subject=f"{kind} by {rep}", customer=customer,
                               entity=entity, user=self.user(rep), created_at=at, done_at=at)

    def call(self, rep, key, at, intent, before=None, disposition="connected", callback=None):
        customer = None if isinstance(key, str) and key.startswith("lead:") else self.customer_id(key)
        lead_id = int(key.split(":")[1]) if customer is None else None
        activity = self.activity("call", rep, customer, at, entity=key if customer is None else None)
        return CallLog.create(workspace=self.workspace, activity=activity, customer=customer, lead_id=lead_id,
                              rep=self.user(rep), at=at, intent=intent, intent_before=before,
                              disposition=disposition, callback_at=callback, phone="13900000000").id

    def visit(self, rep, key, at, result, disposition=None, calls=()):
        customer = self.customer_id(key)
        activity = self.activity("visit", rep, customer, at)
        return VisitLog.create(workspace=self.workspace, activity=activity, customer=customer, rep=self.user(rep),
                               at=at, result=result, disposition=disposition, calls=list(calls)).id

    def invalid(self, rep, key, at, corrected=None):
        InvalidPhone.create(workspace=self.workspace, phone_key="+86139", phone="139", customer=self.customer_id(key),
                            marked_by=self.user(rep), marked_at=at, corrected_at=corrected,
                            corrected_by=self.user(rep) if corrected else None,
                            corrected_to="13911111111" if corrected else None)

    def won(self, owner, key, at):
        Opportunity.create(workspace=self.workspace, customer=self.customer_id(key), name="deal", stage="won",
                           status="won", owner=self.user(owner), amount=1000, created_at=local(1, 5), updated_at=at)


@pytest.fixture
def logged(crm):
    log = Log(crm)
    log.call("li", "tea", local(2, 10), 0)
    log.call("li", "milk", local(2, 3), 1)
    log.call("wang", "shop", local(2, 5, 15), 1)
    log.call("li", "open2", local(2, 28, 23, 59, 59), 1)
    log.call("zhao", "mart", local(2, 20), 1)
    c4 = log.call("li", "tea", local(3, 1, 0), 1, 0)
    c5 = log.call("li", "tea", local(3, 10), 2, 1, "visit_booked", callback=local(3, 12))
    c6 = log.call("li", "milk", local(3, 5, 9), 2, 1)
    c7 = log.call("li", "milk", local(3, 20), 3, 2, "deal")
    log.call("li", "open1", local(3, 7), -1, None, "refused")
    log.call("li", "open2", local(3, 8), 0, 1, "no_answer", callback=local(3, 9))
    log.call("li", "lead:99", local(3, 11), 1)
    c10 = log.call("wang", "shop", local(3, 6), 0, 1, "busy")
    c11 = log.call("wang", "shop", local(3, 15), 2, 0)
    log.call("wang", "open1", local(3, 25), 0, -1)
    log.call("wang", "open3", local(3, 31, 23, 59, 59), 1, None, None)
    c16 = log.call("zhao", "mart", local(3, 12), 1, 1)
    log.call("sun", "plant", local(3, 13), 2)
    log.call("li", "tea", local(4, 1, 0), 4, 2, "deal")
    log.visit("li", "tea", local(3, 12, 14), "met", calls=[c4, c5])
    log.visit("li", "milk", local(3, 21), "signed", "deal", calls=[c6, c7])
    log.visit("wang", "shop", local(3, 16), "not_met", calls=[c10, c11])
    log.visit("zhao", "mart", local(3, 13), "met", calls=[c16])
    log.visit("li", "tea", local(4, 1), "met")
    log.won("wang", "shop", local(3, 18))
    log.won("li", "tea", local(2, 20))
    log.invalid("li", "tea", local(3, 2), corrected=local(3, 4))
    log.invalid("li", "open2", local(3, 9))
    log.invalid("li", "milk", local(3, 20), corrected=local(4, 2))
    log.invalid("wang", "shop", local(2, 20))
    log.invalid("wang", "open3", local(3, 31, 12))
    log.invalid("zhao", "mart", local(3, 15))
    other = Log(crm, "other")
    theirs = crm.app.workspace("other", user="root").customers.create(name="Other Co", source="公司资源")["id"]
    call = other.call("olga", theirs, local(3, 10), 3, None, "deal", callback=local(3, 11))
    other.visit("olga", theirs, local(3, 11), "met", "deal", calls=[call])
    other.invalid("olga", theirs, local(3, 12))
    return crm


def report(crm, name, login="m1", period=MARCH, unit=None, rep=None, workspace="acme"):
    context = crm.as_(login, workspace=workspace).context
    return run_report(context, name, *period, unit, rep)


def reps(result):
    return [row[0] for row in result["rows"]]


# --- the catalogue, errors, the CLI ---------------------------------------------------------------------


def test_reports_are_registered_with_descriptions(crm):
    listed = {r["name"]: r for r in crm.cli("m1").ok("reports")}
    names = ["visit-summary", "customer-stats", "invalid-phones", "call-performance", "conversion-rates",
             "conversion-snapshot", "conversion-process"]
    for name in names:
        assert listed[name]["plugin"] == "callcenter" and listed[name]["description"], name


def test_unknown_report_and_bad_dates(crm):
    with pytest.raises(NotFound):
        report(crm, "nosuch")
    with pytest.raises(Invalid):
        report(crm, "call-performance", period=("2025-13-01", "2025-03-31"))
    cli = crm.cli("m1")
    cli.fails("reports", "no-such-report", code="not_found")
    cli.fails("reports", "call-performance", "--from", "2025-03-32", code="invalid")
    cli.fails("reports", "call-performance", "--from", "2025-04-01", "--to", "2025-03-01", code="invalid")


def test_disabled_plugin_hides_its_reports(logged):
    logged.as_("admin").plugins.disable("callcenter")
    with pytest.raises(NotFound):
        report(logged, "call-performance")
    assert "call-performance" not in {r["name"] for r in logged.cli("m1").ok("reports")}


def test_cli_call_performance_json_and_csv(logged):
    cli = logged.cli("m1")
    result = cli.ok("reports", "call-performance", "--from", "2025-03-01", "--to", "2025-03-31")
    assert result["columns"] == ["rep", "unit", "calls", "connected", "customers_called", "visits", "deals",
                                 "callbacks"]
    assert result["rows"] == [["li", EAST_1, 7, 6, 4, 2, 2, 2], ["wang", EAST_1, 4, 3, 3, 1, 1, 0]]
    assert result["from"] == "2025-02-28T16:00:00+00:00" and result["to"] == "2025-03-31T16:00:00+00:00"
    csv_text = cli.text("reports", "conversion-rates", "--from", "2025-03-01", "--to", "2025-03-31", "--csv")
    assert csv_text.splitlines()[1:] == [f"li,{EAST_1},4,2,50.00,2,1,50.00", f"wang,{EAST_1},3,1,33.33,1,1,100.00"]
    table = cli.text("reports", "visit-summary", "--from", "2025-03-01", "--to", "2025-03-31", "--rep", "wang")
    assert "wang" in table and "li " not in table


# --- figures ----------------------------------------------------------------------------------------------


def test_call_performance_figures_and_period_edges(logged):
    # li: c4 (at --from), c5, c6, c7, c8, c9, c18 (a lead); not c14 (day after --to) nor c15 (a second early).
    # Connected: all but c9 (no answer). Deals: c7 + v2; li's won opportunity closed in February.
    # wang: c10 (busy), c11, c12, c13 (last second, no disposition = connected); deal: the won opportunity.
    assert report(logged, "call-performance")["rows"] == [
        ["li", EAST_1, 7, 6, 4, 2, 2, 2], ["wang", EAST_1, 4, 3, 3, 1, 1, 0]]
    assert report(logged, "call-performance", period=("2025-04-01", "2025-04-01"))["rows"] == [
        ["li", EAST_1, 1, 1, 1, 1, 1, 0]]


def test_visit_summary(logged):
    result = report(logged, "visit-summary")
    assert result["columns"] == ["rep", "unit", "visits", "result met", "result not_met", "result signed",
                                 "customers_visited", "calls_before_visits"]
    assert result["rows"] == [["li", EAST_1, 2, 1, 0, 1, 2, 4], ["wang", EAST_1, 1, 0, 1, 0, 1, 2]]


def test_invalid_phones(logged):
    result = report(logged, "invalid-phones")
    assert result["columns"] == ["rep", "unit", "marked", "corrected", "open"]
    # milk's number was corrected after the period end: still open as of then.
    assert result["rows"] == [["li", EAST_1, 3, 1, 2], ["wang", EAST_1, 1, 0, 1]]
    assert result["total"] == ["total", None, 4, 1, 3]
    assert report(logged, "invalid-phones", "d1")["total"] == ["total", None, 5, 1, 4]


def test_conversion_rates_per_rep_and_total(logged):
    result = report(logged, "conversion-rates")
    # li called tea, milk, open1, open2 (2 visited: 50%); visited tea, milk (milk's deal: 50%).
    # wang called shop, open1, open3 (shop visited: 33.33%); visited shop (won: 100%).
    assert result["rows"] == [["li", EAST_1, 4, 2, "50.00", 2, 1, "50.00"],
                              ["wang", EAST_1, 3, 1, "33.33", 1, 1, "100.00"]]
    # Distinct customers over both (open1 once): 6 called, 3 visited; 3 visited, 2 deals.
    assert result["total"] == ["total", None, 6, 3, "50.00", 3, 2, "66.67"]
    # sun called plant, nobody visited it: 0.00, and no visit at all: no rate (None).
    assert report(logged, "conversion-rates", "gm", rep="sun")["rows"] == [
        ["sun", NORTH_1, 1, 0, "0.00", 0, 0, None]]
    empty = report(logged, "conversion-rates", period=("2024-01-01", "2024-01-31"))
    assert empty["rows"] == [] and empty["total"] == ["total", None, 0, 0, None, 0, 0, None]


def test_percent_is_exact_and_rounds_half_up():
    assert [percent(2, 3), percent(1, 3), percent(0, 5), percent(5, 5), percent(1, 8), percent(1, 800)] == [
        "66.67", "33.33", "0.00", "100.00", "12.50", "0.13"]
    assert percent(1, 0) is None and percent(0, 0) is None


def test_customer_stats(logged):
    result = report(logged, "customer-stats")
    assert result["customers"] == 6  # tea, milk, open1, open2 (li); shop, open3 (wang); not the lead
    assert result["by_source"]["rows"] == [["CSC网单", 1], ["公司资源", 4], ["老客户介绍", 1]]
    # Latest call before the end: tea 2 (c5; c14 is after), milk 3, open1 0 (wang's c12), open2 0, shop 2, open3 1.
    stages = {row[0]: row[2] for row in result["by_stage"]["rows"]}
    assert stages == {-1: 0, 0: 2, 1: 1, 2: 2, 3: 1, 4: 0}
    assert result["columns"] == ["rep", "unit", "month", "customers", "new", "old"]
    # li: milk new (exactly 30 days after c2), open1 new (first call), tea old (19 days), open2 old (8 days).
    # wang: shop old (29 days), open1 new (li's calls do not count for wang), open3 new.
    assert result["rows"] == [["li", EAST_1, "2025-03", 4, 2, 2], ["wang", EAST_1, "2025-03", 3, 2, 1]]


def test_new_old_follows_the_settings_and_whole_months(logged):
    CallcenterSettings.create(workspace=logged.workspace_row(),
                              document={"new_customer": {"gap_days": 30, "inclusive": False}})
    assert report(logged, "customer-stats", rep="li")["rows"] == [["li", EAST_1, "2025-03", 4, 1, 3]]
    # Two months touched: each is classified over the whole calendar month.
    result = report(logged, "customer-stats", "gm", period=("2025-02-15", "2025-03-31"), unit=EAST_1)
    assert [row for row in result["rows"] if row[2] == "2025-02"] == [
        ["li", EAST_1, "2025-02", 3, 3, 0], ["wang", EAST_1, "2025-02", 1, 1, 0]]


def test_visits_are_follow_ups_too(logged):
    fresh = logged.as_("admin").customers.create(name="常州新客户", source="公司资源")["id"]
    log = Log(logged)
    log.visit("zhao", "open2", local(3, 14), "met")  # li called open2; zhao only visits it
    log.visit("zhao", fresh, local(3, 15), "met")  # never called: no intent stage
    result = report(logged, "customer-stats", "d1", unit=EAST_2)
    assert result["customers"] == 3
    assert result["by_source"]["rows"] == [["个人搜索-公共资源", 1], ["公司资源", 2]]
    # mart old (c20 was 20 days before); open2 and the fresh customer new for zhao.
    assert result["rows"] == [["zhao", EAST_2, "2025-03", 3, 2, 1]]
    stages = {row[0]: row[2] for row in result["by_stage"]["rows"]}
    assert stages == {-1: 0, 0: 1, 1: 1, 2: 0, 3: 0, 4: 0, "none": 1}  # open2 0 (li's c9), mart 1


def test_conversion_snapshot(logged):
    result = report(logged, "conversion-snapshot")
    assert result["columns"] == ["rep", "unit", *[f"stage {s}" for s in STAGES], "customers"]
    # Each customer under the rep of its latest call: open1 under wang (c12), though li called it first.
    assert result["rows"] == [["li", EAST_1, 0, 1, 0, 1, 1, 0, 3], ["wang", EAST_1, 0, 1, 1, 1, 0, 0, 3]]
    assert result["total"] == ["total", None, 0, 2, 1, 2, 1, 0, 6]
    # As of the end of March 31 plus a day, c14 moves tea to stage 4.
    later = report(logged, "conversion-snapshot", period=("2025-03-01", "2025-04-01"), rep="li")
    assert later["rows"] == [["li", EAST_1, 0, 1, 0, 0, 1, 1, 3]]


def test_conversion_process(logged):
    result = report(logged, "conversion-process")
    assert result["columns"] == ["from", *[f"to {s}" for s in STAGES], "up", "down", "unchanged", "entered",
                                 "customers"]
    rows = {row[0]: row[1:] for row in result["rows"]}
    # Start (latest call before 03-01 00:00): tea 0, milk 1, open2 1 (c15, a second early), shop 1; open1 and
    # open3 none. End: tea 2, milk 3, open1 0, open2 0, shop 2, open3 1.
    assert rows["none"] == [0, 1, 1, 0, 0, 0, 0, 0, 0, 2, 2]
    assert rows[0] == [0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 1]
    assert rows[1] == [0, 1, 0, 1, 1, 0, 2, 1, 0, 0, 3]
    assert all(sum(rows[s]) == 0 for s in (-1, 2, 3, 4))
    assert result["totals"] == {"up": 3, "down": 1, "unchanged": 0, "entered": 2, "customers": 6}
    # gm adds zhao's mart (1 → 1) and sun's plant (none → 2).
    assert report(logged, "conversion-process", "gm")["totals"] == {
        "up": 3, "down": 1, "unchanged": 1, "entered": 3, "customers": 8}


# --- scopes -----------------------------------------------------------------------------------------------


def test_scopes_and_filters(logged):
    assert reps(report(logged, "call-performance", "li")) == ["li"]
    assert reps(report(logged, "call-performance", "d1")) == ["li", "wang", "zhao"]
    assert report(logged, "call-performance", "gm")["rows"] == [
        ["li", EAST_1, 7, 6, 4, 2, 2, 2], ["sun", NORTH_1, 1, 1, 1, 0, 0, 0], ["wang", EAST_1, 4, 3, 3, 1, 1, 0],
        ["zhao", EAST_2, 1, 1, 1, 1, 0, 0]]
    assert reps(report(logged, "call-performance", "m2")) == ["sun"]
    assert reps(report(logged, "call-performance", "gm", unit=EAST_2)) == ["zhao"]
    assert reps(report(logged, "call-performance", "gm", unit="总公司/华东")) == ["li", "wang", "zhao"]
    assert reps(report(logged, "call-performance", rep="wang")) == ["wang"]
    assert report(logged, "call-performance", rep="sun")["rows"] == []  # outside m1's unit: nothing
    assert reps(report(logged, "call-performance", "finance")) == ["li", "sun", "wang", "zhao"]


def test_a_rep_sees_only_their_own_figures_in_every_report(logged):
    assert reps(report(logged, "visit-summary", "li")) == ["li"]
    assert report(logged, "invalid-phones", "li")["total"] == ["total", None, 3, 1, 2]
    assert report(logged, "conversion-rates", "li")["total"] == ["total", None, 4, 2, "50.00", 2, 1, "50.00"]
    assert report(logged, "conversion-snapshot", "li")["total"] == ["total", None, 0, 1, 0, 1, 1, 0, 3]
    stats = report(logged, "customer-stats", "li")
    assert stats["customers"] == 4 and reps(stats) == ["li"]
    assert report(logged, "conversion-process", "li")["totals"]["customers"] == 4  # tea, milk, open1, open2
    assert reps(report(logged, "call-performance", "wang")) == ["wang"]


NAMES = ["visit-summary", "customer-stats", "invalid-phones", "call-performance", "conversion-rates",
         "conversion-snapshot", "conversion-process"]


def test_another_workspace_never_appears(logged):
    for name in NAMES:
        assert "olga" not in reps(report(logged, name, "gm")), name
    assert report(logged, "conversion-process", "gm")["totals"]["customers"] == 8
    assert report(logged, "customer-stats", "gm")["customers"] == 8
    assert report(logged, "conversion-rates", "gm")["total"] == ["total", None, 8, 4, "50.00", 4, 2, "50.00"]
    # And the other way round: olga's workspace sees only olga.
    theirs = {name: report(logged, name, "root", workspace="other") for name in NAMES}
    assert theirs["call-performance"]["rows"] == [["olga", None, 1, 1, 1, 1, 2, 1]]
    assert theirs["conversion-rates"]["total"] == ["total", None, 1, 1, "100.00", 1, 1, "100.00"]
    assert theirs["invalid-phones"]["total"] == ["total", None, 1, 0, 1]
    assert theirs["conversion-process"]["totals"]["customers"] == 1
    assert theirs["customer-stats"]["rows"] == [["olga", None, "2025-03", 1, 1, 0]]
