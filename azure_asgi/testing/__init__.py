"""A built-in Azure OpenAI emulator for tests, demos and benchmarks.

::

    from azure_asgi.testing import AzureEmulator, Fault

    emulator = AzureEmulator(api_keys=("emulator-key",))
    transport = httpx.ASGITransport(app=emulator)  # or serve it with uvicorn
    emulator.inject(Fault.status(429, retry_after_ms=100))
    ...
    assert emulator.last_request.deployment == "gpt-4o"

Besides chat it serves completions, embeddings, images, audio, files, batches, models,
responses, videos and fine-tuning jobs; multipart uploads are recorded as sent
(``RecordedRequest.form`` / ``.files``).

The emulator is independent of the gateway: it imports nothing else from ``azure_asgi``.
"""

from ._emulator import AzureEmulator, RecordedRequest
from ._faults import Fault

__all__ = ["AzureEmulator", "Fault", "RecordedRequest"]
