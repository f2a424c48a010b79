"""Survey forms: the defaults, validation of every question type, workspace forms and overrides."""

import pytest

from kehu.errors import Invalid, NotFound, PermissionDenied
from kehu.plugins.survey.forms import DEFAULT_FORMS, validate_form


def form(*questions, key="visit_plus"):
    return {"key": key, "title": "拜访后调查", "questions": list(questions)}


GOOD = form(
    {"key": "service", "text": "服务", "type": "scale", "max": 5, "required": True},
    {"key": "a", "text": "期望", "type": "scale", "max": 10, "role": "expectation"},
    {"key": "b", "text": "感受", "type": "scale", "max": 10, "role": "perception"},
    {"key": "score", "text": "推荐", "type": "nps"},
    {"key": "topic", "text": "类别", "type": "choice", "choices": ["服务", "产品"], "multiple": True},
    {"key": "note", "text": "意见", "type": "text", "max_length": 50},
)


def test_the_default_forms_are_valid_and_listed(crm):
    for default in DEFAULT_FORMS.values():
        assert validate_form(default)["key"] == default["key"]
    listed = crm.as_("li").survey.forms()
    assert [f["key"] for f in listed] == ["visit", "satisfaction", "feedback", "nps"]
    assert {f["source"] for f in listed} == {"default"}
    nps = crm.as_("li").survey.form("nps")
    assert [(q["key"], q["type"], q["required"]) for q in nps["questions"]] == [
        ("score", "nps", True), ("reason", "text", False)]
    with pytest.raises(NotFound):
        crm.as_("li").survey.form("nope")


def test_a_good_form_is_normalized():
    clean = validate_form(GOOD)
    assert clean["questions"][0] == {"key": "service", "text": "服务", "type": "scale", "required": True, "max": 5}
    assert clean["questions"][3] == {"key": "score", "text": "推荐", "type": "nps", "required": False}
    assert clean["questions"][4]["multiple"] is True
    assert clean["questions"][5]["max_length"] == 50


@pytest.mark.parametrize("question, message", [
    ({"key": "q", "text": "t", "type": "scale", "max": 7}, "max 5 or 10"),
    ({"key": "q", "text": "t", "type": "scale"}, "max 5 or 10"),
    ({"key": "q", "text": "t", "type": "nps", "max": 10}, "only a scale question has a max"),
    ({"key": "q", "text": "t", "type": "choice"}, "needs choices"),
    ({"key": "q", "text": "t", "type": "choice", "choices": ["a", "a"]}, "distinct"),
    ({"key": "q", "text": "t", "type": "text", "max_length": 0}, "max_length"),
    ({"key": "q", "text": "t", "type": "text", "role": "expectation"}, "only a scale question may be"),
    ({"key": "q", "text": "t", "type": "stars"}, "type"),
    ({"key": "Q 1", "text": "t", "type": "text"}, "question key"),
    ({"key": "q", "text": "t", "type": "text", "colour": "red"}, "colour"),
])
def test_bad_questions_are_refused(question, message):
    with pytest.raises(Invalid, match=message):
        validate_form(form(question))


def test_rules_across_questions():
    scale = {"text": "t", "type": "scale", "max": 10}
    with pytest.raises(Invalid, match="unique: q"):
        validate_form(form({"key": "q", **scale}, {"key": "q", **scale}))
    with pytest.raises(Invalid, match="at most one nps"):
        validate_form(form({"key": "a", "text": "t", "type": "nps"}, {"key": "b", "text": "t", "type": "nps"}))
    with pytest.raises(Invalid, match="at most one expectation"):
        validate_form(form({"key": "a", **scale, "role": "expectation"}, {"key": "b", **scale,
                                                                            "role": "expectation"}))
    with pytest.raises(Invalid, match="same scale"):
        validate_form(form({"key": "a", **scale, "role": "expectation"},
                           {"key": "b", "text": "t", "type": "scale", "max": 5, "role": "perception"}))
    with pytest.raises(Invalid, match="1 to 200 questions"):
        validate_form(form())
    with pytest.raises(Invalid, match="JSON object"):
        validate_form(["not", "a", "form"])


def test_workspace_forms_add_override_and_stay_in_their_workspace(crm):
    with pytest.raises(PermissionDenied):
        crm.as_("li").survey.add_form(GOOD)
    added = crm.as_("m1").survey.add_form(GOOD)
    assert (added["source"], added["replaced"]) == ("workspace", False)
    own_nps = form({"key": "score", "text": "推荐我们吗", "type": "nps", "required": True}, key="nps")
    assert crm.as_("m1").survey.add_form(own_nps)["replaced"] is False
    listed = {f["key"]: f for f in crm.as_("li").survey.forms()}
    assert list(listed) == ["visit", "satisfaction", "feedback", "nps", "visit_plus"]
    assert (listed["nps"]["source"], listed["nps"]["questions"]) == ("workspace", 1)
    again = crm.as_("admin").survey.add_form({**GOOD, "title": "改"})
    assert again["replaced"] is True and crm.as_("li").survey.form("visit_plus")["title"] == "改"
    assert [e.after["key"] for e in crm.events("survey.form_added")] == ["visit_plus", "nps", "visit_plus"]
    other = crm.as_("root", workspace="other")
    assert {f["key"]: f["source"] for f in other.survey.forms()}["nps"] == "default"
    with pytest.raises(NotFound):
        other.survey.form("visit_plus")
