"""The one exception type that the command line reports as a one-line error."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

__all__ = ["QnnhwError"]


class QnnhwError(ValueError):
    """A problem the user can fix: bad input, a design that does not fit, a failed tool.

    The message is one line that names the problem and the way out. It may name training or
    hardware parameters as ``@name`` (``name`` listed in ``parameters``): the library shows
    them as the parameter's own name (``beta``), the command line as its flag (``--beta``)
    and an estimator as its constructor argument. The command line prints the message as
    ``error: <message>`` and exits with status 2, without a traceback.

    Parameters
    ----------
    message : str
        The message, with ``@name`` where parameter ``name`` is meant.
    parameters : str or sequence of str
        The parameters the message names (the first is the one at fault).
    """

    def __init__(self, message: str, parameters: str | Sequence[str] = ()):
        self.template = message
        self.parameters = (parameters,) if isinstance(parameters, str) else tuple(parameters)
        super().__init__(self.render())

    def render(self, name_of: Callable[[str], str] = lambda name: name) -> str:
        """The message with each ``@name`` replaced by ``name_of(name)``."""
        if not self.parameters:
            return self.template
        pattern = "|".join(re.escape(name) for name in self.parameters)
        return re.sub(rf"@({pattern})\b", lambda match: name_of(match.group(1)), self.template)

    def __str__(self) -> str:
        return self.render()
