"""Field visits: a core visit activity plus its details, linked to the rep's calls since their previous visit."""

import datetime as dt

import pytest

from kehu.core.models import Activity
from kehu.errors import Invalid, PermissionDenied
from kehu.plugins.callcenter.models import VisitLog

from .conftest import T0

HOUR = dt.timedelta(hours=1)


def test_a_visit_is_a_core_activity_linked_to_the_calls_before_it(crm):
    tea = crm.customer("tea")
    first = crm.as_("li").calls.log(tea, 1)["call"]
    second = crm.as_("li", HOUR).calls.log(tea, 2)["call"]
    crm.as_("m1", HOUR).calls.log(tea, 2)  # another rep's call is not this rep's lead-up
    visit = crm.as_("li", 5 * HOUR).visits.log(tea, "met", purpose="demo", contact="王总", next_step="quote",
                                               at="2025-03-03T13:00", notes="went well")
    assert visit["calls"] == [first, second]
    assert (visit["rep"], visit["at"], visit["result"], visit["contact"]) == ("li", "2025-03-03T05:00:00+00:00",
                                                                              "met", "王总")
    activity = Activity.get_by_id(visit["activity"])
    assert (activity.kind, activity.customer_id, activity.user_id) == ("visit", tea, crm.uid("li"))
    assert (activity.done_at, activity.notes) == (T0 + 3 * HOUR, "went well")
    third = crm.as_("li", 6 * HOUR).calls.log(tea, 3)["call"]
    later = crm.as_("li", 7 * HOUR).visits.log(tea, "deal", disposition="deal")
    assert later["calls"] == [third] and later["disposition"] == "deal"
    assert [e.entity_id for e in crm.events("visit.logged")] == [str(visit["visit"]), str(later["visit"])]


def test_bad_visits_are_refused_and_store_nothing(crm):
    li, tea = crm.as_("li"), crm.customer("tea")
    with pytest.raises(Invalid, match="result: Must be one of: met, not_met, deal, follow_up"):
        li.visits.log(tea, "great")
    with pytest.raises(Invalid, match="in the future"):
        li.visits.log(tea, "met", at="2025-03-04T10:00")
    with pytest.raises(Invalid, match="disposition must be one of"):
        li.visits.log(tea, "met", disposition="lunch")
    with pytest.raises(PermissionDenied):
        li.visits.log(crm.customer("shop"), "met")
    assert VisitLog.select().count() == 0 and Activity.select().count() == 0


def test_the_list_is_scoped_and_filtered(crm):
    crm.as_("li").visits.log(crm.customer("tea"), "met")
    crm.as_("wang", HOUR).visits.log(crm.customer("shop"), "not_met")
    crm.as_("sun", 2 * HOUR).visits.log(crm.customer("plant"), "follow_up")
    assert [v["rep"] for v in crm.as_("li").visits.list()] == ["li"]
    assert [v["rep"] for v in crm.as_("m1").visits.list()] == ["wang", "li"]
    assert [v["rep"] for v in crm.as_("gm").visits.list()] == ["sun", "wang", "li"]
    assert [v["rep"] for v in crm.as_("gm").visits.list(rep="wang")] == ["wang"]
    assert [v["customer_name"] for v in crm.as_("gm").visits.list(customer=crm.customer("plant"))] == ["北京机械厂"]
    assert crm.as_("olga", workspace="other").visits.list() == []
