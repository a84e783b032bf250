"""Build the conformance corpus of the reward verifiers, labelled by the reference implementations.

    python scripts/make_rewards_corpus.py   # writes tests/data/rewards/{math,ifeval}_corpus.jsonl

Math pairs are labelled by `math_verify.verify(parse(gold), parse(response))`; IFEval cases by the
`check_following` of Google's checkers (as packaged in `if-verifiable`) on the strict response and on
the 8 loose variants. Checks whose reference needs NLTK data files that cannot be downloaded here raise
`LookupError`; their label is stored as null.
"""

from __future__ import annotations

import json
import random
from fractions import Fraction
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "rewards"


def math_pairs(rng: random.Random) -> list[tuple[str, str]]:
    """(gold, boxed answer) pairs: equivalent rewritings and near misses of typical MATH answers."""
    pairs: list[tuple[str, str]] = []
    for _ in range(60):
        n = rng.randint(-500, 5000)
        pairs += [
            (str(n), a)
            for a in (str(n), f"{n}.0", f"{n}.00", str(n + 1), str(-n - 1), f"\\frac{{{2 * n}}}{{2}}")
        ]
        if n >= 1000:
            pairs.append((str(n), f"{n:,}"))
        pairs += [
            (str(n), f"{n}^\\circ"),
            (str(n), f"\\${n}"),
            (str(n), f"x = {n}"),
            (str(n), f"{n} \\text{{ cm}}"),
        ]
    for _ in range(60):
        p, q = rng.randint(1, 40), rng.randint(2, 40)
        f = Fraction(p, q)
        gold = f"\\frac{{{f.numerator}}}{{{f.denominator}}}" if f.denominator != 1 else str(f.numerator)
        answers = [
            f"\\frac{{{p}}}{{{q}}}",
            f"\\dfrac{{{p}}}{{{q}}}",
            f"{p}/{q}",
            f"\\frac{{{q}}}{{{p}}}",
            f"\\frac{{{p + 1}}}{{{q}}}",
            f"-\\frac{{{p}}}{{{q}}}",
            f"{float(f):.3f}",
        ]
        if 1000 % f.denominator == 0:
            answers.append(str(float(f)))
        if f > 1 and f.denominator != 1:
            whole = f.numerator // f.denominator
            rest = f - whole
            answers.append(f"{whole}\\frac{{{rest.numerator}}}{{{rest.denominator}}}")
        pairs += [(gold, a) for a in answers]
    for _ in range(40):
        a, b = rng.randint(2, 9), rng.choice([2, 3, 5, 6, 7, 10, 11])
        gold = f"{a}\\sqrt{{{b}}}"
        answers = [
            gold,
            f"\\sqrt{{{a * a * b}}}",
            f"{a}\\sqrt{b}",
            f"{a}\\sqrt{{{b + 1}}}",
            f"{a + 1}\\sqrt{{{b}}}",
        ]
        answers += [f"\\frac{{{2 * a}\\sqrt{{{b}}}}}{{2}}", f"{a * a * b}", f"{a}*\\sqrt{{{b}}}"]
        pairs += [(gold, x) for x in answers]
    for _ in range(30):
        k, m = rng.randint(1, 9), rng.randint(2, 12)
        gold = f"\\frac{{{k}\\pi}}{{{m}}}"
        answers = [
            gold,
            f"\\frac{{{k}}}{{{m}}}\\pi",
            f"{k}\\pi/{m}",
            f"\\frac{{{k + 1}\\pi}}{{{m}}}",
            f"\\frac{{{k}}}{{{m}}}",
        ]
        pairs += [(gold, x) for x in answers]
    for _ in range(40):
        a, b = rng.randint(-9, 9), rng.randint(-9, 9)
        gold = f"({a},{b})"
        answers = [
            f"({a}, {b})",
            f"\\left({a},{b}\\right)",
            f"({b},{a})",
            f"[{a},{b}]",
            f"({a},{b + 1})",
            f"{a},{b}",
        ]
        pairs += [(gold, x) for x in answers]
        lo, hi = sorted((a, b + 20))
        gold = f"[{lo},{hi})"
        answers = [f"[{lo}, {hi})", f"({lo},{hi})", f"[{lo},{hi}]", f"[{lo},{hi + 1})"]
        pairs += [(gold, x) for x in answers]
        gold = f"(-\\infty,{lo}]\\cup({hi},\\infty)"
        answers = [gold, f"(-\\infty, {lo}] \\cup ({hi}, \\infty)", f"(-\\infty,{lo})\\cup({hi},\\infty)"]
        pairs += [(gold, x) for x in answers]
    for _ in range(30):
        xs = sorted(rng.sample(range(-20, 20), 3))
        gold = ", ".join(map(str, xs))
        answers = [
            gold,
            ", ".join(map(str, reversed(xs))),
            ", ".join(map(str, xs[:2])),
            ", ".join(map(str, [*xs, 99])),
        ]
        answers += ["\\{" + ",".join(map(str, xs)) + "\\}", ", ".join(str(x + 1) for x in xs)]
        pairs += [(gold, x) for x in answers]
    for _ in range(30):
        a, b, c = rng.randint(1, 9), rng.randint(1, 9), rng.randint(1, 9)
        gold = f"{a}x^2+{b}x+{c}"
        answers = [gold, f"{c}+{b}x+{a}x^2", f"{a}x^2+{b}x+{c + 1}", f"x({a}x+{b})+{c}", f"{a}x^2+{c}x+{b}"]
        pairs += [(gold, x) for x in answers]
        gold = f"(x+{a})^2"
        answers = [f"x^2+{2 * a}x+{a * a}", f"x^2+{a * a}", gold, f"(x-{a})^2"]
        pairs += [(gold, x) for x in answers]
    for _ in range(20):
        a, b, c, d = (rng.randint(-5, 9) for _ in range(4))
        gold = f"\\begin{{pmatrix}} {a} & {b} \\\\ {c} & {d} \\end{{pmatrix}}"
        answers = [
            gold,
            f"\\begin{{pmatrix}}{a}&{b}\\\\{c}&{d}\\end{{pmatrix}}",
            f"\\begin{{pmatrix}} {b} & {a} \\\\ {c} & {d} \\end{{pmatrix}}",
        ]
        pairs += [(gold, x) for x in answers]
        gold = f"\\begin{{pmatrix}} {a} \\\\ {b} \\end{{pmatrix}}"
        pairs += [(gold, x) for x in (gold, f"\\begin{{pmatrix}} {a} \\\\ {b + 1} \\end{{pmatrix}}")]
    words = ["Monday", "Tuesday", "Sunday", "(A)", "(B)", "(C)", "(D)", "odd", "even", "neither"]
    for w in words:
        gold = f"\\text{{{w}}}"
        pairs += [(gold, x) for x in (gold, w, f"\\text{{{rng.choice(words)}}}")]
    for _ in range(20):
        e = rng.randint(2, 9)
        m = rng.randint(11, 99) / 10
        gold = f"{m}\\times10^{{{e}}}"
        answers = [gold, str(round(m * 10**e)), f"{m} \\cdot 10^{e}", f"{m}\\times10^{{{e + 1}}}"]
        pairs += [(gold, x) for x in answers]
        p = rng.randint(1, 99)
        pairs += [(f"{p}\\%", x) for x in (f"{p}\\%", str(p), f"{p + 1}\\%")]
    for _ in range(20):
        a, b = rng.randint(1, 9), rng.randint(1, 9)
        gold = f"{a}+{b}i"
        pairs += [(gold, x) for x in (gold, f"{b}i+{a}", f"{a}-{b}i", f"{a}+{b}\\cdot i")]
    return pairs


