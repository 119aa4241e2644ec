"""Server-rendered HTML pages for people (Jinja2; every asset served by the app)."""
