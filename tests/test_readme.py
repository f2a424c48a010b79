"""The README's promises: two set-up commands, the same test command in CI, and a runnable embedding example."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
TEST_COMMAND = "pip install -e '.[test]' && pip install -e ./examples/kehu-hello && python -m pytest"


def first_screen():
    return README.split("---", 1)[0]


def test_first_screen_has_exactly_the_two_setup_commands():
    commands = [line.strip() for line in first_screen().splitlines() if line.startswith("    ")]
    assert commands == ["pip install . && kehu demo", TEST_COMMAND]


def test_ci_runs_the_readme_test_command():
    assert TEST_COMMAND in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_embedding_example_runs_and_prints_what_it_says(tmp_path):
    code = re.search(r"```python\n(.*?)```", README, re.S).group(1)
    script = tmp_path / "example.py"
    script.write_text(code, encoding="utf-8")
    for _ in range(2):  # running it again on the same file must work too
        done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, done.stderr
        assert done.stdout.splitlines() == ["Suzhou Silk Co. mei", "permission_denied"]
