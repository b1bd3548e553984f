# syntax=docker/dockerfile:1
# CueCard API image. Build: docker build -t cuecard .
# Run:     docker run -p 8000:8000 -e CUECARD_DATABASE_URL=... -e CUECARD_JWT_SECRET=... cuecard
#          (another port: -e CUECARD_PORT=9000 -p 9000:9000; the healthcheck follows it)
# Migrate: docker run --rm -e CUECARD_DATABASE_URL=... -e CUECARD_JWT_SECRET=... cuecard cuecard db upgrade

# The base image, pinned to an exact Python patch release and Debian release. Not pinned by
# digest: the digest could not be obtained where this was written (no registry reachable), and
# an unverified digest would be worse than none. To pin it, append the digest that
# `docker buildx imagetools inspect python:3.11.15-slim-bookworm` prints, as `…-bookworm@sha256:…`.
ARG PYTHON_IMAGE=python:3.11.15-slim-bookworm

# --- builder: the locked dependencies, then the project, in a self-contained virtualenv ------
FROM ${PYTHON_IMAGE} AS builder

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
# Dependencies first, from the hashed lock only (`make lock`): this layer is reused until the
# lock changes, however often the source does. Every dependency ships manylinux wheels for
# CPython 3.11: no compiler, nothing from apt.
COPY requirements/run.txt requirements/build.txt requirements/
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir --require-hashes -r requirements/run.txt \
    && pip install --no-cache-dir --require-hashes -r requirements/build.txt

# Then the project itself: built into a wheel with the locked setuptools (installed above in
# the builder's own Python, not in the venv), installed without resolving anything again.
COPY pyproject.toml README.md ./
COPY service/ service/
RUN pip wheel --no-cache-dir --no-deps --no-build-isolation --wheel-dir /tmp/dist . \
    && /opt/venv/bin/pip install --no-cache-dir --no-deps /tmp/dist/cuecard-*.whl

# --- runtime: the virtualenv, the migrations, and nothing else -----------------------------
FROM ${PYTHON_IMAGE} AS runtime

# CUECARD_PORT is read by `cuecard serve` (its --port default) and by the healthcheck, so
# changing it in one place moves both.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    CUECARD_ENV=production \
    CUECARD_VAR_DIR=/app/var \
    CUECARD_HOST=0.0.0.0 \
    CUECARD_PORT=8000

# A fixed, numeric, unprivileged uid/gid (Kubernetes runAsNonRoot can verify it).
RUN groupadd --system --gid 10001 cuecard \
    && useradd --system --uid 10001 --gid 10001 --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin cuecard \
    && mkdir -p /app/var \
    && chown 10001:10001 /app/var

# Same base image and path as the builder, so the venv's interpreter links stay valid.
COPY --from=builder /opt/venv /opt/venv
# `cuecard db upgrade` finds ./migrations from WORKDIR (read-only, owned by root).
COPY migrations/ /app/migrations/

WORKDIR /app
USER 10001:10001
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; u.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('CUECARD_PORT', '8000'), timeout=4)"]

CMD ["cuecard", "serve"]
