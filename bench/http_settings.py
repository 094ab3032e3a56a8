"""The site's settings with one more URL: the minimal Django view the page figures are measured
beside (bench/http_urls.py). Only the benchmarks' server uses it."""

from academy.settings import *  # noqa: F403

ROOT_URLCONF = "bench.http_urls"
