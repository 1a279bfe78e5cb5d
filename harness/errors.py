"""Errors meant for people: one line naming the bad value and what would be valid.

Every command runs under `HarnessGroup`, the one handler: a HarnessError prints one line and
exits 2; any other exception (a bug, or the system refusing a file) prints one line too, with
the hint to rerun with HARNESS_DEBUG=1 for the traceback, and exits 2.
"""

import difflib
import os
import sys

import click

DEBUG_ENV = "HARNESS_DEBUG"


class HarnessError(click.ClickException):
    """A problem with the user's input or environment; the CLI prints it and exits with 2."""

    exit_code = 2

    def format_message(self) -> str:
        # One line even when a wrapped library message had several.
        return " ".join(self.message.splitlines())


def did_you_mean(value: str, choices) -> str:
    """A ' (did you mean X?)' suffix for the closest valid choice, or the list of choices."""
    choices = sorted(choices)
    close = difflib.get_close_matches(value, choices, n=1, cutoff=0.5)
    if close:
        return f" (did you mean '{close[0]}'?)"
    return f" (choose from: {', '.join(choices)})"


def one_line(err: BaseException, limit: int = 200) -> str:
    """The first line of an exception's message, cut to `limit` characters."""
    text = str(err).strip()
    return (text.splitlines()[0][:limit] if text else "") or type(err).__name__


def unexpected(err: Exception) -> HarnessError:
    """The one line shown for an exception nobody turned into a HarnessError."""
    hint = f"rerun with {DEBUG_ENV}=1 for the traceback"
    if isinstance(err, OSError) and err.filename:  # the system refused a file: name it
        return HarnessError(f"cannot use '{err.filename}': {err.strerror or one_line(err)} "
                            f"({hint})")
    return HarnessError(f"unexpected error {type(err).__name__}: {one_line(err)} "
                        f"(a bug; {hint} and report it)")


ARGV = "harness.argv"


class HarnessGroup(click.Group):
    """A click group whose commands never show a raw traceback unless HARNESS_DEBUG is set,
    and that keeps the arguments it was given (`ARGV` in the context's meta: a record says
    what command made it)."""

    def make_context(self, info_name, args, parent=None, **extra):
        given = list(args)
        ctx = super().make_context(info_name, args, parent=parent, **extra)
        ctx.meta[ARGV] = [str(arg) for arg in given]
        return ctx

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.Abort):
            raise  # click's own: already one line with the right exit code
        except BrokenPipeError:
            # The reader went away (`harness list settings | head`): nothing more to say to it,
            # and Python must not complain on exit while flushing to the closed pipe.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(141)
        except Exception as err:
            if os.environ.get(DEBUG_ENV, "") not in ("", "0"):
                raise
            raise unexpected(err) from err
