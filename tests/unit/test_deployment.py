"""docker-compose.yml cannot be run here (no Docker engine): read it and check it against the project."""

import importlib
import re
import shlex
from pathlib import Path

import yaml
from django.urls import resolve

REPO = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())


def command_words(service):
    command = COMPOSE["services"][service]["command"]
    words = command if isinstance(command, list) else shlex.split(command)
    if words[:2] == ["sh", "-c"]:
        words = shlex.split(words[2].replace("&&", " "))
    return words


def test_compose_has_the_six_services_each_with_a_healthcheck():
    assert set(COMPOSE["services"]) == {"web", "worker", "worker-catalog", "beat", "redis", "postgres"}
    for name, service in COMPOSE["services"].items():
        assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"


def test_app_services_wait_for_healthy_dependencies():
    for name in ("web", "worker", "worker-catalog", "beat"):
        depends = COMPOSE["services"][name]["depends_on"]
        assert depends == {"postgres": {"condition": "service_healthy"}, "redis": {"condition": "service_healthy"}}


def test_web_runs_gunicorn_on_the_projects_wsgi_application():
    words = command_words("web")
    target = words[words.index("gunicorn") + 1]
    module, _, attr = target.partition(":")
    assert callable(getattr(importlib.import_module(module), attr))
    assert "migrate" in words and "collectstatic" in words
    assert (REPO / "manage.py").exists()


def test_web_healthcheck_url_exists():
    test = " ".join(COMPOSE["services"]["web"]["healthcheck"]["test"])
    path = re.search(r"http://127\.0\.0\.1:8000(/[^'\"]*)", test)[1]
    assert resolve(path).url_name == "healthz"


def test_worker_runs_the_projects_celery_app():
    words = command_words("worker")
    app_module = words[words.index("-A") + 1]
    from celery import Celery

    assert isinstance(importlib.import_module(app_module).celery_app, Celery)


def test_restores_and_catalog_builds_each_have_a_worker_of_their_own():
    from django.conf import settings

    from vdiprotect.celery import app

    queues = {name: command_words(name)[command_words(name).index("-Q") + 1] for name in ("worker", "worker-catalog")}
    assert queues == {"worker": settings.CELERY_TASK_DEFAULT_QUEUE, "worker-catalog": "catalog"}
    route = app.amqp.router.route
    assert route({}, "vdiprotect.catalog.build")["queue"].name == "catalog"
    assert route({}, "vdiprotect.catalog.refresh")["queue"].name == "catalog"
    for restore_task in ("vdiprotect.restore.run", "vdiprotect.restore.sweep"):
        assert route({}, restore_task)["queue"].name == "celery"


def test_redis_keeps_queued_jobs_across_restarts():
    assert "--appendonly" in command_words("redis")


def test_published_port_is_loopback_only():
    for service in COMPOSE["services"].values():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), port


def test_env_example_names_only_settings_the_readme_documents():
    readme = (REPO / "README.md").read_text()
    names = [line.split("=", 1)[0] for line in (REPO / ".env.example").read_text().splitlines()
             if line and not line.startswith("#")]
    undocumented = [n for n in names if f"`{n}`" not in readme and n != "POSTGRES_PASSWORD"]
    assert not undocumented, f"not in README's configuration reference: {undocumented}"


def production_env(**extra) -> dict:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith(("DEBUG", "SECURE_", "SESSION_", "CSRF_"))}
    env.update(SECRET_KEY="a-production-secret-key-of-sufficient-length-0123456789-abcdefghij",
               ALLOWED_HOSTS="restore.corp.example.com", DEBUG="false", **extra)
    return env


def run_manage(*args, env):
    import subprocess
    import sys

    return subprocess.run([sys.executable, str(REPO / "manage.py"), *args], env=env, capture_output=True, text=True)


def test_check_deploy_is_clean_with_production_settings():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=production_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_settings_refuse_to_start_without_a_secret_key():
    env = production_env()
    del env["SECRET_KEY"]
    result = run_manage("check", env=env)
    assert result.returncode != 0 and "SECRET_KEY" in result.stderr


def test_the_image_installs_the_portal_and_not_the_test_tools():
    runtime = (REPO / "requirements.txt").read_text()
    assert "-r requirements.txt" in (REPO / "requirements-test.txt").read_text()
    for tool in ("pytest", "playwright", "schemathesis", "hypothesis"):
        assert tool not in runtime, tool
    assert "pip install --no-cache-dir -r requirements.txt" in (REPO / "Dockerfile").read_text()
