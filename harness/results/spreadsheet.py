"""CSV cells a spreadsheet would run as formulas (OWASP "CSV injection"): a text starting with
= + - @, a tab or a carriage return is written with a leading apostrophe, which spreadsheets
show as text and this harness takes off again when it reads its own files. A text that already
starts with apostrophes before such a character gets one more, so reading gives it back as it
was; any other text is written as it is.

    frame = guard(frame); frame.to_csv(...)        # every CSV the harness writes
    frame = unguard(pd.read_csv(...))              # the harness reading its own
"""

from __future__ import annotations

import pandas as pd

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def _formula_like(text: str) -> bool:
    return text.lstrip("'")[:1] in TRIGGERS


def guarded(value):
    return "'" + value if isinstance(value, str) and _formula_like(value) else value


def unguarded(value):
    return value[1:] if isinstance(value, str) and value[:1] == "'" and _formula_like(value) \
        else value


def guard(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with its text cells guarded (numbers, including negative ones, as they are)."""
    return _map_text(frame, guarded)


def unguard(frame: pd.DataFrame) -> pd.DataFrame:
    return _map_text(frame, unguarded)


def _map_text(frame: pd.DataFrame, function) -> pd.DataFrame:
    frame = frame.copy()
    for column in frame.columns:
        if not pd.api.types.is_numeric_dtype(frame[column]):
            frame[column] = frame[column].map(function)
    return frame
