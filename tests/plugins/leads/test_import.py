"""``kehu leads import``: a dirty file end to end, encodings, header mapping and presets, duplicates inside the
file and against the database, re-runs, --dry-run, the errors file, permissions and the bad-input exits.

Files are written by each test (the bytes are the point: encodings, BOMs, line breaks inside quotes). The CLI
runs in-process (``make_cli()`` with ``--db``) on the test's SQLite file or PostgreSQL database.
"""

import csv
import io
import os

import pytest

from kehu.testing import KehuCli
from kehu.core.models import Event
from kehu.plugins.leads import importer
from kehu.plugins.leads.models import HELD, IN_POOL, Lead, LeadTransition

KEHU_ENV = ("KEHU_DB", "KEHU_WORKSPACE", "KEHU_USER", "KEHU_DEBUG")
T0_TEXT = "2025-03-03T10:00:00"  # the conftest's T0, zoneless (Shanghai time)
COUNTS = ("inserted", "updated", "skipped", "rejected")


@pytest.fixture(autouse=True)
def _no_kehu_environment(monkeypatch):
    for name in KEHU_ENV:
        monkeypatch.delenv(name, raising=False)


# --- helpers ----------------------------------------------------------------------------------------------


@pytest.fixture
def kehu(crm):
    return KehuCli(crm.app, workspace="acme", user="admin", now=T0_TEXT)


def write(path, text, encoding="utf-8", newline="\n"):
    """Write ``text`` (lines joined by ``newline``) in ``encoding``; returns the path as a string."""
    data = text.replace("\n", newline).encode(encoding)
    path.write_bytes(data)
    return str(path)


def read_errors(path):
    """The errors file as rows (header first), read as the UTF-8 it is (its BOM dropped)."""
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle))


def leads_of(crm, workspace="acme"):
    return list(Lead.select().where(Lead.workspace == crm.workspace_row(workspace)).order_by(Lead.id))


def by_name(crm):
    return {lead.name: lead for lead in leads_of(crm)}


def snapshot(crm):
    ws = crm.workspace_row()
    return {model.__name__: model.select().where(model.workspace == ws).count()
            for model in (Lead, LeadTransition, Event)}


def data_rows(result):
    return sum(result[key] for key in COUNTS)


# The dirty file of the first tests. Line numbers (the header is line 1) are in the comments; line 9-10 is
# one record whose quoted company spans two lines, so the rows after it start one line later than they sit.
DIRTY = """name,company,phone,email,region,industry,source,备注
张三,杭州茶叶有限公司,13800138000,zs@example.com,浙江,食品,公司资源,first
李四,杭州茶叶有限公司,0571-87654321,,浙江,食品,公司资源,
,无名公司,13900000001,,,,,no name
王五,五金厂,12ab,,,,,bad phone
赵六,六六公司,13900000002,not-an-email,,,,bad mail
张三二,另一家,+86 138-0013-8000,,,,,same mobile as line 2
老客户,老公司,13700000000,,,,,already in the database
孙七,"两行
公司",13900000003,,,,,multi-line
周八,,139-0000-0004,,,,,after the multi-line record
吴九,,abc,,,,,bad phone after it
郑十,公司,13900000005,,,,,extra,cells
钱一,无手机公司,,,江苏,,,no phone at all
"""


# --- the dirty import -------------------------------------------------------------------------------------


