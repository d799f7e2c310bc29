# SPDX-License-Identifier: MIT
"""libjr's option table: every key jr_options_set knows, with its type, range
and default, read from the library itself (jr_options_describe)."""
from typing import NamedTuple

from ._native import ext

__all__ = ['OptionInfo', 'describe_options']


class OptionInfo(NamedTuple):
    """One libjr option key."""
    name: str
    type: str  # 'int', 'bool' (0 or 1), 'string' or 'enum' (a word the doc names)
    min: int  # the range of an int or bool (0 and 0 for the others)
    max: int
    default: str  # as text ('' when there is none)
    doc: str


def describe_options() -> list[OptionInfo]:
    """Every option key libjr knows, in libjr's order."""
    return [OptionInfo(*row) for row in ext.options_describe()]


_table: dict[str, OptionInfo] | None = None


def _option(name: str) -> OptionInfo:
    """The row of one key (KeyError if libjr does not know it)."""
    global _table
    if _table is None:
        _table = {o.name: o for o in describe_options()}
    return _table[name]
