"""Lab images: Dockerfiles and the offline build (build.py)."""