def test_a_dirty_file_keeps_every_good_row_and_reports_each_bad_one_with_its_line(crm, kehu, tmp_path):
    existing = crm.add_leads(1, phone="13700000000")[0]  # line 8 duplicates it
    before = snapshot(crm)
    path = write(tmp_path / "leads.csv", DIRTY)
    errors = str(tmp_path / "bad.csv")

    result = kehu.ok("leads", "import", path, "--errors", errors)

    assert result == {"inserted": 5, "updated": 0, "skipped": 1, "rejected": 6, "errors_file": errors,
                      "unmapped": ["备注"]}
    assert data_rows(result) == 12  # nothing lost: every data row is counted once
    rows = read_errors(errors)
    assert rows[0] == ["name", "company", "phone", "email", "region", "industry", "source", "备注", "line",
                       "error"]
    assert [(r[-2], r[-1]) for r in rows[1:]] == [
        ("4", "name is missing"),
        ("5", "phone: '12ab' is not a phone number"),
        ("6", "email: 'not-an-email' is not an e-mail address"),
        ("7", "duplicate of line 2 of this file"),
        ("12", "phone: 'abc' is not a phone number"),
        ("13", "has 9 values but the header has 8 columns"),
    ]
    # A rejected row is written back as read, so it can be fixed and imported again.
    assert rows[2][:8] == ["王五", "五金厂", "12ab", "", "", "", "", "bad phone"]

    stored = by_name(crm)
    assert set(stored) - {crm.lead(existing).name} == {"张三", "李四", "孙七", "周八", "钱一"}
    assert stored["孙七"].company == "两行\n公司"  # the quoted line break is kept
    assert stored["张三"].phone_key == "+8613800138000" and stored["张三"].phone_mobile
    assert stored["张三"].email_key == "zs@example.com" and stored["张三"].company_key == "杭州茶叶"
    assert stored["李四"].phone_key == "+8657187654321" and not stored["李四"].phone_mobile
    assert stored["钱一"].region == "江苏" and stored["钱一"].phone is None
    assert all(lead.state == IN_POOL and lead.holder_id is None for lead in stored.values())
    assert crm.pool().id == stored["张三"].pool_id
    # Every inserted lead has its history and audit rows.
    assert snapshot(crm)["Lead"] - before["Lead"] == 5
    assert snapshot(crm)["LeadTransition"] - before["LeadTransition"] == 5
    assert [t.reason for t in crm.transitions(stored["张三"].id)] == ["imported"]
    # One audit event per batch, listing its ids (DESIGN decision 10), not one per row.
    [batch] = crm.events("lead.imported")
    assert batch.entity_id is None and batch.after["count"] == 5
    assert sorted(batch.after["ids"]) == sorted(lead.id for lead in stored.values() if lead.id != existing)


def test_the_same_file_twice_inserts_nothing_new(crm, kehu, tmp_path):
    path = write(tmp_path / "leads.csv", DIRTY + "钱一,无手机公司,,,江苏,,,same as line 14 and no phone\n"
                                                 "李四,杭州茶叶 有限公司,057187654321,,,,,landline only again\n")
    first = kehu.ok("leads", "import", path)
    count = len(leads_of(crm))
    second = kehu.ok("leads", "import", path)

    assert first["inserted"] == 6 and second["inserted"] == 0  # 老客户 too: not in the database here
    assert len(leads_of(crm)) == count
    assert second["skipped"] == first["inserted"] + first["skipped"]
    assert second["rejected"] == first["rejected"]
    assert data_rows(first) == data_rows(second) == 14
    # Rows without e-mail or mobile are matched on name + company + phone, inside the file and on re-runs.
    errors = read_errors(first["errors_file"])
    assert [r[-2:] for r in errors[1:] if r[0] in ("钱一", "李四")] == [
        ["15", "duplicate of line 14 of this file"], ["16", "duplicate of line 3 of this file"]]
    assert read_errors(second["errors_file"])[1:] == errors[1:]


def test_duplicates_inside_the_file_are_found_across_batches_too(crm, tmp_path):
    lines = ["name,company,phone,email"]
    lines += [f"客户{i},公司{i},1390000{i:04d}," for i in range(6)]
    lines += ["重复,公司0,139-0000-0000,", "邮箱,公司,,a@example.com", "邮箱二,公司,,A@Example.com",
              "座机,公司甲,0571-8888 8888,", "座机,公司甲有限公司,057188888888,"]
    path = write(tmp_path / "leads.csv", "\n".join(lines) + "\n")
    handle = crm.admin()

    first = handle.leads.import_csv(path, batch_size=2)
    second = handle.leads.import_csv(path, batch_size=2)

    assert (first["inserted"], first["rejected"]) == (8, 3)
    assert (second["inserted"], second["skipped"], second["rejected"]) == (0, 8, 3)
    first_errors = [r[-2:] for r in read_errors(first["errors_file"])[1:]]
    second_errors = [r[-2:] for r in read_errors(second["errors_file"])[1:]]
    assert [line for line, _ in first_errors] == [line for line, _ in second_errors] == ["8", "10", "12"]
    # Batches of two: lines 2-3, 4-5, 6-7, 8-9, 10-11, 12. Each duplicate's first line is in an earlier batch.
    stored = by_name(crm)
    assert first_errors == [[line, f"duplicate of an earlier line of this file (lead {stored[name].id})"]
                            for line, name in (("8", "客户0"), ("10", "邮箱"), ("12", "座机"))]


