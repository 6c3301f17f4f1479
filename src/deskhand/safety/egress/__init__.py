"""Egress allowlist: the only way out of the sandbox's network namespace.

    rules = EgressRules.from_domains(["example.com", "*.wikipedia.org"])   # or load_rules(path)
    desktop = await Desktop.start(DesktopOptions(egress=rules))
    ...
    desktop.egress_log   # every EgressDecision

See docs/security.md, "Egress allowlist".
"""

from deskhand.safety.egress.proxy import (
    DecisionCallback,
    EgressDecision,
    EgressProxy,
    Resolver,
    static_resolver,
    system_resolver,
)
from deskhand.safety.egress.rules import (
    DEFAULT_PORTS,
    EgressConfigError,
    EgressRules,
    Host,
    HostError,
    forbidden_reason,
    load_rules,
    normalize_host,
    rules_from_mapping,
)

__all__ = [
    "DEFAULT_PORTS",
    "DecisionCallback",
    "EgressConfigError",
    "EgressDecision",
    "EgressProxy",
    "EgressRules",
    "Host",
    "HostError",
    "Resolver",
    "forbidden_reason",
    "load_rules",
    "normalize_host",
    "rules_from_mapping",
    "static_resolver",
    "system_resolver",
]
