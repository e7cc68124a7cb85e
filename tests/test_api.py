"""The public API keeps its conventions: few positional arguments, no positional booleans."""

from __future__ import annotations

import inspect

import rnaheat as rh


def _public_functions():
    import rnaheat.io

    for module in (rh, rh.de, rh.transform, rh.pl, rnaheat.io):
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isfunction(obj):
                yield f"{module.__name__}.{name}", obj


def test_at_most_two_positional_arguments_and_no_positional_booleans():
    offenders = []
    for name, func in _public_functions():
        params = inspect.signature(func).parameters.values()
        positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        if len(positional) > 2:
            offenders.append(f"{name}: {len(positional)} positional arguments")
        offenders += [
            f"{name}: positional boolean {p.name}"
            for p in positional
            if p.annotation in (bool, "bool")
        ]
    assert offenders == []


def test_public_functions_are_documented():
    missing = [name for name, func in _public_functions() if not inspect.getdoc(func)]
    assert missing == []