# --- encodings ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["gbk", "gb18030"])
def test_a_gbk_file_with_chinese_headers(crm, kehu, tmp_path, encoding):
    text = ("联系人,客户名称,手机,邮箱,地区,行业,来源,负责人\n"
            "张三,杭州茶叶有限公司,13800138000,zs@example.com,浙江,食品,老客户介绍,\n"
            "李四,宁波五金股份有限公司,13800138001,,浙江,制造,公司资源,\n")
    path = write(tmp_path / "gbk.csv", text, encoding, newline="\r\n")
    result = kehu.ok("leads", "import", path)
    assert result["inserted"] == 2 and result["rejected"] == 0 and result["unmapped"] == []
    stored = by_name(crm)
    # With both 联系人 and 客户名称, the latter is the company (Decision 10).
    assert stored["张三"].company == "杭州茶叶有限公司"
    assert stored["张三"].source == "老客户介绍" and stored["张三"].region == "浙江"
    assert stored["李四"].industry == "制造" and stored["李四"].company_key == "宁波五金"


def test_customer_name_alone_is_the_name(crm, kehu, tmp_path):
    path = write(tmp_path / "c.csv", "客户名称,电话,省份\n杭州茶叶有限公司,0571-87654321,浙江\n", "gb18030")
    assert kehu.ok("leads", "import", path)["inserted"] == 1
    lead = leads_of(crm)[0]
    assert lead.name == "杭州茶叶有限公司" and lead.company is None and lead.region == "浙江"


def test_utf8_with_bom_and_mixed_headers(crm, kehu, tmp_path):
    path = write(tmp_path / "bom.csv", "\ufeff Name ,公司,手机号,E-mail Address\n王五,某公司,13900000000,w@x.cn\n",
                 newline="\r\n")
    result = kehu.ok("leads", "import", path)
    assert result["inserted"] == 1 and result["unmapped"] == ["E-mail Address"]
    lead = leads_of(crm)[0]
    assert (lead.name, lead.company, lead.phone, lead.email) == ("王五", "某公司", "13900000000", None)


def test_a_mobile_column_wins_over_a_landline_column(crm, kehu, tmp_path):
    path = write(tmp_path / "two.csv", "姓名,电话,手机\n甲,0571-87654321,13800138000\n乙,0571-87654322,\n")
    assert kehu.ok("leads", "import", path)["inserted"] == 2
    stored = by_name(crm)
    assert stored["甲"].phone == "13800138000" and stored["乙"].phone == "0571-87654322"


def test_a_line_that_does_not_decode_rejects_only_its_row(crm, kehu, tmp_path):
    data = ("name,company\n张三,杭州茶叶\n".encode() + b"bad\xff\xfe,x\n" + "李四,宁波五金\n".encode())
    path = tmp_path / "mixed.csv"
    path.write_bytes(data)
    result = kehu.ok("leads", "import", str(path))
    assert (result["inserted"], result["rejected"]) == (2, 1)
    assert [r[-2:] for r in read_errors(result["errors_file"])[1:]] == [["3", "line 3 is not valid UTF-8 text"]]
    assert set(by_name(crm)) == {"张三", "李四"}


def test_an_ascii_start_then_gbk_is_read_as_gbk(crm, tmp_path):
    lines = ["name,company,phone"] + [f"lead{i},acme,1390000{i:04d}" for i in range(4000)] + ["张三,公司,13800138000"]
    path = write(tmp_path / "late.csv", "\n".join(lines) + "\n", "gbk")
    assert os.path.getsize(path) > importer.SAMPLE
    result = crm.admin().leads.import_csv(path)
    assert (result["inserted"], result["rejected"]) == (4001, 0)
    assert "张三" in by_name(crm)


@pytest.mark.parametrize("data", [b"name,company\n\xff\xfe\xfd,\x80\x81\n", "name\n张三\n".encode("utf-16")])
def test_a_file_that_is_neither_utf8_nor_gbk_is_invalid(crm, kehu, tmp_path, data):
    path = tmp_path / "binary.csv"
    path.write_bytes(data)
    before = snapshot(crm)
    message = kehu.fails("leads", "import", str(path))
    assert "UTF-8" in message
    assert snapshot(crm) == before
    assert not os.path.exists(tmp_path / "binary.errors.csv")


