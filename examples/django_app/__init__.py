"""A minimal Django project whose ASGI application also serves the gateway under /llm."""
