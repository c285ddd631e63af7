import pytest

from botsite.demo import demo_install


@pytest.fixture
def demo_bot(db):
    """The demo bot exactly as `make run` installs it."""
    return demo_install()
