"""The examples in every module's docstrings run and give what they show (they are part of the documentation)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import cyberbudget

MODULES = sorted(m.name for m in pkgutil.walk_packages(cyberbudget.__path__, "cyberbudget."))
#: Modules whose docstrings must show at least one example (the shared foundations and the disclosure rules).
MUST_HAVE_EXAMPLES = {
    "cyberbudget.money", "cyberbudget.formatting", "cyberbudget.reports.disclosure", "cyberbudget.reports.folders",
    "cyberbudget.reports.inputs", "cyberbudget.reports.manifest", "cyberbudget.reports.tables",
    "cyberbudget.policy.rules", "cyberbudget.policy.registry",
}


def test_the_list_of_modules_is_complete():
    assert MUST_HAVE_EXAMPLES <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # examples that resolve a relative name do so from an empty folder
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    if name in MUST_HAVE_EXAMPLES:
        assert result.attempted > 0, f"{name} has no example"
    assert result.failed == 0
