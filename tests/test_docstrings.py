"""Every public callable carries a complete numpydoc docstring (issue #16, docs site item 2).

``numpydoc.validate`` reads the docstring of every public function and public class
method that ``tests/test_vocabulary.py`` scans (the ``__all__`` of each family) and this
test fails with one line per callable naming what it misses:

- ``GL08`` no docstring at all;
- ``PR01`` a parameter of the signature is not documented, ``PR02`` a documented
  parameter is not in the signature, ``PR03`` they are documented out of order,
  ``PR07`` a documented parameter has no description;
- ``RT01`` no Returns section, ``RT03`` a return value without a description;
- ``EX01`` no Examples section.

Exemptions, each for a reason given where it is made: ``__init__`` (numpydoc puts
the constructor's parameters on the class docstring, which is checked, Examples
included); methods need Parameters and Returns but no Examples of their own (the
class example shows fit / predict); properties and configured instances exported as
constants (``models.CIFAR_PREPROCESS``) are documented by their class. Functions that
return nothing need no Returns section (numpydoc's RT01 only fires on a ``return
<value>``).

The Examples themselves run as doctests (``--doctest-modules`` on ``neurorep/``), so
an example that is present is also one that works. A last test keeps type strings
simple enough for napoleon's type preprocessing (docs/conf.py).
"""

from __future__ import annotations

import importlib
import inspect

import pytest

numpydoc_validate = pytest.importorskip("numpydoc.validate")

from test_vocabulary import FAMILIES, _public_callables  # noqa: E402

# families the vocabulary scan leaves out but whose callables are just as public
EXTRA_FAMILIES = ("decoding", "hftp")

CHECKS = ("GL08", "PR01", "PR02", "PR03", "PR07", "RT01", "RT03", "EX01")

# methods of scikit-learn-style estimators and of small result classes. They document
# their parameters and what they return like any function, but the usage example lives
# once on the class docstring (the one the API page shows): an Examples section on
# each of fit / predict / score / transform would repeat the class example line for line.
METHOD_CHECKS = ("GL08", "PR01", "PR02", "PR03", "PR07", "RT01", "RT03")


def _is_method(qual: str) -> bool:
    return qual.count(".") == 2


def _problems(qual: str, obj: object) -> list[str]:
    func = inspect.unwrap(obj) if callable(obj) else obj
    attr = qual.rsplit(".", 1)[-1]
    if attr == "__init__":
        # numpydoc convention: the constructor's parameters are documented on the class
        return []
    if isinstance(func, property):
        return []
    if not (inspect.isfunction(func) or inspect.ismethod(func) or inspect.isclass(func)):
        # a configured instance exported as a constant (models.CIFAR_PREPROCESS is an
        # ImagePreprocess): its documentation is its class's, checked under that name
        return []
    result = numpydoc_validate.validate(_import_path(qual))
    checks = METHOD_CHECKS if _is_method(qual) else CHECKS
    out = []
    for code, message in result["errors"]:
        if code not in checks:
            continue
        out.append(f"{code} {message}")
    return out


def _import_path(qual: str) -> str:
    fam, *rest = qual.split(".")
    return "neurorep." + fam + "." + ".".join(rest)


def _class_problems(fam: str, name: str, cls: type) -> list[str]:
    """A class documents its constructor's parameters and carries the example."""
    result = numpydoc_validate.validate(f"neurorep.{fam}.{name}")
    return [f"{code} {message}" for code, message in result["errors"]
            if code in ("GL08", "PR01", "PR02", "PR03", "PR07", "EX01")]


def _all_callables() -> list[tuple[str, object]]:
    """_public_callables of tests/test_vocabulary.py, plus those of EXTRA_FAMILIES."""
    return list(_public_callables((*FAMILIES, *EXTRA_FAMILIES)))


def _report() -> dict[str, list[str]]:
    report: dict[str, list[str]] = {}
    for qual, obj in _all_callables():
        problems = _problems(qual, obj)
        if problems:
            report[qual] = problems
    for fam in (*FAMILIES, *EXTRA_FAMILIES):
        mod = importlib.import_module(f"neurorep.{fam}")
        for name in getattr(mod, "__all__", []):
            obj = getattr(mod, name)
            if inspect.isclass(obj) and not issubclass(obj, BaseException):
                problems = _class_problems(fam, name, obj)
                if problems:
                    report[f"{fam}.{name}"] = problems
    return report


def test_every_public_callable_has_a_complete_numpydoc_docstring():
    report = _report()
    lines = [f"{qual}: " + "; ".join(problems) for qual, problems in sorted(report.items())]
    assert not report, (
        f"{len(report)} public callables with incomplete docstrings "
        "(numpydoc validation, codes in tests/test_docstrings.py):\n" + "\n".join(lines)
    )


def test_the_scan_sees_methods_and_functions():
    quals = {q for q, _ in _all_callables()}
    assert {"rsa.evaluate", "decoding.decode", "hftp.compute_spectrum"} <= quals
    assert any(_is_method(q) for q in quals)


def test_type_strings_survive_napoleon_type_preprocessing():
    """docs/conf.py sets ``napoleon_preprocess_types=True``: napoleon splits a type on
    commas (and on "or", "of", braces), so an inline literal holding a comma
    (``DataArray ``(stimulus, unit)``) or a dict literal in a type is cut in two and
    renders as broken markup. Types stay simple; shapes and dims go in the description."""
    import re

    from numpydoc.docscrape import ClassDoc, FunctionDoc

    bad = []
    for qual, obj in _all_callables():
        func = inspect.unwrap(obj)
        if not (inspect.isfunction(func) or inspect.isclass(func)):
            continue
        doc = ClassDoc(func) if inspect.isclass(func) else FunctionDoc(func)
        for section in ("Parameters", "Returns"):
            for param in doc[section]:
                literals = re.findall(r"``(.+?)``", param.type)
                if any("," in lit for lit in literals) or re.search(r"\{[^}]*:", param.type):
                    bad.append(f"{qual} [{section}] {param.name or '(return)'} : {param.type}")
    assert not bad, "types that napoleon would split (move the detail to the description):\n" + (
        "\n".join(bad))
