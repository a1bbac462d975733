"""Declarative two-way key renames between our layout and another one.

A :class:`KeyTable` is a list of ``(ours, theirs)`` template pairs. A
template may hold ``{i}`` (a block index, digits). A template that ends with
``.`` is a prefix: the rest of the key (``weight``, ``running_mean``,
``experts.3.bias``, ...) is carried over unchanged. Any other template
matches the whole key. The first matching row wins, so a table lists the
longer prefix first where two rows overlap.
"""
import re
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from torch import Tensor

StateDict = Dict[str, Tensor]


def _compile(template: str) -> 're.Pattern':
    pattern = re.escape(template).replace(r'\{i\}', r'(?P<i>\d+)')
    if template.endswith('.'):
        pattern += r'(?P<rest>.+)'
    return re.compile(pattern + r'\Z')


def _fill(template: str, match: 're.Match') -> str:
    groups = match.groupdict()
    key = template.replace('{i}', groups['i']) if 'i' in groups else template
    return key + (groups.get('rest') or '')


class KeyTable:
    """Two-way key renames given as ``(ours, theirs)`` templates.

    Args:
        rows (sequence of (str, str)): Template pairs, e.g.
            ``('backbone.blocks.{i}.norm1.', 'backbone.layers.{i}.ln1.')``.
        name (str): Name of the other layout, used in error messages.

    Raises:
        ValueError: If a row pairs a prefix with a whole-key template, or
            only one side holds ``{i}``.
    """

    def __init__(self, rows: Sequence[Tuple[str, str]], name: str) -> None:
        for ours, theirs in rows:
            if (ours.endswith('.') != theirs.endswith('.')
                    or ('{i}' in ours) != ('{i}' in theirs)):
                raise ValueError(f'Inconsistent key table row for {name}: '
                                 f'{ours!r} <-> {theirs!r}')
        self.name = name
        self.rows = tuple(rows)
        self._ours = [(_compile(o), t) for o, t in self.rows]
        self._theirs = [(_compile(t), o) for o, t in self.rows]

    @staticmethod
    def _lookup(key: str, compiled: List) -> Optional[str]:
        for pattern, template in compiled:
            match = pattern.match(key)
            if match:
                return _fill(template, match)
        return None

    def to_theirs(self, key: str) -> Optional[str]:
        """Our key -> their key, or None when no row matches."""
        return self._lookup(key, self._ours)

    def to_ours(self, key: str) -> Optional[str]:
        """Their key -> our key, or None when no row matches."""
        return self._lookup(key, self._theirs)

    def rename(self, state: StateDict, to_ours: bool) -> StateDict:
        """Rename every key of ``state`` in one direction.

        Raises:
            ValueError: Naming the first key that no row matches (a key of
                a module the target layout does not have).
        """
        out = {}
        for key, value in state.items():
            new = self.to_ours(key) if to_ours else self.to_theirs(key)
            if new is None:
                side = self.name if to_ours else 'vitpose_mm'
                other = 'vitpose_mm' if to_ours else self.name
                raise ValueError(
                    f'Key {key!r} of the {side} layout has no counterpart '
                    f'in the {other} layout')
            out[new] = value
        return out


def split_keys(state: StateDict,
               patterns: Iterable[str]) -> Tuple[StateDict, StateDict]:
    """Split ``state`` into (keys matching any regex, the others)."""
    compiled = [re.compile(p) for p in patterns]
    hit, rest = {}, {}
    for key, value in state.items():
        target = hit if any(p.match(key) for p in compiled) else rest
        target[key] = value
    return hit, rest
