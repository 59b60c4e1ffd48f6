"""Self-checks for the graded exercises: ``check_<name>(my_<name>)`` for each exercise ``my_<name>``.

A check runs the student's function on random inputs of several shapes, compares it with the kit's own
implementation and, when they differ, says which common mistake it is (see ``_core``). The notebooks'
``# CHECK: <name>`` cells call these, and so do the grading command (``python -m trimix assignments grade``)
and nbgrader's autograder. One module per topic holds its exercises' checks; which notebook asks for which
exercise is in ``EXERCISES``.
"""
from trimix.checks._core import CheckFailed
from trimix.checks.barlow_twins import (
    check_barlow_twins_loss,
    check_batch_standardize,
    check_cross_correlation,
    check_off_diagonal_sum,
)
from trimix.checks.matrices import check_ground_truth_matrix, check_predicted_matrix, check_virtual_embedding_loss
from trimix.checks.mixup import check_estimate_lambda, check_mix_batch
from trimix.checks.objective import check_mixed_embeddings, check_self_consistency_loss, check_trimix_loss

# exercise name -> the notebook it is in, in the order the notebooks ask for them
EXERCISES = {
    "batch_standardize": "01_barlow_twins.ipynb",
    "cross_correlation": "01_barlow_twins.ipynb",
    "off_diagonal_sum": "01_barlow_twins.ipynb",
    "barlow_twins_loss": "01_barlow_twins.ipynb",
    "mix_batch": "02_mixup_views.ipynb",
    "estimate_lambda": "02_mixup_views.ipynb",
    "ground_truth_matrix": "03_ground_truth_and_predicted.ipynb",
    "predicted_matrix": "03_ground_truth_and_predicted.ipynb",
    "virtual_embedding_loss": "03_ground_truth_and_predicted.ipynb",
    "mixed_embeddings": "04_self_consistency_and_objective.ipynb",
    "self_consistency_loss": "04_self_consistency_and_objective.ipynb",
    "trimix_loss": "04_self_consistency_and_objective.ipynb",
}

__all__ = [
    "CHECKS", "CheckFailed", "EXERCISES",
    "check_batch_standardize", "check_cross_correlation", "check_off_diagonal_sum", "check_barlow_twins_loss",
    "check_mix_batch", "check_estimate_lambda",
    "check_ground_truth_matrix", "check_predicted_matrix", "check_virtual_embedding_loss",
    "check_mixed_embeddings", "check_self_consistency_loss", "check_trimix_loss",
]
# exercise name -> its check
CHECKS = {name.removeprefix("check_"): globals()[name] for name in __all__ if name.startswith("check_")}
