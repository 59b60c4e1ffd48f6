"""Self-checks for the graded exercises: ``check_<name>(my_<name>)`` for each exercise ``my_<name>``.

A check runs the student's function on random inputs of several shapes, compares it with the kit's own
implementation and, when they differ, says which common mistake it is (see ``_core``). The notebooks'
``# CHECK: <name>`` cells call these, and so do the grading command (``python -m trimix assignments grade``)
and nbgrader's autograder. One module per topic holds its exercises' checks; which notebook asks for which
exercise is written in the notebooks' metadata, not here.
"""
from trimix.checks._core import CheckFailed
from trimix.checks.ablations import check_table_vi
from trimix.checks.barlow_twins import (
    check_barlow_twins_loss,
    check_batch_standardize,
    check_cross_correlation,
    check_off_diagonal_sum,
)
from trimix.checks.evaluation import check_channels_first_rgb, check_knn_predict
from trimix.checks.matrices import check_ground_truth_matrix, check_predicted_matrix, check_virtual_embedding_loss
from trimix.checks.mixup import check_estimate_lambda, check_mix_batch
from trimix.checks.objective import check_mixed_embeddings, check_self_consistency_loss, check_trimix_loss
from trimix.checks.training import check_projected_seconds, check_weighted_parts

__all__ = [
    "CHECKS", "CheckFailed",
    "check_batch_standardize", "check_cross_correlation", "check_off_diagonal_sum", "check_barlow_twins_loss",
    "check_mix_batch", "check_estimate_lambda",
    "check_ground_truth_matrix", "check_predicted_matrix", "check_virtual_embedding_loss",
    "check_mixed_embeddings", "check_self_consistency_loss", "check_trimix_loss",
    "check_projected_seconds", "check_weighted_parts", "check_knn_predict", "check_channels_first_rgb",
    "check_table_vi",
]
# exercise name -> its check
CHECKS = {name.removeprefix("check_"): globals()[name] for name in __all__ if name.startswith("check_")}
