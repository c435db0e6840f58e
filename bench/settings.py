"""Settings for the benchmark server: the project's settings plus the baseline endpoints."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
