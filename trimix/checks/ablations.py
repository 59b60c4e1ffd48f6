"""Check of the exercise on the paper's ablations (notebook 08): Table VI's five rows as ``Config`` changes."""
from __future__ import annotations

from typing import Callable

from trimix.reproduce.records import TABLE_VI_ROWS
from trimix.checks._core import CheckFailed, call_student, student_facing
from trimix.config import Config

TABLE_VI_VARIANTS = {r.label: r.change_dict for r in TABLE_VI_ROWS}  # the kit's answer, the very dicts

# what each row keeps of eq 11, in words, for the messages
ROWS = {
    "Barlow Twins": "Barlow Twins alone (eq 1): its own method, 'barlow_twins'",
    "TriMix: virtual embeddings loss only": "L_BT + beta * L_vrt: no self-consistency term, so gamma = 0",
    "TriMix: self-consistency loss only": "L_BT + gamma * L_con: no virtual embeddings term, so beta = 0",
    "TriMix: both losses, no feature norms": "both terms, without the row standardisation of the virtual "
                                             "embeddings: feature_norm=False",
    "TriMix: both losses + feature norms": "the full objective: the defaults, no change at all",
}


def _config(changes: dict) -> Config | str:
    """``Config().replace(**changes)``, or what is wrong with ``changes`` in words."""
    if not isinstance(changes, dict):
        return f"is a {type(changes).__name__}, not a dict of Config fields"
    try:
        return Config().replace(**changes)
    except ValueError as error:  # unknown field names
        return f"names a field Config does not have ({error}); the fields are the names in trimix.Config"
    except TypeError as error:
        return f"cannot be applied to a Config ({error})"


@student_facing
def check_table_vi(fn: Callable) -> None:
    """``my_table_vi()``: variant name -> dict of ``Config`` changes, for the five rows of Table VI."""
    mine = call_student("table_vi", fn, {})
    if not isinstance(mine, dict):
        raise CheckFailed(f"my_table_vi returned a {type(mine).__name__}: return a dict, variant name -> changes")
    if mine is TABLE_VI_VARIANTS or any(mine.get(n) is changes and changes for n, changes in TABLE_VI_VARIANTS.items()):
        raise CheckFailed("my_table_vi returns the kit's own rows (trimix.reproduce.records.TABLE_VI_ROWS), the answer to this "
                          "exercise: write the five dicts yourself (the kit's version is only there to check yours)")
    missing, extra = [n for n in TABLE_VI_VARIANTS if n not in mine], [n for n in mine if n not in TABLE_VI_VARIANTS]
    if missing or extra:
        raise CheckFailed(f"my_table_vi: the names must be exactly those of Table VI, {list(TABLE_VI_VARIANTS)}; "
                          f"missing {missing}, unexpected {extra}")
    for name, changes in TABLE_VI_VARIANTS.items():
        want, got = Config().replace(**changes), _config(mine[name])
        where = f"my_table_vi is wrong on the row '{name}'"
        if isinstance(got, str):
            raise CheckFailed(f"{where}: its changes {mine[name]!r} {got}")
        if name == "Barlow Twins":
            if got.method != "barlow_twins":
                extra_pass = (" Setting beta = gamma = 0 leaves TriMix's third forward pass (the virtual batch) "
                              "in every step, which is not the baseline." if got.beta == 0 and got.gamma == 0 else "")
                raise CheckFailed(f"{where}: it should be {ROWS[name]}, got method={got.method!r}.{extra_pass}")
            continue  # beta, gamma, ... do not matter once the method is Barlow Twins
        if got == want:
            continue
        if got.method != want.method:
            raise CheckFailed(f"{where}: every TriMix row keeps method='trimix'; got {got.method!r}")
        zero_swapped = (got.beta == 0) != (want.beta == 0) and (got.gamma == 0) != (want.gamma == 0)
        if zero_swapped or (got.beta, got.gamma) == (want.gamma, want.beta):
            raise CheckFailed(f"{where}: beta and gamma are mixed up: beta weighs L_vrt and gamma weighs L_con "
                              f"(eq 11), and this row is {ROWS[name]}")
        changed = {f: (getattr(got, f), getattr(want, f)) for f in ("alpha", "beta", "gamma", "tau", "feature_norm",
                                                                    "vrt_on", "con_on") if getattr(got, f) != getattr(want, f)}
        said = ", ".join(f"{f}={g!r} (should be {w!r})" for f, (g, w) in changed.items()) or "other fields"
        raise CheckFailed(f"{where}: this row is {ROWS[name]}; your changes give {said}. Change only what the row "
                          "switches off and keep every other value of the paper's")