# --- header mapping -----------------------------------------------------------------------------------------


def test_map_with_a_custom_mapping(crm, kehu, tmp_path):
    path = write(tmp_path / "m.csv", "Contact Name,Company Name,Email,Phone,Notes,Website\n"
                                     "Jane Doe,Acme Ltd,jane@acme.com,+1 415 555 0100,vip,acme.com\n")
    result = kehu.ok("leads", "import", path, "--map",
                     "Contact Name=name,Company Name=company,Email=email,Phone=phone,Website=-")
    assert result["inserted"] == 1 and result["unmapped"] == ["Notes"]  # Website dropped on purpose
    lead = leads_of(crm)[0]
    assert (lead.name, lead.company, lead.email) == ("Jane Doe", "Acme Ltd", "jane@acme.com")
    assert lead.phone_key == "+14155550100" and lead.company_key == "acme"


def test_map_odoo_preset(crm, kehu, tmp_path):
    header = ("Opportunity,Contact Name,Company Name,Email,Phone,Mobile,City,State,Country,Source,Salesperson,"
              "Sales Team")
    path = write(tmp_path / "odoo.csv", header + "\n"
                 "Tea order,张三,杭州茶叶有限公司,zs@tea.cn,0571-87654321,13800138000,杭州,浙江,China,Website,"
                 "Mitchell Admin,Sales\n"
                 "Bulk screws,,宁波五金,,0574-88888888,,宁波,,China,Trade show,Mitchell Admin,Sales\n")
    result = kehu.ok("leads", "import", path, "--map", "odoo")
    assert result["inserted"] == 2 and result["rejected"] == 0
    assert result["unmapped"] == ["Country", "Salesperson", "Sales Team"]
    first, second = leads_of(crm)
    assert (first.name, first.company, first.email, first.phone, first.region, first.source) == (
        "张三", "杭州茶叶有限公司", "zs@tea.cn", "13800138000", "浙江", "Website")
    # No contact name: the lead's title names it; no mobile: the phone; no state: the city.
    assert (second.name, second.phone, second.region) == ("Bulk screws", "0574-88888888", "宁波")


def test_map_salesforce_preset(crm, kehu, tmp_path):
    header = "First Name,Last Name,Title,Company,Email,Phone,Mobile,State/Province,Industry,Lead Source,Lead Status"
    path = write(tmp_path / "sf.csv", header + "\n"
                 "Jane,Doe,CTO,Acme Inc,jane@acme.com,,+1 415 555 0101,CA,Software,Web,Open\n"
                 "三,张,经理,杭州茶叶有限公司,,0571-87654321,13800138000,浙江,Food,Trade Show,Open\n"
                 ",Lee,,Solo LLC,lee@solo.com,,,,,,Open\n")
    result = kehu.ok("leads", "import", path, "--map", "salesforce")
    assert result["inserted"] == 3 and result["unmapped"] == ["Title", "Lead Status"]
    stored = by_name(crm)
    assert set(stored) == {"Jane Doe", "张三", "Lee"}  # first + last name; a Chinese name family name first
    assert stored["张三"].phone == "13800138000" and stored["张三"].industry == "Food"
    assert stored["Jane Doe"].region == "CA" and stored["Jane Doe"].source == "Web"


def test_map_can_combine_a_preset_and_items(crm, kehu, tmp_path):
    path = write(tmp_path / "sf.csv", "First Name,Last Name,Company,Mobile,Rating\nJane,Doe,Acme,13800138000,Hot\n")
    result = kehu.ok("leads", "import", path, "--map", "salesforce", "--map", "Rating=industry")
    assert result["unmapped"] == [] and leads_of(crm)[0].industry == "Hot"


def test_unmapped_columns_are_reported_once(crm, kehu, tmp_path):
    lines = ["name,phone,微信,QQ"] + [f"客户{i},1390000{i:04d},wx{i},{i}" for i in range(50)]
    path = write(tmp_path / "u.csv", "\n".join(lines) + "\n")
    result = kehu.ok("leads", "import", path)
    assert result["unmapped"] == ["微信", "QQ"] and result["inserted"] == 50
    text = kehu.run("leads", "import", path, json_mode=False).stdout
    assert text.count("微信") == 1 and "ignored columns: 微信, QQ" in text


