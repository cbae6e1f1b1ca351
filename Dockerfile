# Switchboard's container image: one image for the API (`switchboard serve`, the default) and
# the worker (`switchboard worker`, set as the command). Operations: docs/operations.md.
#
#   docker build -t switchboard .
#   docker compose --env-file deploy.env up -d      (compose.yaml)
#
# No secret is baked in: every setting comes from the environment at run time.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- Build: a virtual environment with the package and its dependencies ----------------------
FROM ${PYTHON_IMAGE} AS build
# Compilers only here, for any dependency that ships no wheel for this platform.
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/switchboard \
    && /opt/switchboard/bin/pip install --upgrade pip setuptools wheel
WORKDIR /src
COPY pyproject.toml README.md ./
COPY graph ./graph
COPY nodes ./nodes
COPY tools ./tools
COPY knowledge ./knowledge
COPY server ./server
# Not editable: the runtime stage copies only the environment, never the sources.
RUN /opt/switchboard/bin/pip install . \
    && /opt/switchboard/bin/switchboard --help > /dev/null

# --- Run: the environment, a non-root user and a writable data directory --------------------
FROM ${PYTHON_IMAGE}
RUN groupadd --system --gid 10001 switchboard \
    && useradd --system --uid 10001 --gid switchboard --home-dir /home/switchboard \
       --create-home --shell /usr/sbin/nologin switchboard \
    && mkdir -p /data \
    && chown switchboard:switchboard /data
COPY --from=build /opt/switchboard /opt/switchboard
# HOST=0.0.0.0: reachable from outside the container, so startup_checks require an https
# PUBLIC_URL (TLS ends at the proxy in front) unless ALLOW_INSECURE_HTTP=true.
# DATA_DIR: media files (unless MEDIA__S3_BUCKET) and, with no DATABASE_URL / REDIS_URL /
# CHROMA_URL, the embedded stores; mount a volume there.
ENV PATH=/opt/switchboard/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOST=0.0.0.0 \
    PORT=8000 \
    DATA_DIR=/data
WORKDIR /home/switchboard
USER switchboard:switchboard
VOLUME ["/data"]
EXPOSE 8000
# Liveness of the HTTP process, with the standard library (slim images have no curl).
# Readiness (/readyz: Postgres, Redis, Chroma) is for the load balancer, not for restarts.
# A worker container has no HTTP: compose.yaml disables this check for it.
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; url = 'http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8000'); sys.exit(0 if urllib.request.urlopen(url, timeout=4).status == 200 else 1)"]
CMD ["switchboard", "serve"]
