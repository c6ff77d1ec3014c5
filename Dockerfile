# syntax=docker/dockerfile:1
# Suture's image: the operator and the built-in action pack (registered through the
# `suture.actions` entry point, as a third-party pack would be). Not built on the
# project's machines (no container engine there); see README "Installing with Helm".

# Stage 1: build wheels for Suture and every dependency.
FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY operator/ operator/
COPY actions/ actions/
RUN python -m pip wheel --wheel-dir /wheels .

# Stage 2: only the installed wheels; no compiler, no pip cache, no sources.
FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    SUTURE_DATA_DIR=/data
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    python -m pip install --no-index --find-links=/wheels suture \
    && groupadd --gid 10001 suture \
    && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /data --shell /usr/sbin/nologin suture \
    && mkdir -p /data && chown 10001:10001 /data
USER 10001:10001
WORKDIR /data
EXPOSE 8080
ENTRYPOINT ["suture"]
CMD ["run"]
