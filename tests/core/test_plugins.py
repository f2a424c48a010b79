"""kehu.core.plugins and per-workspace enablement: discovery, isolation, broken plugins, hook checks, vetoes.

These tests rely on the example plugin being installed (``pip install ./examples/kehu-hello``, as CI does):
it is discovered through its ``kehu.plugins`` entry point like any third-party package.
"""

import ast
import importlib
import importlib.metadata
import inspect
import json
from pathlib import Path

import pluggy
import pytest
from click.testing import CliRunner

import kehu
from kehu import hookimpl
from kehu.cli import make_cli
from kehu.core import hookspecs
from kehu.core.db import database
from kehu.core.plugins import BUILTIN_PLUGINS, PluginManager, make_plugin_manager

KEHU = Path(kehu.__file__).resolve().parent
CORE_SOURCES = sorted((KEHU / "core").rglob("*.py")) + [KEHU / "cli.py", KEHU / "__init__.py", KEHU / "errors.py"]


# --- helpers ------------------------------------------------------------------------------------------


def run_cli(app, *args):
    """Run ``kehu --db <app's database> ARGS`` in-process with a fresh root group (and a fresh plugin manager)."""
    try:
        return CliRunner().invoke(make_cli(), ["--db", app.url, *args], catch_exceptions=False)
    finally:
        # The CLI opened its own App, which rebound kehu's database proxy; hand it back to the test's app.
        database.initialize(app.db)


def cli_json(app, *args, exit_code=0):
    result = run_cli(app, "--json", *args)
    assert result.exit_code == exit_code, result.output
    return json.loads(result.stdout)


def greetings_stored(workspace_name):
    """Greeting rows of a workspace, read from the table (not through the plugin, which may be disabled)."""
    from kehu.core.models import Workspace
    from kehu_hello.models import Greeting

    workspace = Workspace.get(Workspace.name == workspace_name)
    return [g.message for g in Greeting.select().where(Greeting.workspace == workspace).order_by(Greeting.id)]


@pytest.fixture
def connect(kehu_connect_with):
    """See :func:`kehu.testing.kehu_connect_with`."""
    return kehu_connect_with


@pytest.fixture
def two_workspaces(kehu_app):
    """Workspaces A and B with every built-in (admin ``boss``); ``hello`` enabled in A only."""
    for name in ("A", "B"):
        kehu_app.create_workspace(name, admin="boss")
    kehu_app.workspace("A", user="boss").plugins.enable("hello")
    return kehu_app


# --- discovery ----------------------------------------------------------------------------------------


def test_plugins_list_shows_builtins_and_the_installed_example(kehu_app):
    kehu_app.create_workspace("acme", admin="boss")
    listed = {p["name"]: p for p in cli_json(kehu_app, "-w", "acme", "--as", "boss", "plugins", "list")}
    assert set(listed) >= set(BUILTIN_PLUGINS) | {"hello"}
    for name in BUILTIN_PLUGINS:
        assert listed[name]["builtin"] is True
        assert listed[name]["version"] == kehu.__version__
        assert listed[name]["enabled"] is True
        assert listed[name]["error"] is None
        assert listed[name]["description"]
    hello = listed["hello"]
    assert hello["builtin"] is False
    assert hello["version"] == importlib.metadata.version("kehu-hello")
    assert hello["enabled"] is False
    assert hello["error"] is None
    assert hello["description"] == "Greets every new customer: an example kehu plugin to copy."
    assert "core" not in listed

    table = run_cli(kehu_app, "-w", "acme", "--as", "boss", "plugins", "list")
    assert table.exit_code == 0, table.output
    row = next(line.split() for line in table.stdout.splitlines() if line.startswith("hello "))
    assert row[:4] == ["hello", hello["version"], "False", "False"]


