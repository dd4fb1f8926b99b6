"""The one exception type that the command line reports as a one-line error."""


class QnnhwError(Exception):
    """A problem the user can fix: bad input, a design that does not fit, a failed tool.

    The message is one line that names the problem and the way out. The command line prints
    it as ``error: <message>`` and exits with status 2, without a traceback.
    """
