"""Listing customers: limit/offset (0 = all), filters, and search that ignores phone and company-name formatting."""

import pytest

import kehu


@pytest.fixture
def book(as_, owned):
    """Besides ``owned``: seven more customers, some with phones, e-mails, regions and industries."""
    admin = as_("admin")
    extra = [
        {"name": "杭州茶叶有限公司", "phone": "13800138000", "region": "华东", "industry": "茶叶", "owner": "li"},
        {"name": "北京乳业", "phone": "010-6552 1234", "region": "华北", "industry": "乳业", "owner": "sun"},
        {"name": "Shanghai Dairy Co., Ltd.", "email": "Buyer@Dairy.CN", "region": "华东", "industry": "乳业",
         "owner": "wang"},
        {"name": "苏州丝绸", "region": "华东", "owner": "zhao"},
        {"name": "天津港务", "region": "华北", "owner": "sun"},
        {"name": "A-B 贸易", "region": "华南", "owner": "li"},
        {"name": "南京电气", "region": "华东", "owner": "m1"},
    ]
    names = {}
    for fields in extra:
        names[fields["name"]] = admin.customers.create(**fields)["id"]
    return {**owned, **names}


def names_of(rows):
    return [row["name"] for row in rows]


def test_limit_and_offset_page_in_id_order_and_limit_zero_is_all(as_, book):
    admin = as_("admin")
    everything = admin.customers.list(limit=0)
    assert len(everything) == len(book) == 12
    assert [c["id"] for c in everything] == sorted(book.values())
    assert admin.customers.list(limit=5) == everything[:5]
    assert admin.customers.list(limit=5, offset=5) == everything[5:10]
    assert admin.customers.list(limit=5, offset=10) == everything[10:]
    assert admin.customers.list(limit=5, offset=12) == []
    assert admin.customers.list(limit=0, offset=0) == everything
    assert admin.customers.list(limit=0, offset=10) == everything[10:]  # no limit, but the offset applies
    assert admin.customers.list(limit=0, offset=12) == []
    assert len(admin.customers.list()) == 12  # the default page (100) holds them all


def test_filters(as_, book):
    admin = as_("admin")
    assert set(names_of(admin.customers.list(owner="li", limit=0))) == {"li的客户", "杭州茶叶有限公司", "A-B 贸易"}
    assert set(names_of(admin.customers.list(region="华北", limit=0))) == {"北京乳业", "天津港务"}
    assert set(names_of(admin.customers.list(industry="乳业", region="华东", limit=0))) == \
        {"Shanghai Dairy Co., Ltd."}
    assert admin.customers.list(region="西北") == []
    with pytest.raises(kehu.NotFound):
        admin.customers.list(owner="nobody")


def test_filters_never_widen_the_scope(as_, book):
    assert as_("li").customers.list(owner="wang") == []
    assert set(names_of(as_("li").customers.list(region="华东", limit=0))) == {"li的客户", "杭州茶叶有限公司"}
    assert set(names_of(as_("m1").customers.list(owner="li", limit=0))) == {"li的客户", "杭州茶叶有限公司",
                                                                             "A-B 贸易"}
    assert as_("m1").customers.list(owner="zhao") == []


@pytest.mark.parametrize("term", ["+86 138-0013-8000", "0086 13800138000", "138 0013 8000", "(138)00138000",
                                  "13800138000"])
def test_search_finds_a_phone_whatever_its_format(as_, book, term):
    assert names_of(as_("admin").customers.list(search=term)) == ["杭州茶叶有限公司"]
    assert names_of(as_("li").customers.list(search=term)) == ["杭州茶叶有限公司"]
    assert as_("wang").customers.list(search=term) == []  # not theirs


def test_search_finds_a_landline_typed_differently(as_, book):
    assert names_of(as_("admin").customers.list(search="010 65521234")) == ["北京乳业"]


@pytest.mark.parametrize("term, expected", [
    ("茶叶", ["杭州茶叶有限公司"]),
    ("杭州茶叶股份有限公司", ["杭州茶叶有限公司"]),  # another legal suffix of the same company
    ("shanghai dairy", ["Shanghai Dairy Co., Ltd."]),
    ("SHANGHAI DAIRY LIMITED", ["Shanghai Dairy Co., Ltd."]),
    ("buyer@dairy.cn", ["Shanghai Dairy Co., Ltd."]),
    ("BUYER@DAIRY.CN", ["Shanghai Dairy Co., Ltd."]),
    ("A-B", ["A-B 贸易"]),
    ("没有这家", []),
])
def test_search_by_name_and_email(as_, book, term, expected):
    assert names_of(as_("admin").customers.list(search=term, limit=0)) == expected


@pytest.mark.parametrize("term", ["-", "()", " . "])
def test_a_search_of_punctuation_only_does_not_match_everything(as_, book, term):
    # The name filter still applies literally ("-" is in "A-B 贸易"); the normalised-name filter must not
    # degenerate into "every name contains the empty key".
    found = names_of(as_("admin").customers.list(search=term, limit=0))
    assert len(found) < len(book)
    assert all(term.strip() in name for name in found)


def test_every_list_pages_the_same_way(crm, as_, book):
    admin = as_("admin")
    for customer_id in (book["li"], book["wang"], book["zhao"]):
        admin.activities.log("note", "备注", customer=customer_id)
        admin.opportunities.create(customer_id, "商机", "初步接触")
        admin.contacts.add(book["li"], f"联系人{customer_id}")
    admin.activities.log("task", "到期任务", customer=book["li"], due="2026-11-24T09:00")
    admin.activities.log("task", "又一个", customer=book["li"], due="2026-11-24T09:00")
    crm.app.tick(now="2026-11-25T09:00")

    listings = {
        "users": lambda **page: admin.users.list(**page),
        "org units": lambda **page: admin.org.list(**page),
        "activities": lambda **page: admin.activities.list(**page),
        "opportunities": lambda **page: admin.opportunities.list(**page),
        "contacts": lambda **page: admin.contacts.list(book["li"], **page),
        "audit": lambda **page: admin.audit.list(**page),
        "inbox": lambda **page: admin.inbox.list(**page),
    }
    for name, listing in listings.items():
        everything = listing(limit=0)
        assert len(everything) >= 2, name
        assert listing(limit=1) == everything[:1], name
        assert listing(limit=1, offset=1) == everything[1:2], name
        assert listing(limit=0, offset=1) == everything[1:], name
        assert listing(limit=0, offset=len(everything)) == [], name
    units = admin.org.list(limit=0)
    assert [u["path"] for u in units] == sorted(u["path"] for u in units)
