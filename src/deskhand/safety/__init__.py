"""The safety layer: egress allowlist, action gate, injection screening, secrets, audit."""
