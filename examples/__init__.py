"""Runnable examples: the gateway inside FastAPI, Starlette, Django, Quart and plain ASGI."""
