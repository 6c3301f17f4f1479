"""The agent loop: a model works on a sandboxed desktop through the tools until it is done."""
