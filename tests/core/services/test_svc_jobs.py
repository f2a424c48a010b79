"""``app.tick``: periodic jobs run once per period in the workspace's calendar; a failure is isolated and retried."""

import kehu


class Ticker:
    """A test plugin with two daily jobs: ``ticker.flaky`` fails while ``failures`` > 0, then succeeds."""

    def __init__(self, failures=0):
        self.failures = failures
        self.daily_runs = []
        self.flaky_calls = 0

    @kehu.hookimpl
    def kehu_register_jobs(self, register):
        # The flaky job is registered first, so its failure comes before the other job in the same tick.
        register("ticker.flaky", self.flaky, every="day")
        register("ticker.daily", self.daily, every="day")

    def flaky(self, context):
        self.flaky_calls += 1
        if self.failures:
            self.failures -= 1
            raise RuntimeError("the mail server is down")
        return {"sent": 1}

    def daily(self, context):
        self.daily_runs.append((context.workspace.name, context.now.isoformat()))
        return {"ok": True}


def jobs_of(tick_result, workspace="acme"):
    [entry] = [w for w in tick_result if w["workspace"] == workspace]
    return {j["job"]: j for j in entry["jobs"]}


def ticker_app(crm, connect_with, ticker):
    app = connect_with(plugins=[("ticker", ticker)])
    assert app.workspace("acme", user="admin").plugins.enable("ticker")["changed"] is True
    return app


def test_a_daily_job_runs_once_per_local_day(crm, connect_with):
    ticker = Ticker()
    app = ticker_app(crm, connect_with, ticker)

    first = jobs_of(app.tick(now="2026-11-24T08:00"))
    assert first["ticker.daily"]["ran"] is True and first["ticker.daily"]["result"] == {"ok": True}
    assert first["ticker.daily"]["period"] == "2026-11-24"
    assert ticker.daily_runs == [("acme", "2026-11-24T00:00:00+00:00")]

    again = jobs_of(app.tick(now="2026-11-24T23:00"))  # same local day
    assert again["ticker.daily"]["ran"] is False and again["ticker.daily"]["period"] == "2026-11-24"
    assert len(ticker.daily_runs) == 1

    # 16:30 UTC on the 24th is 00:30 on the 25th in Shanghai: a new local day, though the same UTC date.
    next_day = jobs_of(app.tick(now="2026-11-24T16:30:00+00:00"))
    assert next_day["ticker.daily"]["ran"] is True and next_day["ticker.daily"]["period"] == "2026-11-25"
    assert ticker.daily_runs[-1] == ("acme", "2026-11-24T16:30:00+00:00")
    assert jobs_of(app.tick(now="2026-11-25T20:00"))["ticker.daily"]["ran"] is False
    assert len(ticker.daily_runs) == 2


def test_jobs_run_only_where_the_plugin_is_enabled(crm, connect_with):
    ticker = Ticker()
    app = ticker_app(crm, connect_with, ticker)
    result = app.tick(now="2026-11-24T08:00")
    assert "ticker.daily" not in jobs_of(result, "other")
    assert ticker.daily_runs == [("acme", "2026-11-24T00:00:00+00:00")]

    app.workspace("acme", user="admin").plugins.disable("ticker")
    assert "ticker.daily" not in jobs_of(app.tick(now="2026-11-25T08:00"))
    assert len(ticker.daily_runs) == 1
    # Enabled again, it picks up on the day it is next ticked.
    app.workspace("acme", user="admin").plugins.enable("ticker")
    assert jobs_of(app.tick(now="2026-11-26T08:00"))["ticker.daily"]["ran"] is True


def test_a_failing_job_reports_its_error_does_not_stop_the_others_and_is_retried(crm, connect_with):
    ticker = Ticker(failures=1)
    app = ticker_app(crm, connect_with, ticker)

    first = jobs_of(app.tick(now="2026-11-24T08:00"))
    assert first["ticker.flaky"]["ran"] is False
    assert first["ticker.flaky"]["error"] == "RuntimeError: the mail server is down"
    assert first["ticker.daily"]["ran"] is True  # registered after the failing one, still ran
    assert first["core.task_reminders"]["ran"] is True

    retried = jobs_of(app.tick(now="2026-11-24T08:05"))  # the next tick, same day
    assert retried["ticker.flaky"]["ran"] is True and retried["ticker.flaky"]["result"] == {"sent": 1}
    assert "error" not in retried["ticker.flaky"]
    assert retried["ticker.daily"]["ran"] is False  # already ran today
    assert ticker.flaky_calls == 2

    third = jobs_of(app.tick(now="2026-11-24T08:10"))
    assert third["ticker.flaky"]["ran"] is False and "error" not in third["ticker.flaky"]
    assert ticker.flaky_calls == 2


def test_a_job_failing_on_a_later_day_is_retried_that_day(crm, connect_with):
    ticker = Ticker()
    app = ticker_app(crm, connect_with, ticker)
    assert jobs_of(app.tick(now="2026-11-24T08:00"))["ticker.flaky"]["ran"] is True
    ticker.failures = 1
    assert "error" in jobs_of(app.tick(now="2026-11-25T08:00"))["ticker.flaky"]
    assert jobs_of(app.tick(now="2026-11-25T09:00"))["ticker.flaky"]["ran"] is True
    assert jobs_of(app.tick(now="2026-11-25T10:00"))["ticker.flaky"]["ran"] is False
    assert ticker.flaky_calls == 3
