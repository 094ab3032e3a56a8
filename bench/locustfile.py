"""The load of the page figures (bench/loadgen.py runs it headless): each simulated user asks
for one path again and again with no pause, signed in by the cookie it is given.

    BENCH_PATH=/en/... BENCH_COOKIE='sessionid=...' locust -f bench/locustfile.py --headless ...
"""

import os

from locust import FastHttpUser, constant, task


class Learner(FastHttpUser):
    wait_time = constant(0)

    @task
    def page(self) -> None:
        headers = {"Cookie": os.environ["BENCH_COOKIE"]} if os.environ.get("BENCH_COOKIE") else {}
        name = os.environ.get("BENCH_NAME", os.environ["BENCH_PATH"])
        with self.client.get(
            os.environ["BENCH_PATH"], headers=headers, name=name, catch_response=True
        ) as response:
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}")
