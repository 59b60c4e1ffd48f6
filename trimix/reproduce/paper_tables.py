"""The paper's own numbers (Bdair et al., Tables I-VII), transcribed from its text, to set beside ours.

Every value is a top-1 accuracy (%). A table is a list of columns, each ``(group, dataset)`` in the
paper's order, and one tuple of values per row in the paper's row order. Rows of Tables I-V are keyed
by the row labels of ``trimix.reproduce.records`` (the paper's names: "SimCLR", "TriMix: self-consistency
loss only", ...). Fig. 4 is given as curves only, with no numbers in the text;
``FIG4_CLAIMS`` holds what the text says about it.

Notes on the paper's tables, kept as they are printed:

- Table VI's caption speaks of CIFAR10 and STL10 but prints one CIFAR10 column. Its Barlow Twins value,
  86.29, is not Table I's Barlow Twins linear CIFAR10 (86.93); it equals Table I's Barlow Twins linear
  STL10 value.
- Table II prints SimCLR's 10 % TinyImageNet value as 35.5 (one decimal); it is kept as 35.5.
"""
from __future__ import annotations

from dataclasses import dataclass

NATURAL = ("cifar10", "cifar100", "stl10", "tinyimagenet")
MEDICAL = ("pathmnist", "dermamnist", "octmnist", "bloodmnist")
DATASET_NAMES = {  # as the paper prints them
    "cifar10": "CIFAR10", "cifar100": "CIFAR100", "stl10": "STL10", "tinyimagenet": "TinyImageNet",
    "pathmnist": "PathMNIST", "dermamnist": "DermaMNIST", "octmnist": "OCTMNIST", "bloodmnist": "BloodMNIST",
}
METHOD_NAMES = {  # the paper's row order and names
    "simclr": "SimCLR", "byol": "BYOL", "barlow_twins": "Barlow Twins", "vicreg": "VICReg", "trimix": "TriMix",
}


@dataclass(frozen=True)
class PaperTable:
    """One of the paper's tables: ``rows[name][i]`` is the value in ``columns[i]``."""

    number: str  # "I" ... "VII"
    caption: str  # what the table reports, in short
    columns: tuple[tuple[str, str], ...]  # (group, dataset key), e.g. ("kNN", "cifar10")
    rows: dict[str, tuple[float, ...]]  # row label -> one value per column

    def value(self, row: str, column: tuple[str, str]) -> float | None:
        """The paper's number for ``row`` in ``column``, or None when the paper has no such cell."""
        if row not in self.rows or column not in self.columns:
            return None
        return self.rows[row][self.columns.index(column)]


def _by_label(rows: dict[str, tuple[float, ...]]) -> dict[str, tuple[float, ...]]:
    """Rows keyed by method (as typed below) -> keyed by the name the paper prints."""
    return {METHOD_NAMES[method]: values for method, values in rows.items()}


def _grid(groups, datasets) -> tuple[tuple[str, str], ...]:
    return tuple((g, d) for g in groups for d in datasets)


TABLE_I = PaperTable(
    "I", "kNN (200-epoch pretraining) and linear evaluation (100 epochs), natural images, ResNet-18",
    _grid(("kNN", "Linear"), NATURAL),
    _by_label({"simclr": (82.17, 48.06, 79.47, 30.33, 86.14, 59.27, 86.35, 42.74),
     "byol": (81.13, 45.73, 81.19, 30.75, 85.43, 57.31, 86.33, 41.94),
     "barlow_twins": (84.37, 52.47, 80.98, 36.70, 86.93, 60.66, 86.29, 45.50),
     "vicreg": (77.73, 44.58, 74.06, 26.20, 81.38, 53.46, 77.45, 34.17),
     "trimix": (86.35, 54.01, 81.59, 34.66, 88.39, 63.37, 87.06, 45.15)}))

TABLE_II = PaperTable(
    "II", "semi-supervised fine-tuning (100 epochs) on 1 %, 10 % and 100 % of the labels, natural images",
    _grid(("1%", "10%", "100%"), NATURAL),
    _by_label({"simclr": (79.03, 29.94, 65.23, 16.14, 86.16, 51.65, 79.98, 35.5, 92.68, 70.09, 88.94, 55.36),
     "byol": (77.27, 28.04, 61.05, 15.68, 85.01, 50.36, 79.03, 34.13, 92.29, 69.56, 88.74, 54.26),
     "barlow_twins": (79.19, 33.14, 63.82, 20.28, 86.55, 54.86, 80.15, 39.83, 92.00, 69.15, 88.95, 54.62),
     "vicreg": (70.07, 22.51, 53.79, 12.23, 81.94, 45.93, 71.93, 31.35, 91.97, 69.18, 85.41, 52.38),
     "trimix": (81.03, 34.08, 66.80, 19.32, 87.56, 56.23, 81.08, 39.52, 92.16, 69.72, 89.54, 54.89)}))

