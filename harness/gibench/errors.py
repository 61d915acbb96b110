"""The base of the errors a user can act on."""


class GibenchError(Exception):
    """An error a user can act on; the CLI prints its message without a traceback."""