def math_corpus(rng: random.Random) -> list[dict]:
    from math_verify import parse, verify

    templates = [
        "Let me compute. ... Therefore the answer is $\\boxed{{{a}}}$.",
        "We simplify step by step, giving \\boxed{{{a}}}",
        "The result follows. Final Answer: The final answer is ${a}$. I hope it is correct.",
    ]
    rows = []
    for gold, answer in math_pairs(rng):
        response = rng.choice(templates).format(a=answer)
        reference = verify(parse(f"\\boxed{{{gold}}}"), parse(response))
        rows.append({"gold": gold, "response": response, "reference": bool(reference)})
    return rows


VOCAB = [
    "apple",
    "river",
    "Banana",
    "quick",
    "brown",
    "fox",
    "jumps",
    "over",
    "lazy",
    "dog",
    "CITY",
    "NIGHT",
    "summer",
    "light",
]
FOREIGN = {
    "fr": "Le chat dort sur le canapé et la pluie tombe doucement sur la ville ce soir.",
    "de": "Die Katze schläft auf dem Sofa und der Regen fällt heute Abend leise auf die Stadt.",
    "es": "El gato duerme en el sofá y la lluvia cae suavemente sobre la ciudad esta noche.",
    "en": "The cat sleeps on the sofa and the rain falls softly on the city tonight.",
    "it": "Il gatto dorme sul divano e la pioggia cade dolcemente sulla città stasera.",
}


def random_text(rng: random.Random) -> str:
    pieces = []
    for _ in range(rng.randint(1, 8)):
        kind = rng.random()
        if kind < 0.35:
            sentence = " ".join(rng.choice(VOCAB) for _ in range(rng.randint(2, 9)))
            pieces.append(sentence + rng.choice([".", "!", "?", ",", ""]))
        elif kind < 0.45:
            pieces.append(rng.choice(["* item one", "- item two", "*not a bullet*", "**bold part**", "* *"]))
        elif kind < 0.55:
            pieces.append(rng.choice(["<<A Title>>", "<< >>", "[name]", "[address] and [date]", "******"]))
        elif kind < 0.62:
            pieces.append(
                rng.choice(["***", "\n\n", "Section 1", "SECTION 2", "P.S. see you", "p.p.s. later"])
            )
        elif kind < 0.72:
            pieces.append(FOREIGN[rng.choice(list(FOREIGN))])
        elif kind < 0.78:
            pieces.append(
                rng.choice(
                    ["My answer is yes.", "My answer is maybe", "Is there anything else I can help with?"]
                )
            )
        else:
            pieces.append(" ".join(rng.choice(VOCAB).upper() for _ in range(rng.randint(1, 5))))
    text = rng.choice([" ", "\n", "\n\n"]).join(pieces)
    if rng.random() < 0.1:
        text = text.lower()
    if rng.random() < 0.1:
        text = text.upper()
    if rng.random() < 0.08:
        text = f'"{text}"'
    if rng.random() < 0.05:
        text = json.dumps({"answer": text})
    return text


