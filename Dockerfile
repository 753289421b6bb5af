FROM python:3.11-slim-bookworm
RUN apt-get update && apt-get install -y --no-install-recommends \
      libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-wqy-microhei \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV FLASK_APP=backend.app:create_app PYTHONUNBUFFERED=1
COPY pyproject.toml requirements.lock ./
COPY backend backend
COPY methodologies methodologies
COPY mobile_web mobile_web
COPY admin admin
COPY migrations migrations
COPY gunicorn.conf.py babel.cfg ./
RUN pip install --no-cache-dir --require-hashes -r requirements.lock \
    && pip install --no-cache-dir --no-deps --no-build-isolation . \
    && pybabel compile -d backend/translations
RUN useradd --system carbon && chown -R carbon /app
USER carbon
EXPOSE 8000
