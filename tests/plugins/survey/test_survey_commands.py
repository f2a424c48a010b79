"""``kehu survey ...`` end to end: happy paths and bad input (exit 1, one-line error, JSON error object)."""

import json

from kehu.plugins.survey.models import SurveyResponse


def write(tmp_path, name, data):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return str(path)


def test_forms_show_and_add(crm, tmp_path):
    li = crm.cli("li")
    assert [f["key"] for f in li.ok("survey", "forms")] == ["visit", "satisfaction", "feedback", "nps"]
    assert li.ok("survey", "form", "show", "nps")["questions"][0]["type"] == "nps"
    assert "score [nps 0–10; required]" in li.text("survey", "form", "show", "nps")
    li.fails("survey", "form", "show", "nope", code="not_found")
    form = {"key": "after_sale", "title": "售后回访", "questions": [
        {"key": "fixed", "text": "问题解决了吗", "type": "choice", "choices": ["是", "否"], "required": True}]}
    good = write(tmp_path, "form.json", form)
    li.fails("survey", "form", "add", good, code="permission_denied")
    assert crm.cli("m1").ok("survey", "form", "add", good)["key"] == "after_sale"
    assert "scale question needs max 5 or 10" in crm.cli("m1").fails("survey", "form", "add", write(
        tmp_path, "bad.json", {**form, "questions": [{"key": "q", "text": "t", "type": "scale", "max": 3}]}))
    assert "not valid JSON" in crm.cli("m1").fails("survey", "form", "add", write(tmp_path, "x.json", "{oops"))
    assert "cannot read form file" in crm.cli("m1").fails("survey", "form", "add", str(tmp_path / "none.json"))


def test_send_answer_and_report(crm, tmp_path):
    li = crm.cli("li")
    slot = li.ok("survey", "send", "nps", "--customer", crm.customer("tea"))
    assert (slot["form"], slot["customer"], slot["after"]) == ("nps", crm.customer("tea"), None)
    assert not slot["token"].startswith("-")
    answers = write(tmp_path, "answers.json", {"score": 9, "reason": "服务好"})
    done = crm.cli(None).ok("survey", "answer", slot["token"], "--answers", answers)
    assert (done["nps"], done["answers"]["reason"], done["follow_up"]) == (9, "服务好", None)
    assert "already answered" in crm.cli(None).fails("survey", "answer", slot["token"], "--answers", answers,
                                                     code="conflict")
    paper = li.ok("survey", "send", "satisfaction", "--customer", crm.customer("milk"))["token"]
    by_rep = li.ok("survey", "answer", paper, "--by-rep", "--answers", write(
        tmp_path, "paper.json", {"service_quality": 3, "product_quality": 5, "expectation": 8, "perception": 6}))
    assert by_rep["collected_by"] == "li"
    report = crm.cli("m1").ok("survey", "report", "--from", "2025-03-01", "--to", "2025-03-03", "--by", "rep")
    assert {k: report[k] for k in ("responses", "nps", "promoters", "csat", "c_ratio")} == {
        "responses": 2, "nps": 100.0, "promoters": 1, "csat": 80.0, "c_ratio": 0.75}
    assert [(g["group"], g["responses"]) for g in report["groups"]] == [("li", 2)]
    assert "nps 100.0" in crm.cli("m1").text("survey", "report", "--from", "2025-03-01", "--to", "2025-03-03")


def test_bad_input(crm, tmp_path):
    li = crm.cli("li")
    li.fails("survey", "send", "nps", "--customer", crm.customer("shop"), code="permission_denied")
    li.fails("survey", "send", "nps", "--customer", "abc")
    li.fails("survey", "send", "nps", "--customer", crm.customer("tea"), "--after", "lead:1")
    li.fails("survey", "send", "nope", "--customer", crm.customer("tea"), code="not_found")
    token = li.ok("survey", "send", "nps", "--customer", crm.customer("tea"))["token"]
    message = li.fails("survey", "answer", token, "--answers", write(tmp_path, "a.json", {"score": 11, "x": 1}))
    assert message == ("answers not accepted: x: unknown question (form nps asks score, reason); "
                       "score: must be a whole number from 0 to 10, not 11")
    li.fails("survey", "answer", token, "--answers", write(tmp_path, "list.json", [9]))
    li.fails("survey", "answer", "nope", "--answers", write(tmp_path, "b.json", {"score": 9}), code="not_found")
    assert SurveyResponse.get(SurveyResponse.token == token).answered_at is None
    assert "--by must be one of" in li.fails("survey", "report", "--by", "region")
    assert "--from" in li.fails("survey", "report", "--from", "March")