def test_every_builtin_is_registered_through_add_plugin_like_a_third_party_one(monkeypatch):
    calls = []
    original = PluginManager.add_plugin

    def spy(self, name, module, version, builtin):
        calls.append((name, module, builtin))
        return original(self, name, module, version, builtin)

    monkeypatch.setattr(PluginManager, "add_plugin", spy)
    pm = make_plugin_manager()
    registered = {name: (module, builtin) for name, module, builtin in calls}
    assert [name for name, _, _ in calls][:len(BUILTIN_PLUGINS) + 1] == ["core", *BUILTIN_PLUGINS]
    for name in BUILTIN_PLUGINS:
        module = importlib.import_module(f"kehu.plugins.{name}")
        assert registered[name] == (module, True)
        assert pm.get_plugin(name) is module
        assert pm.infos[name].builtin and pm.infos[name].loaded
    import kehu_hello

    assert registered["hello"] == (kehu_hello, False)
    assert pm.get_plugin("hello") is kehu_hello


def _docstring_nodes(tree):
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                yield first.value


def test_core_imports_no_plugin():
    mentions = []
    for path in CORE_SOURCES:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                assert not any(a.name.startswith("kehu.plugins") for a in node.names), f"{path}:{node.lineno}"
            elif isinstance(node, ast.ImportFrom):
                module = node.module or ""
                assert not module.startswith("kehu.plugins"), f"{path}:{node.lineno}"
                assert not (module == "kehu" and any(a.name == "plugins" for a in node.names)), \
                    f"{path}:{node.lineno}"
        docstrings = {id(node) for node in _docstring_nodes(tree)}
        for node in ast.walk(tree):
            if (isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
                    and "kehu.plugins" in node.value):
                mentions.append((path.relative_to(KEHU).as_posix(), node.value))
    # Only the plugin manager names the built-ins' package and the entry point group, as strings.
    assert sorted(mentions) == [("core/plugins.py", "kehu.plugins"), ("core/plugins.py", "kehu.plugins")]


# --- enablement ---------------------------------------------------------------------------------------


def test_a_new_workspace_enables_every_builtin_and_no_third_party_plugin(kehu_app):
    created = kehu_app.create_workspace("acme", admin="boss")
    assert sorted(created["plugins"]) == sorted(BUILTIN_PLUGINS)
    listed = {p["name"]: p["enabled"] for p in kehu_app.workspace("acme").plugins.list()}
    assert listed["hello"] is False
    assert all(listed[name] for name in BUILTIN_PLUGINS)


def test_plugins_option_enables_exactly_those(kehu_app):
    created = cli_json(kehu_app, "workspace", "create", "shop", "--admin", "boss", "--plugins", "hello")
    assert created["plugins"] == ["hello"]
    listed = {p["name"]: p["enabled"] for p in kehu_app.workspace("shop").plugins.list()}
    assert [name for name, enabled in listed.items() if enabled] == ["hello"]
    [workspace] = [w for w in kehu_app.workspaces() if w["name"] == "shop"]
    assert workspace["plugins"] == ["hello"]


def test_an_unknown_plugin_cannot_be_chosen_for_a_new_workspace(kehu_app):
    error = cli_json(kehu_app, "workspace", "create", "shop", "--admin", "boss", "--plugins", "hello,nope",
                     exit_code=1)
    assert error["code"] == "invalid"
    assert "nope" in error["error"]
    assert "shop" not in [w["name"] for w in kehu_app.workspaces()]


def test_hooks_run_only_in_workspaces_that_enabled_the_plugin(two_workspaces):
    app = two_workspaces
    app.workspace("A", user="boss").customers.create(name="杭州茶叶有限公司")
    app.workspace("B", user="boss").customers.create(name="苏州丝绸有限公司")
    assert greetings_stored("A") == ["你好, 杭州茶叶有限公司!"]
    assert greetings_stored("B") == []
    # Batches are announced as batches: one hook call, one greeting per customer.
    outcome = app.workspace("A", user="boss").customers.create_many([{"name": "甲"}, {"name": "乙"}])
    assert len(outcome["created"]) == 2
    assert greetings_stored("A") == ["你好, 杭州茶叶有限公司!", "你好, 甲!", "你好, 乙!"]
    listed = app.workspace("A", user="boss").hello.greetings(limit=2)
    assert [g["message"] for g in listed] == ["你好, 乙!", "你好, 甲!"]


