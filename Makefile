# The two commands: `make run` and `make test`. Each installs what is missing first.
VENV := .venv
PY := $(VENV)/bin/python
MANAGE := $(PY) manage.py
PYTEST_WORKERS ?= 2

.PHONY: run test types bench setup setup-test prepare docker images check-catalogue messages format clean

run: setup docker prepare images
	@echo
	@echo "  The academy is at http://127.0.0.1:8000  (Ctrl-C stops it)"
	@echo "  Admin: create an account with '$(MANAGE) createsuperuser', then open /admin/"
	@echo
	@# DEBUG is off unless set: on here, for local development (tracebacks, no cached templates).
	@# Warm pools sized from this machine (labs.services.provisioning.warm_pool_size), kept
	@# full by the reaper in the background; LAB_WARM_POOL_SIZE=0 turns them off.
	DJANGO_DEBUG=$${DJANGO_DEBUG:-1} LAB_WARM_POOL_SIZE=$${LAB_WARM_POOL_SIZE:-auto} \
		$(VENV)/bin/honcho start --procfile Procfile

test: setup-test docker images
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m mypy
	$(MANAGE) makemigrations --check --dry-run
	$(MANAGE) compilemessages --ignore=.venv --ignore=node_modules
	$(PY) scripts/check_catalogue.py
	@# Two processes, a test file each at a time: browser and engine tests mostly wait, so two
	@# share two cores well (PYTEST_WORKERS=0 runs in one process; each has its own database,
	@# Redis database, Celery worker and queue, so they never see each other's labs).
	@# On the production path: PostgreSQL and Redis, started (and installed from Debian's
	@# packages when missing) by scripts/test-services.sh; ACADEMY_TEST_DB=sqlite runs the suite
	@# on the embedded defaults instead, as `make run` serves.
	services="$$(scripts/test-services.sh)" && eval "$$services" && \
		$(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadfile

# Types: mypy with django-stubs (pyproject.toml [tool.mypy]: strict on labs, certifications and
# workshops, a baseline elsewhere); incremental, with its cache in .mypy_cache.
types: setup-test
	$(PY) -m mypy

# Benchmarks: every figure beside a baseline measured in the same run, one table, and
# var/bench/<timestamp>.json (bench/run.py; BENCH_ARGS=--quick for small counts).
bench: setup docker images
	@bench/install.sh
	$(PY) bench/run.py $(BENCH_ARGS)

setup:
	@scripts/bootstrap.sh run

# A Docker engine for the labs: found, or installed and started (as root on Debian/Ubuntu).
docker:
	@scripts/ensure-docker.sh

# Lab images, built without a registry; cached, so a second run builds nothing.
images:
	$(MANAGE) build_lab_images

setup-test:
	@scripts/bootstrap.sh test

# Database, compiled translations and content: what the site needs before it serves.
prepare:
	$(MANAGE) migrate --noinput
	@# The certificates' signing key, outside the repository (docs/certificates.md).
	$(MANAGE) issuer_key create --if-missing
	$(MANAGE) compilemessages --ignore=.venv --ignore=node_modules
	$(MANAGE) sync_content

# For contributors: refresh the Spanish catalogue after adding strings, then translate them.
messages:
	$(MANAGE) makemessages --locale es --no-obsolete --ignore=.venv --ignore=node_modules --ignore=var

check-catalogue:
	$(PY) scripts/check_catalogue.py

format:
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf var .pytest_cache .ruff_cache .mypy_cache
