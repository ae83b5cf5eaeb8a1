"""cyberbudget — simulate the allocation of France's 350 M€ cybersecurity envelope for health establishments.

The February 2021 national strategy made State support conditional on 5 to 10 % of an establishment's IT budget
being dedicated to cybersecurity. This package answers who qualifies, who gets what (to the cent), what is left,
what it buys in reduced risk and how sure we are, and writes the reports.

Examples
--------
>>> from cyberbudget import load_establishments, load_scenario, allocate
>>> table = load_establishments()                       # doctest: +SKIP
>>> scenario = load_scenario("scenarios/baseline.yaml")  # doctest: +SKIP
>>> result = allocate(table, scenario)                   # doctest: +SKIP
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("cyberbudget")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"

__all__ = ["__version__", "allocate", "load_establishments", "load_scenario"]


def __getattr__(name: str):  # noqa: ANN202 - lazy re-exports keep `import cyberbudget` light
    if name == "load_establishments":
        from cyberbudget.data.registry import load_establishments

        return load_establishments
    if name == "load_scenario":
        from cyberbudget.policy.scenario import load_scenario

        return load_scenario
    if name == "allocate":
        from cyberbudget.policy.allocation import allocate

        return allocate
    raise AttributeError(f"module 'cyberbudget' has no attribute {name!r}")
