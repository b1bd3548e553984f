# syntax=docker/dockerfile:1
# CueCard API image. Build: docker build -t cuecard .
# Run:     docker run -p 8000:8000 -e CUECARD_DATABASE_URL=... -e CUECARD_JWT_SECRET=... cuecard
# Migrate: docker run --rm -e CUECARD_DATABASE_URL=... -e CUECARD_JWT_SECRET=... cuecard cuecard db upgrade

# --- builder: install the project (non-editable) into a self-contained virtualenv ----------
FROM python:3.11-slim AS builder

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY . .
# Every dependency ships manylinux wheels for CPython 3.11: no compiler, nothing from apt.
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir .

# --- runtime: the virtualenv, the migrations, and nothing else -----------------------------
FROM python:3.11-slim AS runtime

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    CUECARD_ENV=production \
    CUECARD_VAR_DIR=/app/var

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
    CMD ["python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]

CMD ["cuecard", "serve", "--host", "0.0.0.0", "--port", "8000"]
