FROM python:3.11-slim-bookworm
RUN apt-get update && apt-get install -y --no-install-recommends gcc libldap2-dev libsasl2-dev libkrb5-dev gettext \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN django-admin compilemessages --ignore .venv  # the translations' .mo (only the .po are in git)
RUN useradd --system --home /app vdiprotect && chown -R vdiprotect /app
USER vdiprotect
ENV DJANGO_SETTINGS_MODULE=vdiprotect.settings PYTHONUNBUFFERED=1
EXPOSE 8000
