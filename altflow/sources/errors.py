"""The one error type every source raises: a single line naming source, dataset and reason."""

from __future__ import annotations


class SourceError(RuntimeError):
    """A source could not deliver usable data; the message is one line for the user.

    ``url`` is where the failed request went (or the payload came from), when known, so a
    failure can be recorded against the endpoint without parsing the message.
    """

    def __init__(
        self,
        source: str,
        dataset: str,
        reason: str,
        status: int | None = None,
        url: str | None = None,
    ) -> None:
        self.source = source
        self.dataset = dataset
        self.status = status  # the HTTP status that caused it, if any
        self.url = url
        self.reason = " ".join(str(reason).split())
        super().__init__(f"{source} {dataset}: {self.reason}")
