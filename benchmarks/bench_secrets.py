"""Secret redaction as a process registers more and more secrets (tokens renewed for days,
private keys of many stores): the cost of registering one more secret and of redacting one
log line, with few and with many secrets registered.

Goals: registering and redacting with 2,000 tokens and 20 private keys registered cost at
most 10x what they cost with 10 tokens registered (a pattern rebuilt from every secret on
each registration grows with their total length instead).
"""

from __future__ import annotations

import secrets
import time

from benchutil import goal, run_with_goals

from eostores.credentials import redact_text, register_secret

SAMPLES = 200
LINE = ("GET https://api.example.org/items?page=7 returned 200 after 0.31 s; " * 30)[:2048]


def token() -> str:
    return secrets.token_urlsafe(32)


def private_key_like() -> str:
    body = "\n".join(secrets.token_urlsafe(48)[:64] for _ in range(25))
    return f"-----BEGIN PRIVATE KEY-----\n{body}\n-----END PRIVATE KEY-----\n"


def per_call_seconds(call, samples: int = SAMPLES) -> float:
    started = time.perf_counter()
    for _ in range(samples):
        call()
    return (time.perf_counter() - started) / samples


def measure() -> tuple[float, float]:
    """Seconds to register one new token and to redact one 2 KB line."""
    register = per_call_seconds(lambda: register_secret(token()))
    redact = per_call_seconds(lambda: redact_text(LINE))
    return register, redact


def main() -> None:
    for _ in range(10):
        register_secret(token())
    few = measure()
    for _ in range(2000):
        register_secret(token())
    for _ in range(20):
        register_secret(private_key_like())
    many = measure()
    for label, small, large in (
        ("register one more token", few[0], many[0]),
        ("redact a 2 KB log line", few[1], many[1]),
    ):
        ratio = large / small
        print(
            f"{label:<26} {small * 1e6:9.1f} us with 10 registered, "
            f"{large * 1e6:9.1f} us with 2,020: {ratio:6.2f}x "
            + goal(f"{label} with 2,020 vs 10 registered", ratio, at_most=10)
        )


if __name__ == "__main__":
    run_with_goals(main)
