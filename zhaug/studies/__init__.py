"""Studies built on training and audits: the demo and the ablation study (see docs/architecture.md)."""
