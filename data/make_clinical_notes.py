"""Write the synthetic clinical-notes corpus of lesson 06: ``python data/make_clinical_notes.py``.

``make`` runs it before the tests and the course (the file is generated, not kept in git);
``--out PATH`` writes elsewhere.

No real person is in it: names, ages, dates, diagnoses and medications are drawn from the short
lists below with a seeded generator. Each note is one or two sentences from one of four
templates, dated 2015-2024. Notes dated before 2022 are split at random into members (the
language model trains on them) and non-members; notes from 2022 on, and every note of template 3,
are kept apart as a *shifted* set for the lesson's part on distribution shift (MIMIR).

Canaries: 15 secret patient IDs ("patient ID 4-7-2-9-1-3"), 5 inserted once, 5 four times and 5
sixteen times into the members, plus 15 more of the same format never inserted (their
reference). The output file's sha256 is pinned in ``data/README.md`` and checked by
``mialab.data.load_notes``, which never regenerates the file.
"""

import argparse
import csv
import datetime
from pathlib import Path

import numpy as np

SEED = 2026
N_NOTES = 3000
OUT = Path(__file__).with_name("clinical_notes.csv")

FIRST = [
    "Anna",
    "Ben",
    "Chloe",
    "David",
    "Elif",
    "Farid",
    "Grace",
    "Hugo",
    "Ines",
    "Jonas",
    "Kaya",
    "Liam",
    "Maya",
    "Noah",
    "Olga",
    "Pavel",
    "Rosa",
    "Sami",
    "Tara",
    "Umar",
]
LAST = [
    "Adler",
    "Berg",
    "Costa",
    "Dubois",
    "Evans",
    "Fischer",
    "Garcia",
    "Horvat",
    "Ivanova",
    "Jensen",
    "Kowal",
    "Laine",
    "Moreau",
    "Novak",
    "Olsen",
    "Petrov",
    "Quinn",
    "Rossi",
]
DIAGNOSES = [
    "type 2 diabetes",
    "hypertension",
    "asthma",
    "migraine",
    "atrial fibrillation",
    "pneumonia",
    "urinary tract infection",
    "hypothyroidism",
    "iron deficiency anaemia",
    "chronic kidney disease",
    "depression",
    "osteoarthritis of the knee",
]
MEDICATIONS = [
    "metformin 500 mg",
    "lisinopril 10 mg",
    "salbutamol inhaler",
    "sumatriptan 50 mg",
    "apixaban 5 mg",
    "amoxicillin 500 mg",
    "nitrofurantoin 100 mg",
    "levothyroxine 50 mcg",
    "ferrous sulfate 200 mg",
    "sertraline 50 mg",
    "paracetamol 1 g",
    "ibuprofen 400 mg",
]
TEMPLATES = [
    "{date}: {name}, {age}, seen for {diagnosis}. Started {medication}. Review in {weeks} weeks.",
    "{date} follow-up. {name} ({age}) reports {diagnosis} is stable on {medication}.",
    "Admitted {date}: {name}, aged {age}, with {diagnosis}. Given {medication} on the ward.",
    "{name} / {age} y / {date} / dx: {diagnosis} / rx: {medication} / f/u {weeks} wk",
]
CANARY = "Note for patient ID {secret}: call the family before discharge."
REPEATS = (1, 4, 16)
CANARIES_PER_REPEAT = 5


def secret(rng) -> str:
    return "-".join(str(d) for d in rng.integers(0, 10, 6))


def main() -> None:
    parser = argparse.ArgumentParser(description="Write the synthetic clinical-notes corpus.")
    parser.add_argument("--out", type=Path, default=OUT)
    out = parser.parse_args().out
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
        rows.append(
            {
                "id": i,
                "split": split,
                "template": template,
                "date": date.isoformat(),
                "secret": "",
                "repeats": 0,
                "text": text,
            }
        )
    for repeats in REPEATS:
        for _ in range(CANARIES_PER_REPEAT):
            value = secret(rng)
            for _ in range(repeats):
                rows.append(
                    {
                        "id": len(rows),
                        "split": "member",
                        "template": -1,
                        "date": "",
                        "secret": value,
                        "repeats": repeats,
                        "text": CANARY.format(secret=value),
                    }
                )
    for _ in range(len(REPEATS) * CANARIES_PER_REPEAT):  # same format, never trained on
        value = secret(rng)
        rows.append(
            {
                "id": len(rows),
                "split": "canary-reference",
                "template": -1,
                "date": "",
                "secret": value,
                "repeats": 0,
                "text": CANARY.format(secret=value),
            }
        )
    with out.open("w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {len(rows)} notes to {out}")


if __name__ == "__main__":
    main()
