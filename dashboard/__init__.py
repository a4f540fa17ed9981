"""stratforge dashboard: the web app (FastAPI) over the registry — pages, REST API under
/api/v1, login with roles. ``app.create_app`` wires it; ``service`` is the HTTP-free layer the
routers call; see docs/dashboard.md."""
