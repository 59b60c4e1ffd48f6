"""TriMix teaching kit: Barlow Twins + virtual embeddings + self-consistency (Bdair et al.).

The public API below is what notebooks, exercises and courses import; names stay stable.
"""
from trimix.config import (
    Config,
    auto_config,
    default_config,
    describe_environment,
    paper_config,
    quick_config,
    quick_requested,
)
from trimix.augment import augment_batch, prepare, two_views
from trimix.data import DATASETS, load_dataset
from trimix.imagedata import ImageData
from trimix.shapes import make_shapes
from trimix.evaluate import extract_features, knn_accuracy, linear_probe, score_encoder
from trimix.losses import (
    barlow_twins_loss,
    cross_correlation,
    invariance_term,
    off_diagonal,
    redundancy_term,
    self_consistency_loss,
    trimix_loss,
    virtual_embedding_loss,
)
from trimix.baseline_losses import byol_loss, simclr_loss, vicreg_loss
from trimix.methods import BYOL, METHODS, BarlowTwins, SimCLR, SSLMethod, TriMix, VICReg, method_class
from trimix.mixing import (
    flip,
    ground_truth_matrix,
    mix_batch,
    mixed_embeddings,
    predicted_matrix,
    sample_lambda,
    similarity_matrix,
)
from trimix.models import SSLNet, projector, resnet18_backbone
from trimix.notebook import use_drive
from trimix.standardize import batch_standardize, feature_standardize
from trimix.train import build_method, method_from_checkpoint, pretrain

# viz, widgets, runs, reproduce, checks and assignments are submodules: `from trimix import viz, widgets`.

__version__ = "0.1.0"
