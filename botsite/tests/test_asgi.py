"""The served application as a server process loads it."""

from botsite.tests.subprocess_env import clean_env, run_python


def test_a_servers_start_up_objects_are_kept_out_of_the_collectors_full_passes():
    """Each full collection used to walk everything Django loaded and stop the event loop
    for 60-90 ms under load (BENCHMARKS.md)."""
    count = "import gc, botsite.asgi; print(gc.get_freeze_count(), len(gc.get_objects()))"
    loaded = run_python(count, clean_env())

    assert loaded.returncode == 0, loaded.stderr
    frozen, still_collected = map(int, loaded.stdout.split())
    assert frozen > 50_000, "Django and the apps are frozen"
    assert still_collected < frozen / 10, "only what came after start-up is left to collect"
