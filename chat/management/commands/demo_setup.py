from typing import Any

from django.core.management.base import BaseCommand

from chat.demo import demo_admin_ensure, demo_install


class Command(BaseCommand):
    help = "Create the demo bot, the demo publisher and an admin account (safe to repeat)."

    def handle(self, *args: Any, **options: Any) -> None:
        bot = demo_install()
        self.stdout.write(f"Demo bot ready: slug {bot.slug!r}.")
        login = demo_admin_ensure()
        if login.password:
            note = "created" if login.is_new else "exists"
            self.stdout.write(
                self.style.SUCCESS(
                    f"Admin login ({note}): user {login.username!r}, "
                    f"password {login.password!r} (also in {login.password_file})."
                )
            )
        else:
            self.stdout.write(
                f"Admin user {login.username!r} exists with a password you chose; "
                f"reset it with: python manage.py changepassword {login.username}"
            )
