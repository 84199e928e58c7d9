"""Entry point: ``gunicorn app:app`` and ``flask --app app``."""
from bridge import create_app

app = create_app()
