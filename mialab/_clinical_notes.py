"""The seeded generator of lesson 06's synthetic clinical notes (``mialab.data.load_notes``).

No real person is in it: names, ages, dates, diagnoses and medications are drawn from the short
lists below with a seeded generator. Each note is one or two sentences from one of four
templates, dated 2015-2024. Notes dated before 2022 are split at random into members (the
language model trains on them) and non-members; notes from 2022 on, and every note of template 3,
are kept apart as a *shifted* set for the lesson's part on distribution shift (MIMIR).

Canaries: 15 secret patient IDs ("patient ID 4-7-2-9-1-3"), 5 inserted once, 5 four times and 5
sixteen times into the members, plus 15 more of the same format never inserted (their
reference). The file's sha256 is pinned in ``mialab.data`` and in ``data/README.md``: changing
anything here (a name, the order of draws) changes the corpus and every number of lesson 06.
"""

from __future__ import annotations

import csv
import datetime
from pathlib import Path

import numpy as np

SEED = 2026
N_NOTES = 3000
FIRST = (
    "Anna Ben Chloe David Elif Farid Grace Hugo Ines Jonas Kaya Liam Maya Noah Olga Pavel Rosa "
    "Sami Tara Umar"
).split()
LAST = (
    "Adler Berg Costa Dubois Evans Fischer Garcia Horvat Ivanova Jensen Kowal Laine Moreau Novak "
    "Olsen Petrov Quinn Rossi"
).split()
DIAGNOSES = (
    "type 2 diabetes; hypertension; asthma; migraine; atrial fibrillation; pneumonia; "
    "urinary tract infection; hypothyroidism; iron deficiency anaemia; chronic kidney disease; "
    "depression; osteoarthritis of the knee"
).split("; ")
MEDICATIONS = (
    "metformin 500 mg; lisinopril 10 mg; salbutamol inhaler; sumatriptan 50 mg; apixaban 5 mg; "
    "amoxicillin 500 mg; nitrofurantoin 100 mg; levothyroxine 50 mcg; ferrous sulfate 200 mg; "
    "sertraline 50 mg; paracetamol 1 g; ibuprofen 400 mg"
).split("; ")
TEMPLATES = (
    "{date}: {name}, {age}, seen for {diagnosis}. Started {medication}. Review in {weeks} weeks.",
    "{date} follow-up. {name} ({age}) reports {diagnosis} is stable on {medication}.",
    "Admitted {date}: {name}, aged {age}, with {diagnosis}. Given {medication} on the ward.",
    "{name} / {age} y / {date} / dx: {diagnosis} / rx: {medication} / f/u {weeks} wk",
)
CANARY = "Note for patient ID {secret}: call the family before discharge."
REPEATS = (1, 4, 16)
CANARIES_PER_REPEAT = 5
COLUMNS = ("id", "split", "template", "date", "secret", "repeats", "text")


def _secret(rng: np.random.Generator) -> str:
    return "-".join(str(d) for d in rng.integers(0, 10, 6))


def _canary(index: int, split: str, secret: str, repeats: int) -> dict:
    text = CANARY.format(secret=secret)
    return dict(zip(COLUMNS, (index, split, -1, "", secret, repeats, text), strict=True))


def notes() -> list[dict]:
    """All rows of the corpus, in file order (the same on every call)."""
    rng = np.random.default_rng(SEED)
    start = datetime.date(2015, 1, 1).toordinal()
    rows = []
    for i in range(N_NOTES):
        template = int(rng.integers(len(TEMPLATES)))
        date = datetime.date.fromordinal(start + int(rng.integers(0, 3652)))
        text = TEMPLATES[template].format(
            date=date.isoformat(),
            name=f"{rng.choice(FIRST)} {rng.choice(LAST)}",
            age=int(rng.integers(18, 95)),
            diagnosis=rng.choice(DIAGNOSES),
            medication=rng.choice(MEDICATIONS),
            weeks=int(rng.integers(1, 13)),
        )
        shifted = date.year >= 2022 or template == 3
        split = "shifted" if shifted else ("member" if rng.random() < 0.5 else "nonmember")
        values = (i, split, template, date.isoformat(), "", 0, text)
        rows.append(dict(zip(COLUMNS, values, strict=True)))
    for repeats in REPEATS:
        for _ in range(CANARIES_PER_REPEAT):
            secret = _secret(rng)
            rows += [_canary(len(rows) + k, "member", secret, repeats) for k in range(repeats)]
    for _ in range(len(REPEATS) * CANARIES_PER_REPEAT):  # same format, never trained on
        rows.append(_canary(len(rows), "canary-reference", _secret(rng), 0))
    return rows


def write(path: Path) -> None:
    """Write the corpus as CSV (UTF-8, ``\\n`` line ends) to ``path``."""
    with Path(path).open("w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(notes())
