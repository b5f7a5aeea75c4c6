"""Errors that the CLI reports as one clear line, without a traceback."""


class UserError(Exception):
    """A mistake the user can fix: bad input file, wrong parameter, missing data."""


class DataError(UserError):
    """A dataset on disk is missing, malformed or unreadable."""
