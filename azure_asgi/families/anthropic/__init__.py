"""The Anthropic family: Claude deployments on Azure AI Foundry (the Messages API).

Chat Completions and Responses requests are translated to Messages and their answers and
streams back, by pure functions (``_chat_*``, ``_responses_*`` modules); the native
``/anthropic/v1/messages`` route passes bodies through with ``model`` replaced (docs/claude.md).
"""

from ._family import ANTHROPIC_VERSION, AnthropicAdapter

__all__ = ["ANTHROPIC_VERSION", "AnthropicAdapter"]
