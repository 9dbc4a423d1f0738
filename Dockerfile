# The web UI, built once; only its static files reach the final image.
FROM node:20-slim AS frontend
WORKDIR /frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY frontend/ ./
RUN npm run build

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Shared libraries that opencv (pulled in by ultralytics) loads and slim images lack; the emoji font SceneBench
# (`imgsearch demo`, `imgsearch eval`) renders its objects with.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 fonts-noto-color-emoji \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app

COPY pyproject.toml README.md ./
COPY imgsearch/ imgsearch/
COPY pipeline/ pipeline/
COPY api/ api/
COPY cli/ cli/
COPY es_mappings/ es_mappings/
COPY --from=frontend /frontend/dist frontend/dist

# Editable, so the settings find es_mappings/ (and var/) relative to the source tree in /app.
RUN pip install --no-cache-dir -e .

# /app/var/models exists and belongs to the user before the `models` volume is mounted there:
# Docker seeds a new named volume with the image's directory, owner included.
RUN useradd --uid 10001 --user-group --create-home --shell /usr/sbin/nologin imgsearch \
    && mkdir -p /app/var/data /app/var/models \
    && chown -R imgsearch:imgsearch /app/var

USER imgsearch

ENV IMGSEARCH_HOST=0.0.0.0 \
    IMGSEARCH_PORT=8000

EXPOSE 8000

# No curl in slim images; the standard library does the probe (urlopen raises on errors and non-2xx).
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('IMGSEARCH_PORT', '8000') + '/healthz', timeout=4)"]

CMD ["imgsearch", "serve"]