def test_the_plugin_command_works_where_enabled(two_workspaces):
    run_cli(two_workspaces, "-w", "A", "--as", "boss", "customer", "add", "--name", "杭州茶叶有限公司")
    listed = cli_json(two_workspaces, "-w", "A", "--as", "boss", "hello", "greetings", "--limit", "5")
    assert [g["message"] for g in listed] == ["你好, 杭州茶叶有限公司!"]
    run_cli(two_workspaces, "-w", "A", "--as", "boss", "customer", "add", "--name", "苏州丝绸有限公司")
    rest = cli_json(two_workspaces, "-w", "A", "hello", "greetings", "--limit", "0", "--offset", "1")
    assert [g["message"] for g in rest] == ["你好, 杭州茶叶有限公司!"]  # newest first, the first one skipped
    bad = cli_json(two_workspaces, "-w", "A", "hello", "greetings", "--limit", "many", exit_code=1)
    assert bad["code"] == "invalid"


def test_the_plugin_command_fails_where_disabled(two_workspaces):
    error = cli_json(two_workspaces, "-w", "B", "--as", "boss", "hello", "greetings", exit_code=1)
    assert error == {"error": "plugin hello is not enabled in workspace B", "code": "plugin_disabled"}
    plain = run_cli(two_workspaces, "-w", "B", "--as", "boss", "hello", "greetings")
    assert plain.exit_code == 1
    assert plain.stderr.strip() == "Error: plugin hello is not enabled in workspace B"
    assert plain.stdout == ""


def test_the_plugin_service_namespace_fails_where_disabled(two_workspaces):
    with pytest.raises(kehu.PluginDisabled) as caught:
        two_workspaces.workspace("B").hello.greetings()
    assert caught.value.code == "plugin_disabled"
    assert caught.value.message == "plugin hello is not enabled in workspace B"
    assert two_workspaces.workspace("A").hello.greetings() == []


def test_disabling_keeps_the_data_and_enabling_brings_it_back(two_workspaces):
    app = two_workspaces
    app.workspace("A", user="boss").customers.create(name="杭州茶叶有限公司")
    assert app.workspace("A", user="boss").plugins.disable("hello") == \
        {"plugin": "hello", "enabled": False, "changed": True}
    with pytest.raises(kehu.PluginDisabled):
        app.workspace("A").hello.greetings()
    app.workspace("A", user="boss").customers.create(name="苏州丝绸有限公司")  # no hook runs now
    assert greetings_stored("A") == ["你好, 杭州茶叶有限公司!"]

    enabled = cli_json(app, "-w", "A", "--as", "boss", "plugins", "enable", "hello")
    assert enabled == {"plugin": "hello", "enabled": True, "changed": True}
    assert [g["message"] for g in app.workspace("A").hello.greetings()] == ["你好, 杭州茶叶有限公司!"]
    again = cli_json(app, "-w", "A", "--as", "boss", "plugins", "enable", "hello")
    assert again["changed"] is False


def test_enabling_and_disabling_needs_admin(two_workspaces):
    app = two_workspaces
    app.workspace("A", user="boss").users.add("li", role="rep")
    li = app.workspace("A", user="li")
    with pytest.raises(kehu.PermissionDenied):
        li.plugins.disable("hello")
    app.workspace("B", user="boss").users.add("wang", role="rep")
    with pytest.raises(kehu.PermissionDenied):
        app.workspace("B", user="wang").plugins.enable("hello")
    for command in ("enable", "disable"):
        error = cli_json(app, "-w", "A", "--as", "li", "plugins", command, "hello", exit_code=1)
        assert error["code"] == "permission_denied"
    assert "hello" in app.workspace("A").context.enabled
    assert "hello" not in app.workspace("B").context.enabled


