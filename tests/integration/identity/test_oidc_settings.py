"""OIDC provider settings: OIDC_<NAME>_ISSUER, _CLIENT_ID, _CLIENT_SECRET, _REDIRECT_URI."""

from __future__ import annotations

import pytest

from entrypoints.bootstrap import bootstrap
from entrypoints.settings import SettingsError, load_settings

BASE = {
    "OIDC_KEYCLOAK_ISSUER": "https://sso.example.com/realms/trellis/",
    "OIDC_KEYCLOAK_CLIENT_ID": "trellis-api",
    "OIDC_KEYCLOAK_REDIRECT_URI": "https://api.example.com/api/v1/auth/oidc/keycloak/callback",
}


def test_providers_are_read_by_name() -> None:
    settings = load_settings(
        {
            **BASE,
            "OIDC_KEYCLOAK_CLIENT_SECRET": "s",
            "OIDC_GOOGLE_ISSUER": "https://accounts.google.com",
            "OIDC_GOOGLE_CLIENT_ID": "123.apps.googleusercontent.com",
            "OIDC_GOOGLE_CLIENT_SECRET": "very-secret-value",
            "OIDC_GOOGLE_REDIRECT_URI": "https://api.example.com/api/v1/auth/oidc/google/callback",
        },
        dotenv=None,
    )
    by_name = {p.name: p for p in settings.oidc_providers}
    assert set(by_name) == {"keycloak", "google"}
    assert by_name["keycloak"].issuer == "https://sso.example.com/realms/trellis"
    assert "very-secret-value" not in repr(by_name["google"])  # the secret never shows in a repr


def test_an_incomplete_provider_is_refused_naming_the_variable() -> None:
    env = {k: v for k, v in BASE.items() if k != "OIDC_KEYCLOAK_CLIENT_ID"}
    with pytest.raises(SettingsError, match="OIDC_KEYCLOAK_CLIENT_ID"):
        load_settings(env, dotenv=None)
    with pytest.raises(SettingsError, match="OIDC_KEYCLOAK_REDIRECT_URI"):
        load_settings({**BASE, "OIDC_KEYCLOAK_REDIRECT_URI": "/relative"}, dotenv=None)


def test_redirect_uri_defaults_to_the_local_callback_the_compose_realm_registers() -> None:
    env = {k: v for k, v in BASE.items() if k != "OIDC_KEYCLOAK_REDIRECT_URI"}
    (provider,) = load_settings({**env, "PORT": "8000"}, dotenv=None).oidc_providers
    assert provider.redirect_uri == "http://localhost:8000/api/v1/auth/oidc/keycloak/callback"


def test_production_refuses_a_provider_without_a_secret() -> None:
    settings = load_settings({**BASE, "APP_ENV": "production"}, dotenv=None)
    assert any(p.startswith("OIDC_KEYCLOAK_CLIENT_SECRET:") for p in settings.production_problems())
    with_secret = load_settings({**BASE, "APP_ENV": "production", "OIDC_KEYCLOAK_CLIENT_SECRET": "s"}, dotenv=None)
    assert not any(p.startswith("OIDC_") for p in with_secret.production_problems())
    plain_http = load_settings(
        {**BASE, "APP_ENV": "production", "OIDC_KEYCLOAK_CLIENT_SECRET": "s", "OIDC_KEYCLOAK_ISSUER": "http://sso"},
        dotenv=None,
    )
    assert any(p.startswith("OIDC_KEYCLOAK_ISSUER:") for p in plain_http.production_problems())
    compose_like = load_settings(
        {
            **BASE,
            "APP_ENV": "production",
            "OIDC_KEYCLOAK_CLIENT_SECRET": "s",
            "OIDC_KEYCLOAK_ISSUER": "http://keycloak.localhost:8081/realms/trellis",
        },
        dotenv=None,
    )
    assert not any(p.startswith("OIDC_") for p in compose_like.production_problems())


async def test_development_starts_with_a_public_client_and_no_network() -> None:
    container = await bootstrap(load_settings({**BASE, "APP_ENV": "test"}, dotenv=None))
    try:
        assert container.oidc is not None
        assert container.oidc.provider_names == ["keycloak"]  # discovery waits for the first sign-in
    finally:
        await container.close()
