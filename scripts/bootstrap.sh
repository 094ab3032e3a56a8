#!/usr/bin/env bash
# Installs what is missing for `make run` (mode "run") or `make test` (mode "test"):
# system packages (as root on Debian or Ubuntu), the virtualenv and the pinned Python packages.
# Safe to run again: each step is skipped when its result is already there.
set -euo pipefail
mode="${1:-run}"
cd "$(dirname "$0")/.."

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

# --- System packages -------------------------------------------------------------------------
missing=()
command -v msgfmt >/dev/null 2>&1 || missing+=(gettext)
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || missing+=(python3-venv)
# The browser terminal's packages (package.json) are served as static files; Debian's npm
# brings nodejs with it.
command -v npm >/dev/null 2>&1 || missing+=(npm)
# The certificate PDF: WeasyPrint loads Pango and HarfBuzz at run time (its documented Debian
# packages) and draws with DejaVu, which has every Spanish letter and sign (á é í ó ú ü ñ ¿ ¡).
# A clean Debian has none of them. (No `ldconfig -p | grep -q`: with pipefail, grep leaving
# early makes the pipeline fail even on a match.)
shared_libs="$(PATH="$PATH:/sbin:/usr/sbin" ldconfig -p 2>/dev/null || true)"
has_lib() { case "$shared_libs" in *"$1"*) return 0 ;; *) return 1 ;; esac; }
has_lib libpango-1.0.so.0 || missing+=(libpango-1.0-0)
has_lib libpangoft2-1.0.so.0 || missing+=(libpangoft2-1.0-0)
has_lib libharfbuzz-subset.so.0 || missing+=(libharfbuzz-subset0)
dejavu=/usr/share/fonts/truetype/dejavu
{ [ -f "$dejavu/DejaVuSans.ttf" ] && [ -f "$dejavu/DejaVuSerif-Bold.ttf" ] \
    && [ -f "$dejavu/DejaVuSansMono.ttf" ]; } || missing+=(fonts-dejavu-core)
if [ "$mode" = test ]; then
    command -v chromium >/dev/null 2>&1 || missing+=(chromium)
    # The PDF tests read the certificate back (pdftotext, pdfinfo, pdfdetach, pdftoppm) and
    # scan its printed QR code (zbarimg).
    command -v pdftotext >/dev/null 2>&1 || missing+=(poppler-utils)
    command -v zbarimg >/dev/null 2>&1 || missing+=(zbar-tools)
fi
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        say "Installing system packages: ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
    else
        echo "Missing system packages: ${missing[*]}" >&2
        echo "Install them with your package manager (on Debian or Ubuntu:" >&2
        echo "  sudo apt-get install ${missing[*]}) and run this command again." >&2
        exit 1
    fi
fi

# --- Python packages -------------------------------------------------------------------------
if [ ! -x .venv/bin/python ]; then
    say "Creating the virtualenv in .venv"
    python3 -m venv .venv
fi
extras=""
[ "$mode" = test ] && extras="[dev]"
stamp=".venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)${extras:+-dev}"
if [ ! -f "$stamp" ]; then
    say "Installing Python packages (pinned in pyproject.toml)"
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet --editable ".${extras}"
    touch "$stamp"
fi

# --- Browser packages ------------------------------------------------------------------------
# Pinned in package-lock.json, installed into node_modules/ (never committed), served from there
# by STATICFILES_DIRS. No bundler and no install scripts.
node_stamp="node_modules/.installed-$(sha256sum package-lock.json | cut -c1-16)"
if [ ! -f "$node_stamp" ]; then
    say "Installing browser packages (pinned in package-lock.json)"
    npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
    touch "$node_stamp"
fi
mkdir -p var/static