TABLE_III = PaperTable(
    "III", "kNN (200-epoch pretraining) and linear evaluation (100 epochs), MedMNIST",
    _grid(("kNN", "Linear"), MEDICAL),
    _by_label({"simclr": (91.56, 71.87, 69.90, 89.42, 92.69, 73.41, 74.5, 92.90),
     "byol": (91.50, 71.16, 70.00, 86.14, 92.72, 72.47, 75.80, 90.73),
     "barlow_twins": (91.36, 71.68, 71.20, 87.89, 92.42, 73.36, 77.50, 92.28),
     "vicreg": (90.40, 70.77, 69.50, 86.14, 90.87, 72.24, 72.39, 89.16),
     "trimix": (91.92, 72.07, 72.30, 89.92, 92.88, 73.82, 76.60, 93.16)}))

TABLE_IV = PaperTable(
    "IV", "semi-supervised fine-tuning (100 epochs) on 1 %, 10 % and 100 % of the labels, MedMNIST",
    _grid(("1%", "10%", "100%"), MEDICAL),
    _by_label({"simclr": (90.47, 66.88, 77.30, 84.68, 91.95, 71.22, 80.69, 92.15, 93.50, 75.86, 83.89, 95.81),
     "byol": (89.07, 67.11, 78.40, 80.64, 92.09, 71.32, 80.01, 91.25, 93.34, 75.31, 83.60, 96.11),
     "barlow_twins": (89.90, 67.13, 78.30, 82.61, 92.08, 70.97, 80.20, 91.34, 92.54, 75.86, 82.30, 95.90),
     "vicreg": (89.77, 66.98, 79.30, 78.54, 91.61, 71.37, 80.59, 88.97, 93.38, 76.00, 81.50, 95.32),
     "trimix": (90.81, 67.23, 78.80, 84.89, 92.15, 71.37, 80.78, 92.15, 93.50, 76.21, 81.90, 95.73)}))

# Table V: the group is the natural dataset the encoder was pretrained on, the column the medical target.
TABLE_V = PaperTable(
    "V", "transfer: encoders pretrained on natural images, linear classifier on each MedMNIST target",
    _grid(NATURAL, MEDICAL),
    _by_label({"simclr": (77.17, 71.57, 63.90, 77.81, 76.43, 71.57, 60.50, 76.23,
                74.27, 70.22, 40.90, 61.47, 77.43, 70.92, 46.00, 69.48),
     "byol": (78.19, 72.21, 65.00, 79.42, 80.78, 71.52, 57.30, 75.85,
              72.93, 69.52, 57.90, 67.72, 77.42, 70.97, 52.10, 73.98),
     "barlow_twins": (78.30, 71.67, 62.70, 80.70, 77.60, 73.01, 58.40, 80.35,
                      77.40, 70.12, 50.20, 67.17, 76.50, 71.06, 56.20, 73.77),
     "vicreg": (77.47, 71.77, 63.50, 77.19, 80.87, 71.22, 65.10, 76.79,
                71.10, 70.02, 44.60, 60.07, 72.86, 71.02, 47.50, 64.42),
     "trimix": (78.43, 72.27, 67.20, 78.49, 80.92, 71.17, 57.40, 78.84,
                76.56, 70.32, 49.30, 63.84, 77.77, 71.87, 51.20, 72.46)}))

TABLE_VI = PaperTable(
    "VI", "ablation of the loss terms, linear evaluation, CIFAR10", (("Linear", "cifar10"),),
    {"Barlow Twins": (86.29,), "TriMix: virtual embeddings loss only": (87.16,),
     "TriMix: self-consistency loss only": (87.32,), "TriMix: both losses, no feature norms": (87.74,),
     "TriMix: both losses + feature norms": (88.39,)})

TABLE_VII = PaperTable(
    "VII", "the extra terms on the backbone features Y or the embeddings Z, linear evaluation, CIFAR10",
    (("Linear", "cifar10"),),
    {"L_vrt on Y + L_con on Y": (86.32,), "L_vrt on Z + L_con on Y": (85.37,), "L_vrt on Z + L_con on Z (paper)": (88.39,)})

PAPER_TABLES = {"table1": TABLE_I, "table2": TABLE_II, "table3": TABLE_III, "table4": TABLE_IV,
                "table5": TABLE_V, "table6": TABLE_VI, "table7": TABLE_VII}

FIG4_CLAIMS = (
    "Fig. 4 (TriMix, batch size {32, 64, 128, 256, 512} x projector dimension {128, ..., 2048}, on CIFAR10/100, "
    "STL10 and TinyImageNet; 100 models) is printed as curves only: the text gives no numbers. What it says: "
    "for a fixed batch size, a larger projector does better; 1024 and 2048 differ little for most models; "
    "for a fixed projector size, smaller batches work better with smaller dimensions and bigger batches "
    "with bigger ones."
)
