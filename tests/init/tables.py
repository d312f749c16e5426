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
