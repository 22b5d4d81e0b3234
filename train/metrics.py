"""Classification metrics (scikit-learn), as plain JSON-ready values."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sklearn.metrics import accuracy_score, classification_report, confusion_matrix, precision_recall_fscore_support


def classification_metrics(y_true: Sequence[int], y_pred: Sequence[int], labels: Sequence[str]) -> dict[str, Any]:
    """Accuracy, macro and weighted precision / recall / F1, a per-class report and the confusion
    matrix (rows: true label, columns: predicted, both in ``labels`` order)."""
    ids = list(range(len(labels)))
    metrics: dict[str, Any] = {"accuracy": float(accuracy_score(y_true, y_pred)), "n": len(y_true)}
    for average in ("macro", "weighted"):
        precision, recall, f1, _ = precision_recall_fscore_support(
            y_true, y_pred, labels=ids, average=average, zero_division=0
        )
        metrics.update({f"{average}_precision": float(precision), f"{average}_recall": float(recall),
                        f"{average}_f1": float(f1)})
    report = classification_report(
        y_true, y_pred, labels=ids, target_names=list(labels), output_dict=True, zero_division=0
    )
    metrics["per_class"] = {name: {k: float(v) for k, v in report[name].items()} for name in labels}
    metrics["confusion_matrix"] = confusion_matrix(y_true, y_pred, labels=ids).tolist()
    metrics["labels"] = list(labels)
    return metrics
