"""The Markdown result tables the benchmark scripts print."""
from typing import Iterable, List, Sequence, Tuple

#: (header, row key, format spec) of one column.
Column = Tuple[str, str, str]


def markdown_table(columns: Sequence[Column], rows: Iterable[dict]) -> str:
    """One Markdown table: a header line, then one line per row dict, each
    cell ``format(row[key], spec)`` (empty for None)."""
    lines: List[str] = [
        '| ' + ' | '.join(header for header, _, _ in columns) + ' |',
        '|' + '---|' * len(columns)
    ]
    for row in rows:
        cells = ('' if row[key] is None else format(row[key], spec)
                 for _, key, spec in columns)
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)
