"""Write the bundled prompt-waywardness demo data under data/demo/: a synthetic sentiment task and target texts.

    python scripts/make_waywardness_data.py

Files: sentiment_{train,val}.tsv (columns `text`, `label`: 0 negative, 1 positive; verbalizers terrible/great)
and waywardness_targets.txt (one target text a line). A review names a subject and one or two opinions; when
there are two ("good at first but dull in the end") the last one decides the label. Deterministic.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

SUBJECTS = [
    "the movie",
    "the film",
    "the plot",
    "the acting",
    "the story",
    "the music",
    "the ending",
    "the cast",
]
POSITIVE = ["wonderful", "brilliant", "moving", "funny", "charming", "superb", "delightful", "clever"]
NEGATIVE = ["boring", "awful", "dull", "clumsy", "tedious", "weak", "messy", "bland"]
TARGETS = [
    "Is this review positive?",
    "a story about a cat",
    "The weather is nice today",
]


def review(rng: random.Random) -> tuple[str, int]:
    subject = rng.choice(SUBJECTS)
    label = rng.randint(0, 1)
    final = rng.choice(POSITIVE if label else NEGATIVE)
    if rng.random() < 0.7:
        return f"{subject} was {final}", label
    first = rng.choice(NEGATIVE if label else POSITIVE)  # the opinion the ending overturns
    return f"{subject} was {first} at first but {final} in the end", label


def write_tsv(path: Path, rows: list[tuple[str, int]]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, delimiter="\t", lineterminator="\n")
        writer.writerow(["text", "label"])
        writer.writerows(rows)


def main() -> None:
    out = Path(__file__).resolve().parents[1] / "data" / "demo"
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(6)
    seen: set[str] = set()
    rows = []
    while len(rows) < 600:
        text, label = review(rng)
        if text not in seen:
            seen.add(text)
            rows.append((text, label))
    write_tsv(out / "sentiment_train.tsv", rows[:480])
    write_tsv(out / "sentiment_val.tsv", rows[480:])
    (out / "waywardness_targets.txt").write_text("\n".join(TARGETS) + "\n")
    print(f"wrote {out}/sentiment_{{train,val}}.tsv (480/120 rows) and waywardness_targets.txt")


if __name__ == "__main__":
    main()
