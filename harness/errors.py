"""Errors meant for people: one line naming the bad value and what would be valid."""

import difflib

import click


class HarnessError(click.ClickException):
    """A problem with the user's input or environment; the CLI prints it and exits with 2."""

    exit_code = 2

    def format_message(self) -> str:
        return self.message


def did_you_mean(value: str, choices) -> str:
    """A ' (did you mean X?)' suffix for the closest valid choice, or the list of choices."""
    choices = sorted(choices)
    close = difflib.get_close_matches(value, choices, n=1, cutoff=0.5)
    if close:
        return f" (did you mean '{close[0]}'?)"
    return f" (choose from: {', '.join(choices)})"
