"""Serving the receiver's application inside the operator's event loop."""

from __future__ import annotations

import ssl

from aiohttp import web


def tls_context(*, cert_file: str, key_file: str) -> ssl.SSLContext:
    """A server TLS context from PEM files; raises OSError/ssl.SSLError naming what is wrong."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert_file, key_file)
    return context


async def serve(app: web.Application, *, host: str, port: int, tls: ssl.SSLContext | None = None) -> web.AppRunner:
    """Start serving ``app`` on ``host:port`` (in the running loop); ``await runner.cleanup()`` stops it.

    Raises OSError when the address cannot be bound.
    """
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=5.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port, ssl_context=tls)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner
