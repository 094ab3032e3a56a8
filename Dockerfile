# The academy's one image. Every process runs it with its own command (docker-compose.yml): the
# web, beat, the site worker, and on each lab host its Celery workers, terminal gateway, fault
# relay and the one-shot build of its lab images. The lab images themselves are not in here:
# each lab host builds them against its own engine (`manage.py build_lab_images`).
#
#   docker build -t academy:latest .

# --- Browser packages: xterm.js and jQuery UI (served as static files) and the pinned JSON-LD
# contexts certificates are signed over (read from node_modules at run time). No dev packages.
FROM node:20-bookworm-slim AS browser-packages
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --ignore-scripts --loglevel=error

# --- The application ----------------------------------------------------------------------------
# Debian bookworm, the release the lab images are bootstrapped from (labs/images/build.py).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    ACADEMY_VAR_DIR=/var/lib/academy

# Run-time system packages, as scripts/bootstrap.sh lists them: Pango and HarfBuzz for the
# certificate PDF (WeasyPrint) and DejaVu for its letters; gettext to compile the Spanish
# catalogue. debootstrap, wget and the Debian keyring are for the lab-image builder only
# (`build_lab_images` bootstraps the labs' base image; it runs as root, see docker-compose.yml).
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core \
        gettext \
        debootstrap wget debian-archive-keyring \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app

# Dependencies first, from pyproject.toml alone, so that a code change does not reinstall them.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
    && pip install --requirement /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# The project itself. Installed editable, as scripts/bootstrap.sh does: settings find templates,
# static files, translations and content/ beside the code, in /app.
COPY . .
COPY --from=browser-packages /src/node_modules ./node_modules
RUN pip install --no-deps --editable .

# Translations and static files are part of the image, so every replica serves the same ones.
# collectstatic runs with production's storage (a manifest of hashed names, as WhiteNoise serves
# them in production); the values below only let the settings load, nothing else uses them.
RUN python manage.py compilemessages --ignore=node_modules \
    && ACADEMY_ENV=production SECRET_KEY=image-build-only DATABASE_URL=sqlite:////tmp/unused.sqlite3 \
        SITE_URL=https://image-build.invalid python manage.py collectstatic --noinput

# A user of its own, with no login shell. The code and the collected static files
# (ACADEMY_VAR_DIR/static) stay root's, read-only to it; it writes only in ACADEMY_VAR_DIR itself
# and in the issuer key's folder (a volume in docker-compose.yml).
RUN groupadd --system --gid 10001 academy \
    && useradd --system --uid 10001 --gid academy --home-dir /var/lib/academy \
        --shell /usr/sbin/nologin academy \
    && mkdir -p /run/academy/issuer \
    && chown academy:academy /var/lib/academy \
    && chown -R academy:academy /run/academy
USER academy

EXPOSE 8000
# The web's command; docker-compose.yml gives each other process its own.
CMD ["uvicorn", "academy.asgi:application", "--host", "0.0.0.0", "--port", "8000", \
     "--ws-max-size", "65536", "--workers", "2"]
