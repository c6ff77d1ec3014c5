"""What a failure means for someone at a terminal: one line, instead of a traceback.

The CLI prints ``error: `` and the line; ``-v`` adds the traceback before it.
Refusals of the API server say what was refused (not found, forbidden,
unauthorized); failures to get any answer name the server's URL.
"""

from __future__ import annotations

from suture.errors import SutureError
from suture.kubeconfig import ClusterTarget


class CliError(Exception):
    """A failure the CLI reports as one line; ``str()`` is that line, without the ``error:`` prefix."""


def explain(exc: BaseException, target: ClusterTarget | None) -> str:
    """One line saying what ``exc`` means for someone at a terminal."""
    # Imported here: commands that never reach a cluster (validate, crds) should not load the client.
    import aiohttp
    from kubernetes.aio.config import ConfigException

    from suture.kube import ApiError

    server = f" at {target.server}" if target else ""
    if isinstance(exc, ApiError) and exc.status > 0:
        if exc.status == 404:
            return f"not found: {exc.message}"
        if exc.status == 403:
            return f"forbidden: {exc.message}"
        if exc.status == 401:
            return f"unauthorized: the API server{server} did not accept the kubeconfig's credentials"
        return f"the API server{server} answered {exc.status} {exc.reason}: {exc.message}"
    # An ApiError without a status is the client saying no answer came back.
    if isinstance(exc, ApiError | OSError | TimeoutError | aiohttp.ClientError):
        return f"API server unreachable{server}: {no_answer(exc)}"
    if isinstance(exc, ConfigException):
        where = f"kubeconfig {target.kubeconfig}" if target and target.kubeconfig else "the in-cluster configuration"
        return f"{where} cannot be used: {exc}"
    if isinstance(exc, SutureError):
        return str(exc)  # Suture's own errors are already one plain sentence
    return f"{type(exc).__name__}: {exc}"


def no_answer(exc: BaseException) -> str:
    """Why no answer came back, in words: refused, timed out, or what the library said."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, TimeoutError):
            return "no answer in time"
        cause = getattr(cause, "os_error", None) or cause.__cause__
    return str(exc) or type(exc).__name__
