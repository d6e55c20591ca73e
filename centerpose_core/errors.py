"""Exceptions that mean "the user's input is wrong", reported as one line without a traceback."""


class UserError(Exception):
    """A problem with the user's input: the CLI prints it as one line and exits with code 2."""