def ifeval_kwargs(rng: random.Random, instruction_id: str) -> dict:
    rel = rng.choice(["less than", "at least"])
    return {
        "keywords:existence": lambda: {"keywords": rng.sample(VOCAB, 2)},
        "keywords:frequency": lambda: {
            "keyword": rng.choice(VOCAB),
            "frequency": rng.randint(1, 3),
            "relation": rel,
        },
        "keywords:forbidden_words": lambda: {"forbidden_words": rng.sample(VOCAB, 2)},
        "keywords:letter_frequency": lambda: {
            "letter": rng.choice("aeiount"),
            "let_frequency": rng.randint(1, 12),
            "let_relation": rel,
        },
        "language:response_language": lambda: {"language": rng.choice(list(FOREIGN))},
        "length_constraints:number_sentences": lambda: {"num_sentences": rng.randint(1, 6), "relation": rel},
        "length_constraints:number_paragraphs": lambda: {"num_paragraphs": rng.randint(1, 4)},
        "length_constraints:number_words": lambda: {"num_words": rng.randint(5, 60), "relation": rel},
        "length_constraints:nth_paragraph_first_word": lambda: {
            "num_paragraphs": rng.randint(1, 3),
            "nth_paragraph": rng.randint(1, 3),
            "first_word": rng.choice(VOCAB).lower(),
        },
        "detectable_content:number_placeholders": lambda: {"num_placeholders": rng.randint(1, 3)},
        "detectable_content:postscript": lambda: {"postscript_marker": rng.choice(["P.S.", "P.P.S"])},
        "detectable_format:number_bullet_lists": lambda: {"num_bullets": rng.randint(0, 3)},
        "detectable_format:constrained_response": dict,
        "detectable_format:number_highlighted_sections": lambda: {"num_highlights": rng.randint(1, 3)},
        "detectable_format:multiple_sections": lambda: {
            "section_spliter": rng.choice(["Section", "SECTION"]),
            "num_sections": rng.randint(1, 2),
        },
        "detectable_format:json_format": dict,
        "detectable_format:title": dict,
        "combination:two_responses": dict,
        "combination:repeat_prompt": lambda: {
            "prompt_to_repeat": rng.choice(["apple river", "The cat", "quick brown fox"])
        },
        "startend:end_checker": lambda: {
            "end_phrase": rng.choice(["Is there anything else I can help with?", "light"])
        },
        "change_case:capital_word_frequency": lambda: {
            "capital_frequency": rng.randint(1, 6),
            "capital_relation": rel,
        },
        "change_case:english_capital": dict,
        "change_case:english_lowercase": dict,
        "punctuation:no_comma": dict,
        "startend:quotation": dict,
    }[instruction_id]()


def ifeval_corpus(rng: random.Random, per_id: int = 48) -> list[dict]:
    import langdetect
    from if_verifiable.common import get_loose_transformations
    from if_verifiable.ifeval.instructions_registry import INSTRUCTION_DICT

    langdetect.DetectorFactory.seed = 0
    rows = []
    for instruction_id, checker_class in sorted(INSTRUCTION_DICT.items()):
        for _ in range(per_id):
            kwargs = ifeval_kwargs(rng, instruction_id)
            response = random_text(rng)
            if instruction_id == "combination:repeat_prompt" and rng.random() < 0.5:
                response = kwargs["prompt_to_repeat"] + " " + response
            checker = checker_class(instruction_id)
            checker.build_description(**kwargs)

            def check(text: str, checker=checker) -> bool | None:
                try:
                    return bool(text.strip() and checker.check_following(text))
                except LookupError:  # NLTK data (punkt) is not installed
                    return None

            strict = check(response)
            loose_each = [check(v) for v in get_loose_transformations(response)]
            loose = None if None in loose_each else any(loose_each)
            rows.append(
                {
                    "id": instruction_id,
                    "kwargs": kwargs,
                    "response": response,
                    "strict": strict,
                    "loose": loose,
                }
            )
    return rows


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, build in (("ifeval", ifeval_corpus), ("math", math_corpus)):
        rows = build(random.Random(1234))
        with (OUT / f"{name}_corpus.jsonl").open("w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
        print(f"{name}: {len(rows)} rows")


if __name__ == "__main__":
    main()