def test_a_declared_custom_field_is_filled(crm, kehu, tmp_path):
    admin = crm.admin()
    admin.fields.add("budget", "int", entity="lead", label="预算")
    admin.fields.add("wechat", "text", entity="lead")
    path = write(tmp_path / "c.csv", "姓名,手机,预算,wechat,Notes\n"
                                     "甲,13800138000,5000,wx_a,\n"
                                     "乙,13800138001,很多,,\n"
                                     "丙,13800138002,,wx_c,\n")
    result = kehu.ok("leads", "import", path)
    assert (result["inserted"], result["rejected"], result["unmapped"]) == (2, 1, ["Notes"])
    stored = by_name(crm)
    assert stored["甲"].custom == {"budget": 5000, "wechat": "wx_a"}
    assert stored["丙"].custom == {"wechat": "wx_c"}
    assert read_errors(result["errors_file"])[1][-2:] == ["3", "budget: not a whole number"]


def test_map_to_a_custom_field(crm, kehu, tmp_path):
    crm.admin().fields.add("wechat", "text", entity="lead")
    path = write(tmp_path / "c.csv", "name,phone,微信号\n甲,13800138000,wx_a\n")
    assert kehu.ok("leads", "import", path, "--map", "微信号=wechat")["unmapped"] == []
    assert leads_of(crm)[0].custom == {"wechat": "wx_a"}


# --- duplicates against the database, and ownership -----------------------------------------------------------


def test_on_duplicate_skip_update_and_error(crm, kehu, tmp_path):
    lead_id = crm.add_leads(1, phone="13800138000", region="浙江")[0]
    path = write(tmp_path / "d.csv", "name,phone,region,industry\n新名字,138 0013 8000,江苏,制造\n新客户,13800138009,,\n")

    skipped = kehu.ok("leads", "import", path)
    assert (skipped["inserted"], skipped["skipped"]) == (1, 1)
    assert crm.lead(lead_id).region == "浙江"

    rejected = kehu.ok("leads", "import", path, "--on-duplicate", "error")
    assert (rejected["inserted"], rejected["skipped"], rejected["rejected"]) == (0, 0, 2)
    assert [r[-1] for r in read_errors(rejected["errors_file"])[1:]] == [
        f"duplicate of lead {lead_id}", f"duplicate of lead {by_name(crm)['新客户'].id}"]

    updated = kehu.ok("leads", "import", path, "--on-duplicate", "update")
    assert (updated["inserted"], updated["updated"]) == (0, 2)
    lead = crm.lead(lead_id)
    assert (lead.name, lead.region, lead.industry) == ("新名字", "江苏", "制造")

    assert "--on-duplicate" in kehu.fails("leads", "import", path, "--on-duplicate", "merge")


def test_update_never_lets_a_later_line_overwrite_an_earlier_one(crm, tmp_path):
    path = write(tmp_path / "d.csv", "name,phone\n第一,13800138000\n第二,13800138000\n第三,138-0013-8000\n")
    result = crm.admin().leads.import_csv(path, on_duplicate="update", batch_size=1)
    assert (result["inserted"], result["updated"], result["rejected"]) == (1, 0, 2)
    assert [lead.name for lead in leads_of(crm)] == ["第一"]


def test_a_duplicate_held_by_another_rep_is_a_conflict_naming_the_holder(crm, kehu, tmp_path):
    mobile = crm.claimed("wang", 1)[0]
    phone = crm.lead(mobile).phone
    landline = crm.add_leads(1, phone="0571-87654321", company="杭州茶叶", name="座机客户")[0]
    crm.as_("wang").leads.claim(landline)
    path = write(tmp_path / "d.csv", f"name,company,phone\n重复,,{phone}\n座机客户,杭州茶叶,0571 8765 4321\n")

    result = kehu.ok("leads", "import", path, "--on-duplicate", "update")

    assert (result["inserted"], result["updated"], result["rejected"]) == (0, 0, 2)
    assert [r[-1] for r in read_errors(result["errors_file"])[1:]] == [
        f"duplicate of lead {mobile}, held by wang", f"duplicate of lead {landline}, held by wang"]
    assert crm.holder(mobile) == "wang"


