"""The one exception type a user sees as a single line (the CLI catches it and exits non-zero)."""


class UserError(Exception):
    """Bad input or an unusable environment: the message says what is wrong and what to do."""
