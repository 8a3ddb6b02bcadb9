"""The runnable examples in docstrings (model/, regspec/, regspec/common/, impl's entry points) still run."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import regspec
import regspec.common
import regspec.model

MODULES = sorted(
    {f"regspec.{m.name}" for m in pkgutil.iter_modules(regspec.__path__) if m.name not in ("model", "impl")}
    | {f"regspec.model.{m.name}" for m in pkgutil.iter_modules(regspec.model.__path__)}
    | {"regspec.model", "regspec.impl", "regspec.impl.observe"}
    | {f"regspec.common.{m.name}" for m in pkgutil.iter_modules(regspec.common.__path__)}
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