def test_a_rep_without_assign_cannot_import_rows_for_other_reps(crm, kehu, tmp_path):
    path = write(tmp_path / "o.csv", "name,phone,owner\n给王,13800138000,wang\n给自己,13800138001,li\n公海,13800138002,\n")
    result = kehu.ok("leads", "import", path, as_="li")
    assert (result["inserted"], result["rejected"]) == (2, 1)
    error = read_errors(result["errors_file"])[1]
    assert error[-2] == "2" and "may not give leads to other users" in error[-1]
    stored = by_name(crm)
    assert stored["给自己"].state == HELD and crm.holder(stored["给自己"].id) == "li"
    assert stored["公海"].state == IN_POOL


def test_a_manager_imports_rows_for_reps_in_scope_by_login_or_name(crm, kehu, tmp_path):
    crm.admin().users.update("wang", name="王小明")
    path = write(tmp_path / "o.csv", "姓名,手机,负责人\n甲,13800138000,wang\n乙,13800138001,王小明\n丙,13800138002,sun\n"
                                     "丁,13800138003,nobody\n")
    result = kehu.ok("leads", "import", path, as_="m1")
    assert (result["inserted"], result["rejected"]) == (2, 2)
    stored = by_name(crm)
    assert crm.holder(stored["甲"].id) == crm.holder(stored["乙"].id) == "wang"
    errors = [r[-1] for r in read_errors(result["errors_file"])[1:]]
    assert "sun is outside your data scope" in errors[0] and "nobody" in errors[1]


def test_a_user_without_create_cannot_import(crm, kehu, tmp_path):
    path = write(tmp_path / "f.csv", "name\n甲\n")
    assert "may not import leads" in kehu.fails("leads", "import", path, as_="finance", code="permission_denied")


def test_pool_option_and_unknown_pool(crm, kehu, tmp_path):
    path = write(tmp_path / "p.csv", "name,phone\n甲,13800138000\n")
    kehu.fails("leads", "import", path, "--pool", "nowhere", code="not_found")
    assert leads_of(crm) == []
    assert kehu.ok("leads", "import", path, "--pool", "east")["inserted"] == 1
    assert leads_of(crm)[0].pool_id == crm.pool("east").id


def test_leads_of_another_workspace_are_no_duplicates(crm, kehu, tmp_path):
    crm.as_("root", workspace="other").leads.add(name="别家", phone="13800138000")
    path = write(tmp_path / "w.csv", "name,phone\n甲,13800138000\n")
    assert kehu.ok("leads", "import", path)["inserted"] == 1


# --- dry run, errors file, exits ---------------------------------------------------------------------------------


def test_dry_run_writes_nothing_and_counts_what_a_real_run_would(crm, kehu, tmp_path):
    crm.add_leads(1, phone="13700000000")
    path = write(tmp_path / "leads.csv", DIRTY)
    before = snapshot(crm)

    dry = kehu.ok("leads", "import", path, "--dry-run")
    assert snapshot(crm) == before
    dry_errors = read_errors(dry["errors_file"])

    real = kehu.ok("leads", "import", path)
    assert {k: real[k] for k in COUNTS} == {k: dry[k] for k in COUNTS}
    assert read_errors(real["errors_file"]) == dry_errors
    assert snapshot(crm)["Lead"] == before["Lead"] + real["inserted"]
    assert "dry run, nothing written" in kehu.run("leads", "import", path, "--dry-run", json_mode=False).stdout


def test_dry_run_sees_duplicates_across_its_own_batches(crm, tmp_path):
    path = write(tmp_path / "d.csv", "name,phone\n甲,13800138000\n乙,13800138001\n甲again,13800138000\n")
    dry = crm.admin().leads.import_csv(path, dry_run=True, batch_size=1)
    assert (dry["inserted"], dry["rejected"]) == (2, 1) and leads_of(crm) == []


