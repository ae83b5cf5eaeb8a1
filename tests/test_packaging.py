"""The project installs the same way everywhere: pyproject.toml, environment.yml and the lock file agree."""

from __future__ import annotations

import re
import tomllib

import yaml

from cyberbudget import config

ROOT = config.ROOT


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _bound(requirement: str) -> str | None:
    m = re.search(r">=\s*([0-9][^,; ]*)", requirement)
    return m.group(1) if m else None


def _pyproject() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    reqs = project["dependencies"] + [r for extra in project["optional-dependencies"].values() for r in extra]
    return {_name(r): r for r in reqs}


def _conda() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    deps = [d for d in env["dependencies"] if isinstance(d, str)]
    return {_name(d): d for d in deps if _name(d) not in {"python", "pip"}}


def test_environment_yml_names_the_same_packages_as_pyproject():
    assert sorted(_conda()) == sorted(_pyproject())


def test_environment_yml_keeps_the_same_lower_bounds_as_pyproject():
    conda, pip = _conda(), _pyproject()
    mismatched = {n: (conda[n], pip[n]) for n in pip if _bound(conda[n]) != _bound(pip[n])}
    assert mismatched == {}


def test_environment_yml_installs_the_package_itself_with_pip():
    env = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    pip_sections = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert pip_sections == [["-e ."]]


def test_every_dependency_is_pinned_in_the_lock_file_within_its_lower_bound():
    from packaging.version import Version

    pinned = {}
    for line in (ROOT / "requirements.lock").read_text(encoding="utf-8").splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s;]+)", line)
        if m:
            pinned[m.group(1).lower().replace("_", "-")] = m.group(2)
    for name, req in _pyproject().items():
        assert name in pinned, f"{name} is missing from requirements.lock (run `make lock`)"
        bound = _bound(req)
        if bound:
            assert Version(pinned[name]) >= Version(bound), f"{name}=={pinned[name]} below {req}"


def test_lower_bounds_only_no_upper_pins_for_library_users():
    assert [r for r in _pyproject().values() if "<" in r or "==" in r] == []


def test_every_data_file_of_the_package_is_in_its_package_data():
    """A wheel carries the message catalogues and the app's page template, not only the Python modules."""
    import fnmatch

    globs = tomllib.loads((config.ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"][
        "package-data"]["cyberbudget"]
    package = config.ROOT / "cyberbudget"
    data = [p.relative_to(package).as_posix() for p in package.rglob("*")
            if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts]
    assert data, "the package has data files (catalogues, templates)"
    assert [f for f in data if not any(fnmatch.fnmatch(f, g) for g in globs)] == []
