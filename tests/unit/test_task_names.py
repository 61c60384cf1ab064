"""Celery task names are pinned: a queued message names its task, so a module moved or renamed in a
release must not leave messages in Redis that no worker knows (the restore would wait for the sweep)."""

from django.conf import settings

from vdiprotect.celery import app

PINNED = {
    "vdiprotect.restore.run": "restore.restores.tasks",
    "vdiprotect.restore.sweep": "restore.restores.tasks",
    "vdiprotect.catalog.build": "restore.catalog.tasks",
    "vdiprotect.catalog.refresh": "restore.catalog.tasks",
}


def registered() -> dict:
    app.loader.import_default_modules()  # what a worker imports at start (CELERY_IMPORTS, autodiscovery)
    return {name: task for name, task in app.tasks.items() if not name.startswith("celery.")}


def test_a_worker_registers_exactly_the_pinned_task_names():
    assert set(registered()) == set(PINNED)


def test_each_pinned_name_is_the_task_of_its_module():
    for name, task in registered().items():
        assert task.__module__ == PINNED[name], f"{name} is defined in {task.__module__}"


def test_the_beat_schedule_names_registered_tasks():
    names = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert names and names <= set(registered())