def test_errors_file_defaults_beside_the_input_and_only_when_needed(crm, kehu, tmp_path):
    clean = write(tmp_path / "clean.csv", "name\n甲\n")
    result = kehu.ok("leads", "import", clean)
    assert result["errors_file"] is None and not os.path.exists(tmp_path / "clean.errors.csv")

    dirty = write(tmp_path / "dirty.csv", "name,phone\n,13800138000\n")
    result = kehu.ok("leads", "import", dirty)
    assert result["errors_file"] == str(tmp_path / "dirty.errors.csv")
    raw = (tmp_path / "dirty.errors.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM: Excel and WPS show Chinese right
    assert read_errors(result["errors_file"]) == [["name", "phone", "line", "error"],
                                                  ["", "13800138000", "2", "name is missing"]]

    explicit = str(tmp_path / "none.csv")
    assert kehu.ok("leads", "import", clean, "--errors", explicit)["errors_file"] == explicit
    assert read_errors(explicit) == [["name", "line", "error"]]


def test_an_unwritable_errors_file_fails_before_anything_is_written(crm, kehu, tmp_path):
    path = write(tmp_path / "a.csv", "name\n甲\n")
    message = kehu.fails("leads", "import", path, "--errors", str(tmp_path / "no" / "such" / "dir.csv"))
    assert "cannot write the errors file" in message and leads_of(crm) == []
    assert "is the file being imported" in kehu.fails("leads", "import", path, "--errors", path)
    assert (tmp_path / "a.csv").read_text(encoding="utf-8") == "name\n甲\n" and leads_of(crm) == []


@pytest.mark.parametrize("args, expected", [
    (["missing.csv"], "cannot read"),
    (["empty.csv"], "is empty"),
    (["noname.csv"], "has no name column"),
    (["ok.csv", "--map", "hubspot"], "unknown --map preset 'hubspot'"),
    (["ok.csv", "--map", "name=nickname"], "is not a lead field"),
    (["ok.csv", "--map", "Full Name=name"], "has no such column"),
])
def test_bad_input_is_invalid_and_writes_nothing(crm, kehu, tmp_path, args, expected):
    write(tmp_path / "empty.csv", "")
    write(tmp_path / "noname.csv", "company,phone\n杭州茶叶,13800138000\n")
    write(tmp_path / "ok.csv", "name\n甲\n")
    before = snapshot(crm)
    message = kehu.fails("leads", "import", str(tmp_path / args[0]), *args[1:])
    assert expected in message, message
    assert snapshot(crm) == before


def test_exit_0_with_rejected_rows_and_the_text_summary(crm, kehu, tmp_path):
    path = write(tmp_path / "a.csv", "name,phone\n甲,13800138000\n乙,bad\n")
    result = kehu.run("leads", "import", path, json_mode=False)
    assert result.exit_code == 0 and result.stderr == ""
    assert result.stdout.startswith("inserted 1, updated 0, skipped 0, rejected 1 (rows and reasons in ")


def test_tab_separated_exports_are_read(crm, kehu, tmp_path):
    path = write(tmp_path / "t.csv", "姓名\t手机\t公司\n甲\t13800138000\t杭州, 茶叶\n")
    assert kehu.ok("leads", "import", path)["inserted"] == 1
    assert leads_of(crm)[0].company == "杭州, 茶叶"


def test_blank_lines_are_not_rows(crm, kehu, tmp_path):
    path = write(tmp_path / "b.csv", "name,phone\n\n甲,13800138000\n,\n  ,  \n乙,\n", newline="\r\n")
    result = kehu.ok("leads", "import", path)
    assert data_rows(result) == 2 and result["inserted"] == 2


# --- progress ------------------------------------------------------------------------------------------------


def test_progress_is_reported_per_batch_and_ends_at_the_file_size(crm, tmp_path):
    lines = ["name,phone"] + [f"客户{i},1390000{i:04d}" for i in range(25)]
    path = write(tmp_path / "p.csv", "\n".join(lines) + "\n")
    calls = []
    crm.admin().leads.import_csv(path, batch_size=10, progress=lambda done, total: calls.append((done, total)))
    size = os.path.getsize(path)
    assert len(calls) == 3 and calls[-1] == (size, size)
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)


def test_no_progress_bar_when_stdout_is_not_a_terminal(monkeypatch):
    monkeypatch.setattr("sys.stdout", io.StringIO())
    with importer.progress_display(enabled=True) as progress:
        assert progress is None
    with importer.progress_display(enabled=False) as progress:
        assert progress is None
