"""The README stays true: its command table is what the binary answers, and the commands it
tells a new user to run exist."""
import os

import readme_table
from modemsim import ROOT


def test_command_table_matches_the_binary():
    text, start, end = readme_table.current()
    assert text[start:end].strip() == readme_table.table(), \
        "README command table is stale: run /usr/bin/python3 harness/readme_table.py --write"


def test_setup_scripts_exist_and_are_executable():
    text = open(os.path.join(ROOT, "README.md")).read()
    for script in (".ci/demo", ".ci/test", ".ci/run"):
        assert script in text
        assert os.access(os.path.join(ROOT, script), os.X_OK), script
