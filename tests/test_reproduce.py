"""The paper's own numbers, as ``python -m trimix reproduce`` sets them beside its results."""
import re
from pathlib import Path

import pytest

from trimix.ablations import PAPER_TABLE_VI, PAPER_TABLE_VII
from trimix.reproduce import paper_tables as pt

PAPER_TEXT = Path(__file__).resolve().parents[2] / "shared" / "paper" / "trimix-paper.txt"


# ---- the paper's numbers ----

@pytest.mark.parametrize("name", list(pt.PAPER_TABLES))
def test_paper_tables_are_well_formed(name):
    table = pt.PAPER_TABLES[name]
    assert len(set(table.columns)) == len(table.columns) > 0
    for row, values in table.rows.items():
        assert len(values) == len(table.columns), row
        assert all(isinstance(v, float) and 0 < v < 100 for v in values), row
    if name in ("table6", "table7"):
        assert table.rows == {k: (v,) for k, v in {"table6": PAPER_TABLE_VI, "table7": PAPER_TABLE_VII}[name].items()}
    else:
        assert list(table.rows) == list(pt.METHOD_NAMES)  # every method, in the paper's order
        datasets = {d for c in table.columns for d in c if d in pt.DATASET_NAMES}
        assert datasets == set(pt.MEDICAL if name in ("table3", "table4") else
                               pt.NATURAL + pt.MEDICAL if name == "table5" else pt.NATURAL)
    assert table.value(next(iter(table.rows)), table.columns[-1]) == next(iter(table.rows.values()))[-1]
    assert table.value("no such row", table.columns[0]) is None


def test_a_few_cells_read_as_the_paper_prints_them():
    assert pt.TABLE_I.value("trimix", ("Linear", "cifar10")) == 88.39
    assert pt.TABLE_II.value("simclr", ("10%", "tinyimagenet")) == 35.5
    assert pt.TABLE_III.value("barlow_twins", ("Linear", "octmnist")) == 77.50
    assert pt.TABLE_IV.value("byol", ("100%", "bloodmnist")) == 96.11
    assert pt.TABLE_V.value("vicreg", ("cifar100", "octmnist")) == 65.10
    assert pt.TABLE_V.value("trimix", ("tinyimagenet", "bloodmnist")) == 72.46


@pytest.mark.skipif(not PAPER_TEXT.exists(), reason="the paper's text (../shared/paper) is not here")
def test_paper_tables_match_the_paper_text():
    lines = PAPER_TEXT.read_text().splitlines()
    printed = [tuple(float(v) for v in line.split("\t")[1:]) for line in lines
               if re.match(r"^(SimCLR|BYOL|Barlow Twins|VICReg|TriMix\(ours\))\t[\d.]+\t", line)]
    ours = [values for t in (pt.TABLE_I, pt.TABLE_II, pt.TABLE_III, pt.TABLE_IV) for values in t.rows.values()]
    ours += [v[:8] for v in pt.TABLE_V.rows.values()] + [v[8:] for v in pt.TABLE_V.rows.values()]
    assert printed == ours

    def block(header: str) -> list[float]:
        start = lines.index(header) + 1
        return [float(line.split("\t")[-1]) for line in lines[start:start + 6] if "\t" in line]

    assert block("Configuration\tCIFAR10") == [v for (v,) in pt.TABLE_VI.rows.values()]
    assert block("Configuration\tAccuracy") == [v for (v,) in pt.TABLE_VII.rows.values()]