def test_disabling_or_enabling_an_unknown_plugin_is_not_found(two_workspaces):
    for command in ("enable", "disable"):
        error = cli_json(two_workspaces, "-w", "A", "--as", "boss", "plugins", command, "nope", exit_code=1)
        assert error == {"error": "no plugin 'nope' is installed", "code": "not_found"}
    with pytest.raises(kehu.NotFound):
        two_workspaces.workspace("A", user="boss").plugins.disable("core")  # core is not optional


# --- broken and misspelled plugins --------------------------------------------------------------------


@pytest.fixture
def broken_plugin_installed(tmp_path, monkeypatch):
    """A distribution on sys.path whose ``kehu.plugins`` entry point names a module that fails to import."""
    dist_info = tmp_path / "kehu_broken-0.3.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: kehu-broken\nVersion: 0.3\n")
    (dist_info / "entry_points.txt").write_text("[kehu.plugins]\nbroken = kehu_broken_example\n")
    (tmp_path / "kehu_broken_example.py").write_text('raise ImportError("needs libfoo, which is not installed")\n')
    monkeypatch.syspath_prepend(str(tmp_path))  # also invalidates the import caches
    assert "broken" in [ep.name for ep in importlib.metadata.entry_points(group="kehu.plugins")]
    return "ImportError: needs libfoo, which is not installed"


def test_a_broken_plugin_is_listed_with_its_error_and_does_not_break_the_cli(kehu_app, broken_plugin_installed,
                                                                            caplog):
    pm = make_plugin_manager()
    assert pm.infos["broken"].error == broken_plugin_installed
    assert pm.infos["broken"].version == "0.3"
    assert pm.get_plugin("broken") is None
    assert "broken" not in pm.optional_plugins
    assert pm.get_plugin("hello") is not None  # the others still load

    kehu_app.create_workspace("acme", admin="boss")
    listed = {p["name"]: p for p in cli_json(kehu_app, "-w", "acme", "--as", "boss", "plugins", "list")}
    assert listed["broken"]["error"] == broken_plugin_installed
    assert listed["broken"]["enabled"] is False
    assert listed["hello"]["error"] is None
    table = run_cli(kehu_app, "-w", "acme", "--as", "boss", "plugins", "list")
    assert table.exit_code == 0
    assert "broken" in table.stdout
    assert "kehu plugin broken failed to load: " + broken_plugin_installed in caplog.messages  # a warning

    added = cli_json(kehu_app, "-w", "acme", "--as", "boss", "customer", "add", "--name", "杭州茶叶")
    assert added["name"] == "杭州茶叶"
    error = cli_json(kehu_app, "-w", "acme", "--as", "boss", "plugins", "enable", "broken", exit_code=1)
    assert error["code"] == "invalid"
    assert broken_plugin_installed in error["error"]
    created = cli_json(kehu_app, "workspace", "create", "shop", "--admin", "boss")
    assert "broken" not in created["plugins"]


def test_a_misspelled_hook_fails_when_the_manager_is_built():
    class Typo:
        """A plugin whose hook name matches no hookspec."""

        @hookimpl
        def kehu_not_a_hook(self, context):
            pass

    with pytest.raises(pluggy.PluginValidationError, match="kehu_not_a_hook"):
        make_plugin_manager(load_entry_points=False, extra_plugins=[("typo", Typo())])


def test_an_extra_plugin_is_registered_as_third_party():
    class Quiet:
        """Does nothing, quietly."""

        __version__ = "2.0"
        requires = ("leads",)

        @hookimpl
        def kehu_records_created(self, context, entity, records):
            pass

    pm = make_plugin_manager(load_entry_points=False, extra_plugins=[("quiet", Quiet())])
    info = pm.infos["quiet"]
    assert (info.builtin, info.version, info.requires, info.description) == \
        (False, "2.0", ("leads",), "Does nothing, quietly.")
    assert "hello" not in pm.infos  # load_entry_points=False: only core, built-ins and extras


