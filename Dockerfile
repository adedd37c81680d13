# syntax=docker/dockerfile:1
# One image for the six services:
#   docker build -t orderflow:dev .
#   docker run --rm -e CART_KAFKA_BOOTSTRAP_SERVERS=... orderflow:dev cart
# The first argument (or $SERVICE) picks the service; settings are its <SERVICE>_* variables
# (docs/deploy.md). Secrets are never baked in: pass them at run time.

ARG PYTHON_IMAGE=python:3.11-slim

# --- build: the six services and their dependencies, from uv.lock, into /opt/venv --------
FROM ${PYTHON_IMAGE} AS build

# uv as in the Makefile (UV_VERSION), from PyPI.
ARG UV_VERSION=0.13.8
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/venv
RUN pip install "uv==${UV_VERSION}"

WORKDIR /src
ARG PACKAGES="--package orderflow-catalog --package orderflow-cart --package orderflow-payment --package orderflow-inventory --package orderflow-fulfillment --package orderflow-notification"

# Third-party dependencies first: this layer changes only with uv.lock.
COPY pyproject.toml uv.lock ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-install-workspace ${PACKAGES}

# Then orderflow's own packages, installed (not editable) into the venv.
COPY shared/events shared/events
COPY shared/runtime shared/runtime
COPY services services
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable ${PACKAGES}

# --- runtime: python, the venv and two small scripts; no compiler, no uv, no sources -----
FROM ${PYTHON_IMAGE} AS runtime

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

RUN groupadd --system --gid 10001 orderflow \
    && useradd --system --uid 10001 --gid orderflow --home-dir /var/lib/orderflow \
        --no-create-home --shell /usr/sbin/nologin orderflow \
    && install -d -o 10001 -g 10001 -m 0750 /var/lib/orderflow

COPY --from=build /opt/venv /opt/venv
COPY --chmod=0555 deploy/docker/orderflow-service deploy/docker/orderflow-healthcheck /usr/local/bin/

# The embedded SQLite store (no <SERVICE>_DATABASE_URL) lives under ./.data here.
WORKDIR /var/lib/orderflow
USER 10001:10001

EXPOSE 8001 8002 8003 8004 8005 8006
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["orderflow-healthcheck", "/health/live"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["orderflow-service"]
