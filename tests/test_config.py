"""Configuration values refuse what cannot work, naming the setting and never the token."""

from __future__ import annotations

import math

import pytest

from connector import ClientConfig, InvalidArgumentError, RateLimits, RetryPolicy, Secret
from connector.ratelimit import RedisBudget

TOKEN = "sk_live_5c1e0b9a7d3f2e48"


@pytest.mark.parametrize(
    ("build", "argument"),
    [
        pytest.param(lambda: RateLimits(reads_per_second=math.nan), "rate limit", id="nan-read-rate"),
        pytest.param(lambda: RateLimits(writes_per_second=math.inf), "rate limit", id="infinite-write-rate"),
        pytest.param(lambda: RateLimits(reads_per_second=-1), "rate limit", id="negative-read-rate"),
        pytest.param(lambda: RateLimits(max_in_flight=0), "max_in_flight", id="no-in-flight"),
        pytest.param(lambda: RetryPolicy(max_time=math.nan), "retry policy", id="nan-max-time"),
        pytest.param(lambda: RetryPolicy(initial_delay=math.inf), "retry policy", id="infinite-delay"),
        pytest.param(lambda: ClientConfig(timeout=math.nan), "timeout", id="nan-timeout"),
        pytest.param(lambda: ClientConfig(timeout=math.inf), "timeout", id="infinite-timeout"),
        pytest.param(lambda: ClientConfig(connect_timeout=0), "timeout", id="zero-connect-timeout"),
        pytest.param(
            lambda: ClientConfig(base_url=f"https://{TOKEN}@api.attio.com"), "base_url", id="url-credentials"
        ),
        pytest.param(lambda: ClientConfig(token=f"{TOKEN} {TOKEN}"), "token", id="token-with-a-space"),
        pytest.param(lambda: ClientConfig(token=Secret("  ")), "token", id="blank-secret"),
    ],
)
def test_values_that_cannot_work_are_refused(build, argument) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        build()
    assert info.value.argument == argument and TOKEN not in str(info.value)


def test_the_token_and_the_url_lose_surrounding_whitespace() -> None:
    config = ClientConfig(token=f"  {TOKEN}\r\n", base_url=" https://api.attio.com/\n")
    assert config.token == Secret(TOKEN) and config.base_url == "https://api.attio.com"


@pytest.mark.parametrize(
    ("env", "kwargs", "argument"),
    [
        pytest.param({"ATTIO_API_KEY": ""}, {}, "ATTIO_API_KEY", id="empty-token"),
        pytest.param({"ATTIO_API_KEY": f"'{TOKEN}'"}, {}, "ATTIO_API_KEY", id="quoted-token"),
        pytest.param(
            {"MY_KEY": f"{TOKEN}\x00"}, {"token_env": "MY_KEY"}, "MY_KEY", id="nul-in-named-variable"
        ),
        pytest.param({"ATTIO_BASE_URL": f"http://u:{TOKEN}@h"}, {}, "ATTIO_BASE_URL", id="url-credentials"),
        pytest.param({"ATTIO_BASE_URL": "h:8787"}, {}, "ATTIO_BASE_URL", id="url-without-scheme"),
        pytest.param({}, {"token_env": f"sk-{TOKEN}"}, "token_env", id="token-as-variable-name"),
    ],
)
def test_from_env_names_the_variable_and_never_the_value(env, kwargs, argument) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        ClientConfig.from_env(env, **kwargs)
    assert info.value.argument == argument and TOKEN not in str(info.value)


def test_explicit_values_win_and_the_variables_they_replace_are_not_read() -> None:
    env = {"ATTIO_API_KEY": "", "ATTIO_BASE_URL": "not a url", "MY_KEY": f"{TOKEN}\n"}
    config = ClientConfig.from_env(env, token="t0k", base_url="http://127.0.0.1:8787")
    assert config.token == Secret("t0k") and config.base_url == "http://127.0.0.1:8787"
    assert ClientConfig.from_env(env, token_env="MY_KEY", base_url="http://h").token == Secret(TOKEN)
    assert ClientConfig.from_env({"ATTIO_BASE_URL": " "}).base_url == "https://api.attio.com"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param("http://redis:6379", "must be a Redis URL", id="http"),
        pytest.param("sk_live_abc", "a value that is not shown", id="token-by-mistake"),
        pytest.param("redis://a b", "a space", id="space"),
    ],
)
def test_rate_limit_url_is_checked_by_name(value: str, message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=f"CONNECTOR_RATE_LIMIT_URL.*{message}"):
        ClientConfig.from_env({"ATTIO_API_KEY": "t0ken", "CONNECTOR_RATE_LIMIT_URL": value})
    assert "sk_live" not in message


def test_rate_limit_url_from_the_environment_and_never_in_the_repr() -> None:
    env = {"ATTIO_API_KEY": "t0ken", "CONNECTOR_RATE_LIMIT_URL": "redis://:pw-secret@r:6379/0"}
    config = ClientConfig.from_env(env)
    assert config.rate_limit_url == "redis://:pw-secret@r:6379/0" and "pw-secret" not in repr(config)
    assert ClientConfig.from_env(env, rate_limit_url="redis://other/1").rate_limit_url == "redis://other/1"
    assert ClientConfig.from_env({"ATTIO_API_KEY": "t0ken"}).rate_limit_url is None
    assert "pw-secret" not in repr(RedisBudget(config.rate_limit_url or "", "k"))
