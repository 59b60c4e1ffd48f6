"""The evaluation protocols of the paper (section IV-B), each one frozen dataclass holding its settings.

This module is the one home of every protocol default: the functions that run a protocol
(``trimix.evaluate``, ``trimix.finetune``), the CLI's options (``--knn-k``, ``--linear-epochs``, made by
``add_options``), the reproduction engine (``trimix.reproduce``), its score cache (``key``) and the tables it
writes (``describe``) all read them here. Where the paper leaves a choice open, the reason for ours is
beside the field and in docs/design.md ("Evaluation protocols").
"""
from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass


@dataclass(frozen=True)
class KNN:
    """Weighted kNN on frozen backbone features (Tables I, III, VI, VII).

    Cosine similarity to every training feature; the k nearest vote for their label with weight exp(s / T)
    (InstDisc, Wu et al. 2018, as solo-learn evaluates). The paper does not give k or T: 200 and 0.1 are the
    values of InstDisc and solo-learn.
    """
    k: int = 200
    temperature: float = 0.1


@dataclass(frozen=True)
class LinearProbe:
    """A linear classifier on frozen backbone features (Tables I, III, V, VI, VII).

    The paper's recipe for every supervised stage: lr 1e-3, weight decay 1e-6, momentum 0.9, batch 256, 100
    epochs. "Momentum 0.9" reads as SGD with momentum, with a constant rate (no schedule is given). The
    features are standardised with training-set statistics first (``standardize``): still a linear
    classifier of the raw features, but SGD at lr 1e-3 then converges in 100 epochs whatever the scale of
    the backbone's outputs (MAE and MoCo v3 use a BatchNorm without affine before the head for the same).
    """
    epochs: int = 100
    lr: float = 1e-3
    weight_decay: float = 1e-6
    momentum: float = 0.9
    batch_size: int = 256
    optimizer: str = "sgd"  # or "adam" (beta1 = momentum), for comparison
    standardize: bool = True
    seed: int = 0


@dataclass(frozen=True)
class FineTune:
    """Semi-supervised fine-tuning of the whole network on a stratified fraction of the labels (Tables II, IV).

    The same recipe as the linear probe, on a copy of the backbone plus a new linear head. The labelled
    images get the light augmentation usual for fine-tuning (pad by H/8, random crop, horizontal flip); the
    paper names none, and the strong SSL views would make 1 % of the labels harder to fit.
    """
    epochs: int = 100
    lr: float = 1e-3
    weight_decay: float = 1e-6
    momentum: float = 0.9
    batch_size: int = 256
    optimizer: str = "sgd"
    augment: bool = True
    seed: int = 0


@dataclass(frozen=True)
class Transfer:
    """Transfer of an encoder pretrained on one dataset to another (Table V): its frozen features of the
    target's images, resized to the size the encoder was trained on, scored with ``probe``. The paper's
    section on Table V first speaks of "linear classifiers on top of fixed representations", which we follow;
    its text also mentions fine-tuning, which ``trimix.finetune.finetune(..., image_size=...)`` does."""
    probe: LinearProbe = LinearProbe()


PROTOCOLS = {"knn": KNN, "linear": LinearProbe, "finetune": FineTune}  # CLI prefix -> protocol


def describe(protocol) -> str:
    """'kNN (k=200, T=0.1)' style: the protocol's name and every setting, for tables and reports."""
    fields = ", ".join(f"{f.name}={getattr(protocol, f.name)}" for f in dataclasses.fields(protocol))
    return f"{type(protocol).__name__}({fields})"


def key(protocol) -> dict:
    """Every setting of ``protocol``, nested protocols included: the part of a score's cache key it owns."""
    return {"protocol": type(protocol).__name__, **dataclasses.asdict(protocol)}


def add_options(parser: argparse.ArgumentParser, prefix: str) -> None:
    """``--<prefix>-<field>`` for every field of ``PROTOCOLS[prefix]``, defaulting to the protocol's value."""
    cls = PROTOCOLS[prefix]
    for f in dataclasses.fields(cls):
        flag = f"--{prefix}-{f.name.replace('_', '-')}"
        if f.type in ("bool", bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=f.default,
                                help=f"{cls.__name__}.{f.name}")
        else:
            parser.add_argument(flag, type=type(f.default), default=f.default, help=f"{cls.__name__}.{f.name}")


def from_options(args: argparse.Namespace, prefix: str):
    """The protocol ``add_options`` described, with the values given on the command line."""
    cls = PROTOCOLS[prefix]
    return cls(**{f.name: getattr(args, f"{prefix}_{f.name}") for f in dataclasses.fields(cls)})
