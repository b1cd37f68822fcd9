"""Opt-in answers for evaluations: a simulated model that solves arithmetic, right for a configured share of
prompts and wrong for the rest, so an evaluation over the simulator sees models of different quality.

Only arithmetic, because the simulator must know the right answer without a model; which prompts a model gets
wrong is a hash of (model, prompt), not a random draw, so a run is repeatable whatever the request order.
"""

from __future__ import annotations

import ast
import hashlib
import re

__all__ = ["answer", "solve"]

# A run of numbers, operators and brackets with at least one operator between two numbers.
_EXPRESSION = re.compile(r"[\d(][\d\s.()+\-*/\u00d7\u00f7]*[+\-*/\u00d7\u00f7][\d\s.()+\-*/\u00d7\u00f7]*[\d)]")
_OPERATORS = {ast.Add: float.__add__, ast.Sub: float.__sub__, ast.Mult: float.__mul__, ast.Div: float.__truediv__}


def _evaluate(node: ast.AST) -> float:
    if isinstance(node, ast.Expression):
        return _evaluate(node.body)
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool):
        return float(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_evaluate(node.operand)
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        return _OPERATORS[type(node.op)](_evaluate(node.left), _evaluate(node.right))
    raise ValueError("not plain arithmetic")


def solve(text: str) -> float | None:
    """The value of the first arithmetic expression in ``text`` (``+ - * /``, the
    multiplication and division signs, brackets), if any."""
    match = _EXPRESSION.search(text)
    if match is None:
        return None
    source = match.group().replace("\u00d7", "*").replace("\u00f7", "/")
    try:
        return _evaluate(ast.parse(source.strip(), mode="eval"))
    except (SyntaxError, ValueError, ZeroDivisionError):
        return None


def answer(model: str, text: str, accuracy: float) -> str | None:
    """Just the number, as a model told to answer with the number only would; ``None`` when there is nothing to
    solve. Wrong answers are the right one plus 1 to 9."""
    value = solve(text)
    if value is None:
        return None
    digest = hashlib.sha256(f"{model}\0{text}".encode()).digest()
    if int.from_bytes(digest[:8], "big") / 2**64 >= accuracy:
        value += 1 + digest[8] % 9
    return str(int(value)) if value.is_integer() else f"{value:.6g}"
