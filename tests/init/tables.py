"""Generated CSV tables for the `mlpipe init` tests: penguin-like measurements with blanks and
missing-value tokens, labels of every spelling, an id, a constant and a leaking column."""

import csv
import pathlib
import random
from typing import Dict, List, Optional, Sequence

PENGUIN_HEADER = ["rowid", "species", "island", "bill_length_mm", "bill_depth_mm",
                  "flipper_length_mm", "body_mass_g", "sex", "year", "comment", "tag"]


def penguin_rows(n: int = 400, seed: int = 0, labels=("Adelie", "Gentoo"),
                 leak: bool = False) -> List[Dict[str, object]]:
    """Two species with overlapping measurements (no single column separates them), `NA` tokens
    and blanks in the numeric columns, blanks in `sex`, a constant `year`, a mostly empty
    `comment`, a unique `rowid`; with `leak`, `tag` repeats the species in other words."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        second = rng.random() < 0.45
        species = labels[1] if second else labels[0]
        bill = rng.gauss(46.0 if second else 41.0, 3.0)
        depth = rng.gauss(15.8 if second else 17.2, 1.2)
        flipper = int(rng.gauss(205 if second else 196, 8))
        mass = int(rng.gauss(4700 if second else 3900, 450))
        island = rng.choice(["Biscoe", "Biscoe", "Dream"] if second
                            else ["Biscoe", "Dream", "Torgersen"])
        row = {
            "rowid": i + 1, "species": species, "island": island,
            "bill_length_mm": f"{bill:.1f}", "bill_depth_mm": f"{depth:.1f}",
            "flipper_length_mm": flipper, "body_mass_g": mass,
            "sex": "" if i % 23 == 5 else rng.choice(["male", "female"]),
            "year": 2008, "comment": "checked" if i % 9 == 0 else "",
            "tag": ("band-" + str(species)[:1].lower()) if leak else rng.choice(["a", "b"]),
        }
        if i % 31 == 7:
            row["bill_length_mm"] = "NA"
        if i % 37 == 11:
            row["bill_depth_mm"] = ""
        if i % 41 == 13:
            row["flipper_length_mm"] = "NA"
            row["body_mass_g"] = "NA"
        rows.append(row)
    return rows


def write_csv(path, rows: Sequence[Dict[str, object]],
              header: Optional[Sequence[str]] = None) -> pathlib.Path:
    path = pathlib.Path(path)
    header = list(header or rows[0].keys())
    with path.open("w", newline="", encoding="utf-8") as target:
        writer = csv.DictWriter(target, header, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def without(rows: Sequence[Dict[str, object]], *columns: str) -> List[Dict[str, object]]:
    return [{k: v for k, v in row.items() if k not in columns} for row in rows]


def multiclass_rows(n: int = 450, seed: int = 0, labels=("Adelie", "Chinstrap", "Gentoo"),
                    shares=None, leak: bool = False) -> List[Dict[str, object]]:
    """One class per label (any number of them: strings or integers), drawn with `shares`
    (default: even), with overlapping measurements that shift with the class (no single column
    separates them), `NA` tokens and blanks in the numeric columns, blanks in `sex`, a constant
    `year`, a unique `rowid`; with `leak`, `tag` names the class in other words."""
    rng = random.Random(seed)
    shares = list(shares or [1.0] * len(labels))
    rows = []
    for i in range(n):
        k = rng.choices(range(len(labels)), weights=shares)[0]
        row = {
            "rowid": i + 1, "species": labels[k],
            "island": rng.choice(["Biscoe", "Dream", "Torgersen"][:k + 1] + ["Biscoe"]),
            "bill_length_mm": f"{rng.gauss(40.0 + 2.5 * k, 3.0):.1f}",
            "flipper_length_mm": int(rng.gauss(190 + 6 * k, 8)),
            "body_mass_g": int(rng.gauss(3800 + 300 * k, 450)),
            "sex": "" if i % 23 == 5 else rng.choice(["male", "female"]),
            "year": 2008,
            "tag": f"band-{k * 7 + 3}" if leak else rng.choice(["a", "b"]),
        }
        if i % 31 == 7:
            row["bill_length_mm"] = "NA"
        if i % 41 == 13:
            row["flipper_length_mm"] = "NA"
        rows.append(row)
    return rows


def regression_rows(n: int = 400, seed: int = 0, leak: bool = False) -> List[Dict[str, object]]:
    """A decimal target, `mass_kg`, from noisy measurements: blanks and `NA` tokens in the
    numeric features, blanks in a categorical one (`island`), a constant `year`, a unique
    `rowid`; with `leak`, `mass_lb` is the target in pounds (rounded)."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        flipper = rng.gauss(200, 10)
        bill = rng.gauss(44, 4)
        island = rng.choice(["Biscoe", "Dream", "Torgersen"])
        mass = 4.2 + 0.02 * (flipper - 200) + 0.05 * (bill - 44) + \
            (0.3 if island == "Biscoe" else 0.0) + rng.gauss(0, 0.35)
        row = {
            "rowid": i + 1, "island": "" if i % 19 == 4 else island,
            "bill_length_mm": f"{bill:.1f}", "flipper_length_mm": int(flipper),
            "sex": rng.choice(["male", "female"]), "year": 2008,
            "mass_lb": f"{mass * 2.20462:.2f}" if leak else rng.choice(["x", "y"]),
            "mass_kg": f"{mass:.3f}",
        }
        if i % 29 == 3:
            row["bill_length_mm"] = "NA"
        if i % 37 == 11:
            row["flipper_length_mm"] = ""
        rows.append(row)
    return rows
