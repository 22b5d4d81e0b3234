"""Robustness auditing: graded Chinese perturbation families, invariance metrics, a budgeted attack, reports.

``audit(predict_proba, records)`` works with any ``predict_proba(list[str]) -> (n, n_classes)``
function (load a trained one with :func:`zhaug.train.predict.load_predictor`); ``zhaug audit MODEL_DIR
test.csv --out REPORT_DIR`` with a trained model folder.
"""

from zhaug.robustness.attack import AttackConfig, attack
from zhaug.robustness.audit import AuditConfig, audit, load_config
from zhaug.robustness.families import FAMILIES, SEVERITY_RATES, Family, perturb, select_families
from zhaug.robustness.report import write_report
from zhaug.robustness.thresholds import check, parse_thresholds

__all__ = [
    "FAMILIES",
    "SEVERITY_RATES",
    "AttackConfig",
    "AuditConfig",
    "Family",
    "attack",
    "audit",
    "check",
    "load_config",
    "parse_thresholds",
    "perturb",
    "select_families",
    "write_report",
]
