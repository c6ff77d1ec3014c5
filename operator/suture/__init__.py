"""Suture: a Kubernetes operator that remediates Prometheus alerts.

The public face is the ``suture`` command line and the custom resources in
:mod:`suture.api`; every other module is free to change between releases.
"""

__version__ = "0.1.0"
