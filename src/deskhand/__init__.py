"""deskhand: sandboxed Linux desktops driven by AI models through Anthropic's computer-use tools."""

__version__ = "0.1.0"
