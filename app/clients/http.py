"""An HTTP client for outside APIs: timeouts, a User-Agent with a contact address, and
retries with backoff on 429 / 5xx / network errors that honour Retry-After, all within one
deadline. Failures become 502 (bad answer), 503 (unreachable) or 504 (timed out)."""

import math
import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from app.core.config import Settings
from app.core.errors import AppError


class ProviderError(AppError):
    status_code = 502
    code = "provider_error"


class ProviderUnavailable(ProviderError):
    status_code = 503
    code = "provider_unavailable"


class ProviderTimeout(ProviderError):
    status_code = 504
    code = "provider_timeout"


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds, from either its number or its HTTP-date form."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:  # "inf", "nan" and absurd values say nothing usable
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class HttpProvider:
    name = "provider"

    def __init__(
        self,
        settings: Settings,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self.sleep = sleep
        self.client = httpx.Client(
            timeout=httpx.Timeout(settings.lookup_timeout_s),
            headers={"User-Agent": f"TheoryAtlas/0.1 (+mailto:{settings.contact_email})"},
            transport=transport,
            follow_redirects=True,
        )

    def close(self) -> None:
        self.client.close()

    def get(
        self, url: str, params: dict[str, Any] | None = None, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        """GET with retries; answers 404 and other 4xx as they are, for the caller to read."""
        started = time.monotonic()
        attempts = self.settings.lookup_retries + 1
        for attempt in range(attempts):
            last = attempt == attempts - 1
            try:
                response = self.send(url, params, headers)
            except httpx.TimeoutException:
                if last or self._out_of_time(started, 0):
                    raise ProviderTimeout(
                        f"{self.name} did not answer within {self.settings.lookup_timeout_s:g} s"
                    ) from None
                self.sleep(self._backoff(attempt))
                continue
            except httpx.TransportError as exc:
                if last or self._out_of_time(started, 0):
                    raise ProviderUnavailable(
                        f"{self.name} is unreachable ({type(exc).__name__})"
                    ) from None
                self.sleep(self._backoff(attempt))
                continue
            if response.status_code == 429 or response.status_code >= 500:
                wait = retry_after_seconds(response.headers.get("Retry-After"))
                wait = self._backoff(attempt) if wait is None else wait
                if last or self._out_of_time(started, wait):
                    kind = (
                        ProviderUnavailable if response.status_code in (429, 503) else ProviderError
                    )
                    raise kind(
                        f"{self.name} answered {response.status_code} "
                        f"after {attempt + 1} attempt(s)",
                        details={
                            "status": response.status_code,
                            "retry_after": response.headers.get("Retry-After"),
                        },
                    )
                self.sleep(wait)
                continue
            return response
        raise AssertionError("unreachable")

    def send(
        self, url: str, params: dict[str, Any] | None, headers: dict[str, str] | None
    ) -> httpx.Response:
        """One attempt."""
        return self.client.get(url, params=params, headers=headers)

    def _backoff(self, attempt: int) -> float:
        return min(0.5 * 2**attempt, 4.0)

    def _out_of_time(self, started: float, wait: float) -> bool:
        elapsed = time.monotonic() - started
        return elapsed + wait + self.settings.lookup_timeout_s > self.settings.lookup_deadline_s
