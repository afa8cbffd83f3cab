# Guichet's container image: the portal, its worker and its commands, run as a user
# without privileges. `docker build -t guichet .`; compose.yaml runs the production
# reference with it. The same image runs:
#   gunicorn (the default command)    the web server, on port 8000
#   guichet worker [--no-periodic]    the background jobs
#   guichet db upgrade                the migrations, on each release
#   scripts/serve.sh                  the demo, as `make run` starts it (HOST=0.0.0.0)
# BASE: any Debian bookworm image with Python 3.11 and its venv module.
ARG BASE=python:3.11-slim-bookworm

FROM ${BASE} AS assets
RUN apt-get update \
 && apt-get install -y --no-install-recommends nodejs npm \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./
COPY scripts/vendor.mjs scripts/
RUN npm ci --omit=dev --no-audit --no-fund --loglevel=error

FROM ${BASE}
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/app/.venv/bin:$PATH \
    GUICHET_INSTANCE_PATH=/data \
    GUICHET_LOG_FORMAT=json
RUN useradd --create-home --uid 10001 guichet \
 && mkdir /data && chown guichet /data
WORKDIR /app
COPY pyproject.toml README.md wsgi.py ./
COPY core core
COPY plugins plugins
COPY templates templates
COPY scripts scripts
COPY --from=assets /src/core/static/vendor core/static/vendor
RUN python3 -m venv .venv \
 && .venv/bin/pip install --no-cache-dir --upgrade pip \
 && .venv/bin/pip install --no-cache-dir -e . \
 && scripts/translations.sh 2>/dev/null \
 && find / -xdev -name __pycache__ -path "/app/*" -prune -exec rm -rf {} +
USER guichet
VOLUME /data
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s \
  CMD ["python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
CMD ["gunicorn", "-w", "4", "-k", "gthread", "--threads", "4", "-b", "0.0.0.0:8000", "wsgi:app"]
