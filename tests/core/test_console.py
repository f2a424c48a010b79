"""kehu.core.console: the invocation State, emit (JSON, CSV, table, human text), list options and paging,
one-line error reporting. Unit tests without a database; the CLI end to end is in tests/test_cli.py."""

import csv
import datetime as dt
import io
import json
from decimal import Decimal

import click
import pytest
from click.testing import CliRunner

from kehu.core import console
from kehu.core.console import State, emit, list_options, page, pass_context, pass_state, report_error, to_csv
from kehu.errors import Invalid, NotFound

UTC = dt.timezone.utc


def run_emit(data, json_output=False, **options):
    """Call ``emit(data, **options)`` inside a click command whose State has ``json_output``; return stdout."""

    @click.command()
    @click.pass_context
    def command(ctx):
        emit(data, **options)

    result = CliRunner().invoke(command, [], obj=State(json_output=json_output), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    return result.stdout


# --- State ----------------------------------------------------------------------------------------------


def test_state_keeps_the_global_options():
    state = State("sqlite:///x.db", "acme", "li", True, "2026-11-24T09:00")
    assert (state.db, state.workspace_name, state.user_login, state.json, state.now_text) == \
        ("sqlite:///x.db", "acme", "li", True, "2026-11-24T09:00")


def test_state_opens_nothing_until_asked():
    state = State("nosuch://never-opened")
    state.close()  # nothing was opened, nothing to close


def test_now_in_is_none_for_the_real_clock():
    assert State().now_in("Asia/Shanghai") is None


@pytest.mark.parametrize("text, timezone, expected", [
    ("2026-11-24T09:00", "Asia/Shanghai", dt.datetime(2026, 11, 24, 1, 0, tzinfo=UTC)),
    ("2026-11-24T09:00", "Europe/Berlin", dt.datetime(2026, 11, 24, 8, 0, tzinfo=UTC)),
    ("2026-07-01T09:00", "America/New_York", dt.datetime(2026, 7, 1, 13, 0, tzinfo=UTC)),
    ("2026-11-24", "Asia/Shanghai", dt.datetime(2026, 11, 23, 16, 0, tzinfo=UTC)),
    ("2026-11-24T09:00Z", "Asia/Shanghai", dt.datetime(2026, 11, 24, 9, 0, tzinfo=UTC)),
    ("2026-11-24T09:00+09:00", "Asia/Shanghai", dt.datetime(2026, 11, 24, 0, 0, tzinfo=UTC)),
])
def test_now_in_reads_a_zoneless_time_in_the_workspace_timezone(text, timezone, expected):
    now = State(now=text).now_in(timezone)
    assert now == expected
    assert now.utcoffset() == dt.timedelta(0)


@pytest.mark.parametrize("text", ["garbage", "2026-13-01", "", "24/11/2026"])
def test_now_in_rejects_bad_text_as_invalid(text):
    with pytest.raises(Invalid) as caught:
        State(now=text).now_in("Asia/Shanghai")
    assert caught.value.code == "invalid"
    assert "--now" in caught.value.message


def test_now_in_rejects_an_unknown_timezone():
    with pytest.raises(Invalid):
        State(now="2026-11-24T09:00").now_in("Mars/Olympus")


def test_context_needs_a_workspace():
    with pytest.raises(Invalid) as caught:
        State(db="sqlite:///never-opened.db").context
    assert "-w" in caught.value.message and "KEHU_WORKSPACE" in caught.value.message


def test_pass_context_and_pass_state_hand_over_what_the_command_needs():
    seen = {}

    class FakeState(State):
        @property
        def context(self):
            return "the-context"

    @click.command()
    @click.argument("word")
    @pass_context
    def with_context(context, word):
        seen["context"] = (context, word)

    @click.command()
    @pass_state
    def with_state(state):
        seen["state"] = state

    state = FakeState()
    assert CliRunner().invoke(with_context, ["hi"], obj=state).exit_code == 0
    assert CliRunner().invoke(with_state, [], obj=state).exit_code == 0
    assert seen == {"context": ("the-context", "hi"), "state": state}


# --- emit -----------------------------------------------------------------------------------------------


def test_emit_json_is_one_document():
    data = [{"id": 1, "name": "苏州丝绸", "amount": Decimal("12.50"), "tags": ["a"]}, {"id": 2, "name": None}]
    out = run_emit(data, json_output=True, columns=["id"], human=lambda d: "ignored")
    assert json.loads(out) == [{"id": 1, "name": "苏州丝绸", "amount": "12.50", "tags": ["a"]},
                               {"id": 2, "name": None}]
    assert "苏州丝绸" in out  # not \\u-escaped


def test_emit_json_wins_over_csv():
    out = run_emit([{"id": 1}], json_output=True, csv_output=True)
    assert json.loads(out) == [{"id": 1}]


def test_emit_json_money_is_a_decimal_string():
    assert json.loads(run_emit({"amount": Decimal("0.10")}, json_output=True)) == {"amount": "0.10"}


def test_emit_json_times_are_iso_8601():
    at = dt.datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
    out = json.loads(run_emit({"at": at, "day": dt.date(2026, 11, 24)}, json_output=True))
    assert out == {"at": "2026-11-24T01:00:00+00:00", "day": "2026-11-24"}


def test_emit_json_of_an_empty_list():
    assert json.loads(run_emit([], json_output=True)) == []


def test_emit_csv_has_a_header_and_one_row_per_record():
    data = [{"id": 1, "name": "Alpha, Inc.", "owner": None, "custom": {"tier": "gold"}, "active": True},
            {"id": 2, "name": 'Beta "B"', "owner": "li", "custom": {}, "active": False}]
    out = run_emit(data, columns=["id", "name", "owner", "custom", "active"], csv_output=True)
    rows = list(csv.reader(io.StringIO(out)))
    assert rows == [["id", "name", "owner", "custom", "active"],
                    ["1", "Alpha, Inc.", "", '{"tier": "gold"}', "True"],
                    ["2", 'Beta "B"', "li", "{}", "False"]]


def test_emit_csv_of_no_rows_is_the_header():
    out = run_emit([], columns=["id", "name"], csv_output=True)
    assert list(csv.reader(io.StringIO(out))) == [["id", "name"]]


def test_emit_csv_picks_and_orders_columns():
    out = run_emit([{"b": 2, "a": 1, "c": 3}], columns=["c", "a"], csv_output=True)
    assert list(csv.reader(io.StringIO(out))) == [["c", "a"], ["3", "1"]]


def test_emit_csv_without_columns_uses_every_key():
    out = run_emit([{"b": 2, "a": 1}], csv_output=True)
    assert list(csv.reader(io.StringIO(out))) == [["b", "a"], ["2", "1"]]


def test_emit_table_for_a_list():
    out = run_emit([{"id": 1, "name": "Alpha", "secret": "x"}, {"id": 2, "name": "Beta", "secret": "y"}],
                   columns=["id", "name"])
    assert "Alpha" in out and "Beta" in out and "name" in out
    assert "secret" not in out
    with pytest.raises(json.JSONDecodeError):
        json.loads(out)


def test_emit_table_default_columns_leave_out_nested_values():
    out = run_emit([{"id": 1, "name": "Alpha", "custom": {"tier": "gold"}}])
    assert "Alpha" in out and "tier" not in out


def test_emit_empty_list_says_none():
    assert run_emit([]).strip() == "(none)"


def test_emit_dict_as_key_value_lines():
    out = run_emit({"id": 7, "name": "Alpha", "owner": None})
    lines = out.splitlines()
    assert len(lines) == 3
    assert lines[0].split() == ["id", "7"] and lines[1].split() == ["name", "Alpha"]
    assert lines[2].strip() == "owner"


def test_emit_human_text():
    assert run_emit({"id": 7}, human=lambda r: f"created {r['id']}") == "created 7\n"


def test_emit_scalar():
    assert run_emit("plain") == "plain\n"


def test_to_csv_directly():
    assert to_csv([{"a": 1, "b": None}]) == "a,b\r\n1,\r\n"
    assert to_csv([]) == "\r\n"


# --- list options and paging ----------------------------------------------------------------------------


def _listing_command(seen):
    @click.command()
    @list_options
    def listing(limit, offset, csv_output):
        seen.update(limit=limit, offset=offset, csv=csv_output)

    return listing


def test_list_options_defaults():
    seen = {}
    assert CliRunner().invoke(_listing_command(seen), []).exit_code == 0
    assert page(list(range(250)), seen["limit"], seen["offset"]) == list(range(100))
    assert seen["csv"] is False


def test_list_options_pass_values_through():
    seen = {}
    result = CliRunner().invoke(_listing_command(seen), ["--limit", "5", "--offset", "2", "--csv"])
    assert result.exit_code == 0
    assert page(list(range(10)), seen["limit"], seen["offset"]) == [2, 3, 4, 5, 6]
    assert seen["csv"] is True


@pytest.mark.parametrize("args", [["--limit", "abc"], ["--limit", "-1"], ["--offset", "x"], ["--limit", "1.5"]])
def test_list_options_leave_bad_values_to_validation_not_to_click(args):
    """A bad value is bad input (exit 1, code invalid), not a usage error (exit 2): click must accept it."""
    seen = {}
    result = CliRunner().invoke(_listing_command(seen), args)
    assert result.exit_code == 0, result.output
    with pytest.raises(Invalid):
        page([1, 2, 3], seen["limit"], seen["offset"])


def test_list_options_help_mentions_zero_means_no_limit():
    result = CliRunner().invoke(_listing_command({}), ["--help"])
    assert "--limit" in result.stdout and "0 = no limit" in result.stdout
    assert "--offset" in result.stdout and "--csv" in result.stdout


@pytest.mark.parametrize("limit, offset, expected", [
    ("100", "0", list(range(10))),
    ("3", "0", [0, 1, 2]),
    ("3", "8", [8, 9]),
    ("0", "0", list(range(10))),
    ("0", "7", [7, 8, 9]),
    ("5", "20", []),
    (None, None, list(range(10))),
    (2, 1, [1, 2]),
])
def test_page(limit, offset, expected):
    assert page(list(range(10)), limit, offset) == expected


@pytest.mark.parametrize("limit, offset", [("abc", "0"), ("-1", "0"), ("1", "-1"), ("1", "x")])
def test_page_rejects_bad_bounds(limit, offset):
    with pytest.raises(Invalid) as caught:
        page([1, 2, 3], limit, offset)
    assert caught.value.code == "invalid"


# --- error reporting ------------------------------------------------------------------------------------


def _reporting(json_mode, message, code, exit_code=1):
    @click.command()
    def command():
        report_error(json_mode, message, code, exit_code=exit_code)

    return CliRunner().invoke(command, [], catch_exceptions=False)


def test_report_error_plain_is_one_line_on_stderr():
    result = _reporting(False, "no customer 9", "not_found")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == "Error: no customer 9\n"


def test_report_error_collapses_lines_and_spaces():
    result = _reporting(False, "first line\n  second\tline\n", "invalid")
    assert result.stderr == "Error: first line second line\n"


def test_report_error_json_on_stdout():
    result = _reporting(True, "bad\nvalue", "invalid")
    assert result.exit_code == 1
    assert result.stderr == ""
    assert json.loads(result.stdout) == {"error": "bad value", "code": "invalid"}


def test_report_error_exit_code():
    result = _reporting(True, "No such command 'x'.", "usage", exit_code=2)
    assert result.exit_code == 2
    assert json.loads(result.stdout)["code"] == "usage"


def test_kehu_error_exit_uses_the_error_code():
    @click.command()
    def command():
        console.kehu_error_exit(True, NotFound("no customer 9"))

    result = CliRunner().invoke(command, [])
    assert result.exit_code == 1
    assert json.loads(result.stdout) == {"error": "no customer 9", "code": "not_found"}


def test_error_payload():
    assert console.error_payload("m", "c") == {"error": "m", "code": "c"}


@pytest.mark.parametrize("value, shown", [(None, False), ("", False), ("0", False), ("1", True), ("yes", True)])
def test_debug_tracebacks(monkeypatch, value, shown):
    if value is None:
        monkeypatch.delenv("KEHU_DEBUG", raising=False)
    else:
        monkeypatch.setenv("KEHU_DEBUG", value)
    assert console.debug_tracebacks() is shown