def test_every_hookspec_is_documented():
    specs = [
        (name, function) for name, function in inspect.getmembers(hookspecs, inspect.isfunction)
        if hasattr(function, "kehu_spec")
    ]
    assert len(specs) >= 20
    for name, function in specs:
        assert name.startswith("kehu_"), name
        assert (function.__doc__ or "").strip(), f"hookspec {name} has no docstring"
    pm = make_plugin_manager(load_entry_points=False)
    assert {name for name, _ in specs} == {name for name in dir(pm.hook) if name.startswith("kehu_")}


def test_the_relay_leaves_out_disabled_plugins():
    pm = make_plugin_manager()
    names = lambda caller: {impl.plugin_name for impl in caller.get_hookimpls()}  # noqa: E731
    assert "hello" in names(pm.relay({"hello"}).kehu_records_created)
    assert "hello" not in names(pm.relay(set(BUILTIN_PLUGINS)).kehu_records_created)
    assert names(pm.relay(set()).kehu_register_models) == {"core"}  # core is always on
    assert pm.relay({"hello"}) is pm.relay(["hello"])  # one relay per set of plugins


# --- vetoes -------------------------------------------------------------------------------------------


class NoBadCustomers:
    """Refuses customers named "bad"."""

    def __init__(self, reason):
        self.reason = reason

    @hookimpl
    def kehu_before_create(self, context, entity, records):
        if entity != "customer":
            return None
        return [kehu.Veto(self.reason) if record["name"] == "bad" else None for record in records]


def test_a_veto_refuses_the_record_where_the_plugin_is_enabled(kehu_app, connect):
    app = connect(plugins=[("vetoer", NoBadCustomers("no bad customers"))])
    for name in ("A", "B"):
        app.create_workspace(name, admin="boss")
    assert app.workspace("A", user="boss").plugins.enable("vetoer")["changed"] is True

    a = app.workspace("A", user="boss")
    with pytest.raises(kehu.Vetoed) as caught:
        a.customers.create(name="bad")
    assert caught.value.code == "vetoed"
    assert "no bad customers" in caught.value.message
    assert a.customers.list(search="bad") == []

    outcome = a.customers.create_many([{"name": "good one"}, {"name": "bad"}, {"name": "good two"}])
    assert [c["name"] for c in outcome["created"]] == ["good one", "good two"]
    assert outcome["rejected"] == [{"index": 1, "error": "no bad customers", "code": "vetoed"}]

    # B did not enable the vetoer: its hook never runs there.
    assert app.workspace("B", user="boss").customers.create(name="bad")["name"] == "bad"


@pytest.mark.parametrize("order", [("first", "second"), ("second", "first")])
def test_every_veto_is_reported_whatever_the_registration_order(kehu_app, connect, order):
    reasons = {"first": "blocked by first", "second": "blocked by second"}
    app = connect(plugins=[(name, NoBadCustomers(reasons[name])) for name in order])
    app.create_workspace("A", admin="boss")
    for name in order:
        app.workspace("A", user="boss").plugins.enable(name)

    a = app.workspace("A", user="boss")
    with pytest.raises(kehu.Vetoed) as caught:
        a.customers.create(name="bad")
    assert caught.value.code == "vetoed"
    assert sorted(caught.value.message.split("; ")) == sorted(reasons.values())

    outcome = a.customers.create_many([{"name": "bad"}, {"name": "fine"}])
    assert [c["name"] for c in outcome["created"]] == ["fine"]
    [rejected] = outcome["rejected"]
    assert (rejected["index"], rejected["code"]) == (0, "vetoed")
    assert sorted(rejected["error"].split("; ")) == sorted(reasons.values())
