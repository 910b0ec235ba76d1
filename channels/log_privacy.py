"""Keeps patients' words out of the Rasa server's log at the default level.

When an action fails, Rasa 3.6 logs the exception with its traceback at ERROR
(`rasa.core.processor`), and the exception carries the action server's answer, which can hold the
whole conversation. Installed when the Rasa server loads our channels, this filter keeps such
records but replaces the exception by its type: what failed stays visible, what was said does not.
"""

from __future__ import annotations

import logging

# Loggers whose exceptions may carry conversation text.
LOGGERS = ("rasa.core.processor", "rasa.core.actions.action", "rasa.core.agent")


class WithoutExceptionText(logging.Filter):
    """Rewrites a record with an exception into its message and the exception's type only."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            kind = type(record.exc_info[1]).__name__
            record.msg = f"{record.getMessage()} ({kind}; details withheld: they may hold patient text)"
            record.args = None
            record.exc_info = None
            record.exc_text = None
        return True


def install() -> None:
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, WithoutExceptionText) for f in logger.filters):
            logger.addFilter(WithoutExceptionText())
