"""Build the conformance corpus of the reward verifiers, labelled by the reference implementations.

    python scripts/make_rewards_corpus.py [ifeval|ifbench|math ...] [--ifbench PATH]
    # writes tests/data/rewards/{name}_corpus.jsonl; PATH: a checkout of allenai/IFBench (for `ifbench`)

Math pairs are labelled by `math_verify.verify(parse(gold), parse(response))`; IFEval cases by the
`check_following` of Google's checkers (as packaged in `if-verifiable`) on the strict response and on
the 8 loose variants. Checks whose reference needs NLTK data files that cannot be downloaded here raise
`LookupError`; their label is stored as null.

IFBench cases are labelled by `if-verifiable` 0.1.2 (IFBench as of Nov 2025), except the checks IFBench
changed since (`IFBENCH_MOVED`): those are labelled by the checkout's `ifbench/instructions.py`, with the
0.1.2 labels kept as `strict_if_verifiable`/`loose_if_verifiable`. Its `split_into_sentences` (now NLTK's
`sent_tokenize`, which needs punkt's model) is replaced by 0.1.2's regular expression, as in our port.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import random
import re
import sys
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


# ---------------------------------------------------------------- math answers by class, in the forms models print

# How a model writes its final answer X; `flex` mode must read every one of them.
MATH_FORMS = {
    "boxed": "We combine the cases above. Therefore, the answer is $\\boxed{{{a}}}$.",
    "boxed_display": "Putting everything together,\n\\[\n\\boxed{{{a}}}\n\\]",
    "minerva": "Solving gives the result.\nFinal Answer: The final answer is ${a}$. I hope it is correct.",
    "dollar": "After simplifying, we find that the answer is ${a}$.",
    "display_dollar": "Collecting terms, the result is\n$$ {a} $$",
    "display_bracket": "Collecting terms, the result is\n\\[ {a} \\]",
    "inline_paren": "So the value we want is \\( {a} \\).",
}


def math_class_pairs(rng: random.Random) -> list[tuple[str, str, str, str, bool]]:
    """(class, case, gold, answer, intended) over the answer classes real solvers produce.

    `answer` is wrapped in each of `MATH_FORMS` unless `case` ends in `/raw` (then it is the whole
    response). `intended` is whether the answer means the gold, as a grader would read it.
    """
    out: list[tuple[str, str, str, str, bool]] = []

    def add(cls: str, case: str, gold: str, answer: str, intended: bool) -> None:
        out.append((cls, case, gold, answer, intended))

    for _ in range(6):
        a, b = sorted(rng.sample(range(-9, 20), 2))
        c = rng.choice([x for x in range(-9, 20) if x not in (a, b)])
        gold = f"{a}, {b}"
        add("several_boxes", "adjacent/raw", gold, f"The solutions are $\\boxed{{{a}}}\\boxed{{{b}}}$.", True)
        add("several_boxes", "comma/raw", gold, f"So $x = \\boxed{{{b}}}$, $\\boxed{{{a}}}$.", True)
        add("several_boxes", "and/raw", gold, f"The roots are \\boxed{{{a}}} and \\boxed{{{b}}}.", True)
        add("several_boxes", "one_box/raw", gold, f"Thus \\boxed{{{a},{b}}}.", True)
        add(
            "several_boxes",
            "missing_one/raw",
            gold,
            f"The roots are \\boxed{{{a}}} and \\boxed{{{c}}}.",
            False,
        )
        add("several_boxes", "hedge/raw", str(a), f"It is either \\boxed{{{c}}} or \\boxed{{{a}}}.", False)
        add(
            "several_boxes",
            "self_correction/raw",
            str(a),
            f"First guess: \\boxed{{{c}}}. Wait, that ignores the second condition; redoing the computation "
            f"with both conditions gives a different value. The answer is \\boxed{{{a}}}.",
            True,
        )
    for _ in range(6):
        n = rng.randint(-9, 30)
        lo, hi = sorted(rng.sample(range(-9, 30), 2))
        add("relations", "geq_spelling", f"x \\ge {n}", f"x \\geq {n}", True)
        add("relations", "ascii_geq", f"x \\ge {n}", f"x >= {n}", True)
        add("relations", "flipped", f"x \\le {n}", f"{n} \\geq x", True)
        add("relations", "negated", f"x < {n}", f"-x > {-n}", True)
        add("relations", "wrong_direction", f"x \\ge {n}", f"x \\le {n}", False)
        add("relations", "strictness", f"x > {n}", f"x \\ge {n}", False)
        add("relations", "membership_vs_chain", f"{lo} \\le x \\le {hi}", f"x \\in [{lo},{hi}]", True)
        add("relations", "chain_vs_membership", f"x \\in [{lo},{hi}]", f"{lo} \\le x \\le {hi}", True)
        add("relations", "interval_gold_vs_chain", f"[{lo},{hi}]", f"{lo} \\le x \\le {hi}", True)
        add("relations", "ray_vs_interval", f"x \\ge {n}", f"[{n}, \\infty)", True)
        add("relations", "wrong_interval", f"{lo} \\le x \\le {hi}", f"x \\in ({lo},{hi}]", False)
    for _ in range(6):
        p, q = rng.randint(-9, 9), rng.randint(-9, 9)
        n = rng.randint(-50, 200)
        add("labelled", "tuple_label", f"({p},{q})", f"(p,q)=({p},{q})", True)
        add("labelled", "tuple_label_gold", f"(p,q)=({p},{q})", f"({p},{q})", True)
        add("labelled", "scalar_label", str(n), f"x = {n}", True)
        add("labelled", "scalar_label_gold", f"k = {n}", str(n), True)
        add("labelled", "chain", str(n), f"x = {n - 3} + 3 = {n}", True)
        add("labelled", "wrong_value", str(n), f"x = {n + 1}", False)
        add("labelled", "swapped_tuple", f"({p},{q + 10})", f"(p,q)=({q + 10},{p})", False)
    for _ in range(6):
        a, b = rng.randint(-9, 9), rng.choice([2, 3, 5, 6, 7, 10, 11, 13, 19])
        add(
            "plus_minus",
            "pm_vs_list",
            f"{a} \\pm \\sqrt{{{b}}}",
            f"{a}+\\sqrt{{{b}}}, {a}-\\sqrt{{{b}}}",
            True,
        )
        add(
            "plus_minus",
            "list_vs_pm",
            f"{a}+\\sqrt{{{b}}}, {a}-\\sqrt{{{b}}}",
            f"{a} \\pm \\sqrt{{{b}}}",
            True,
        )
        add("plus_minus", "pm_vs_pm", f"{a} \\pm \\sqrt{{{b}}}", f"x = {a} \\pm \\sqrt{{{b}}}", True)
        add("plus_minus", "pm_vs_half", f"{a} \\pm \\sqrt{{{b}}}", f"{a}+\\sqrt{{{b}}}", False)
        add(
            "plus_minus",
            "pm_in_set",
            f"\\{{{a}\\pm\\sqrt{{{b}}}, {a + 20}\\}}",
            f"{a + 20}, {a}+\\sqrt{{{b}}}, {a}-\\sqrt{{{b}}}",
            True,
        )
    for _ in range(6):
        xs = sorted(rng.sample(range(-20, 40), 3))
        add("semicolon_sets", "semicolons", ", ".join(map(str, xs)), "; ".join(map(str, xs)), True)
        add(
            "semicolon_sets",
            "semicolons_reordered",
            ", ".join(map(str, xs)),
            "; ".join(map(str, xs[::-1])),
            True,
        )
        add(
            "semicolon_sets",
            "semicolons_missing",
            ", ".join(map(str, xs)),
            "; ".join(map(str, xs[:2])),
            False,
        )
    for _ in range(8):
        p = rng.randint(1, 99)
        for word in ("\\%", " pct", " percent", "%", " percentage"):
            add("percent", f"word{word.strip()}", f"{p}\\%", f"{p}{word}", True)
        add("percent", "bare_number", f"{p}\\%", str(p), True)
        add("percent", "fraction_of_one", f"{p}\\%", f"{p / 100:g}", True)
        add("percent", "wrong", f"{p}\\%", f"{p + 1}\\%", False)
        add("percent", "plain_text/raw", f"{p}\\%", f"The percentage is {p} percent.", True)
    for _ in range(8):
        a, b, c = rng.randint(1, 9), rng.randint(1, 9), rng.randint(1, 20)
        k = rng.choice([2, 3, -1, -2, 5])
        add("equations", "scaled", f"{a}x+{b}y={c}", f"{k * a}x+{k * b}y={k * c}", True)
        add("equations", "moved_terms", f"{a}x+{b}y-{c}=0", f"{a}x = {c} - {b}y", True)
        add("equations", "solved_for_y", f"{a}x+{b}y={c}", f"y = \\frac{{{c} - {a}x}}{{{b}}}", True)
        add("equations", "wrong_constant", f"{a}x+{b}y={c}", f"{k * a}x+{k * b}y={k * c + 1}", False)
        add(
            "equations",
            "conic_scaled",
            f"\\frac{{x^2}}{{{a * a}}} + \\frac{{y^2}}{{{b * b}}} = 1",
            f"{b * b}x^2 + {a * a}y^2 = {a * a * b * b}",
            True,
        )
        add("equations", "zero_factor", f"{a}x+{b}y={c}", "0 = 0", False)
    for _ in range(8):
        m = [[rng.randint(-9, 9) for _ in range(2)] for _ in range(2)]
        rows = " \\\\ ".join(" & ".join(map(str, r)) for r in m)
        gold = f"\\begin{{pmatrix}} {rows} \\end{{pmatrix}}"
        add(
            "matrices",
            "left_array",
            gold,
            f"\\left[\\begin{{array}}{{cc}} {rows} \\end{{array}}\\right]",
            True,
        )
        add("matrices", "bmatrix", gold, f"\\begin{{bmatrix}} {rows} \\end{{bmatrix}}", True)
        add("matrices", "left_matrix", gold, f"\\left[\\begin{{matrix}} {rows} \\end{{matrix}}\\right]", True)
        frac = rows.replace(str(m[0][0]), f"\\frac{{{2 * m[0][0]}}}{{2}}", 1)
        add("matrices", "entry_as_fraction", gold, f"\\begin{{pmatrix}} {frac} \\end{{pmatrix}}", True)
        wrong = " \\\\ ".join(" & ".join(map(str, r)) for r in [m[0], [m[1][0], m[1][1] + 1]])
        add(
            "matrices",
            "wrong_entry",
            gold,
            f"\\left[\\begin{{array}}{{cc}} {wrong} \\end{{array}}\\right]",
            False,
        )
        add(
            "matrices",
            "transposed",
            gold,
            f"\\begin{{pmatrix}} {m[0][0]} & {m[1][0]} \\\\ {m[0][1]} & {m[1][1]} \\end{{pmatrix}}",
            m[0][1] == m[1][0],
        )
        add(
            "matrices",
            "column_vector",
            f"\\begin{{pmatrix}} {m[0][0]} \\\\ {m[0][1]} \\end{{pmatrix}}",
            f"\\left[\\begin{{array}}{{c}} {m[0][0]} \\\\ {m[0][1]} \\end{{array}}\\right]",
            True,
        )
    for _ in range(8):
        p, q = rng.randint(1, 30), rng.randint(2, 30)
        f = Fraction(p, q)
        gold = f"\\frac{{{f.numerator}}}{{{f.denominator}}}" if f.denominator != 1 else str(f.numerator)
        add("cfrac", "cfrac", gold, f"\\cfrac{{{p}}}{{{q}}}", True)
        add(
            "cfrac",
            "nested_cfrac",
            f"\\frac{{{q}}}{{{q + 1}}}",
            f"\\cfrac{{1}}{{1+\\cfrac{{1}}{{{q}}}}}",
            True,
        )
        add("cfrac", "cfrac_wrong", gold, f"\\cfrac{{{p + 1}}}{{{q}}}", Fraction(p + 1, q) == f)
    for _ in range(6):
        a, b = rng.randint(1, 9), rng.randint(1, 9)
        n = rng.randint(3, 12)
        add(
            "sum_product",
            "sum_reordered",
            f"\\sum_{{k=1}}^{{n}} ({a}k+{b})",
            f"\\sum_{{k=1}}^{{n}} ({b}+{a}k)",
            True,
        )
        add(
            "sum_product",
            "prod_reordered",
            f"\\prod_{{k=1}}^{{n}} ({a}+k)",
            f"\\prod_{{k=1}}^{{n}} (k+{a})",
            True,
        )
        total = sum(a * k + b for k in range(1, n + 1))
        add("sum_product", "sum_evaluated", f"\\sum_{{k=1}}^{{{n}}} ({a}k+{b})", str(total), True)
        add("sum_product", "sum_evaluated_wrong", f"\\sum_{{k=1}}^{{{n}}} ({a}k+{b})", str(total + 1), False)
        add("sum_product", "product_reordered", f"{a}xy", f"y \\cdot {a} \\cdot x", True)
        add("sum_product", "sum_closed_form", "\\sum_{k=1}^{n} k", "\\frac{n(n+1)}{2}", True)
    for _ in range(6):
        n = rng.randint(-999, 9999)
        for opener, closer, name in (
            ("$$", "$$", "display_dollar"),
            ("\\[", "\\]", "display_bracket"),
            ("\\(", "\\)", "inline_paren"),
        ):
            add("display_math", f"{name}/raw", str(n), f"We add the two parts.\n{opener} {n} {closer}", True)
            add(
                "display_math",
                f"{name}_wrong/raw",
                str(n),
                f"We add the two parts.\n{opener} {n + 2} {closer}",
                False,
            )
    for _ in range(8):
        n = rng.randint(1000, 9_999_999)
        add("plain_text", "answer_is/raw", str(n), f"Adding everything up, the answer is {n:,}.", True)
        add("plain_text", "final_answer/raw", str(n), f"Final answer: {n}", True)
        add("plain_text", "no_commas/raw", str(n), f"So there are {n} ways in total.", True)
        add("plain_text", "wrong/raw", str(n), f"Adding everything up, the answer is {n + 10:,}.", False)
        add("plain_text", "fraction/raw", "\\frac{3}{4}", "The probability is 3/4.", True)
    for e in (400, 1024, 5000):
        add("big_numbers", "power_vs_infinity", "\\infty", f"10^{{{e}}}", False)
        add("big_numbers", "power_vs_next_power", f"2^{{{e}}}", f"2^{{{e + 1}}}", False)
        add("big_numbers", "power_equal", f"2^{{{e}}}", f"4^{{{e // 2}}}", e % 2 == 0)
        add("big_numbers", "scientific", f"1e{e}", f"2e{e}", False)
        add("big_numbers", "integer_digits", str(3**e), str(3**e + 1), False)
        add("big_numbers", "integer_digits_equal", str(7**e), str(7**e), True)
        add("big_numbers", "factorial", "100!", str(math.factorial(100) + 1), False)
    for _ in range(8):
        p, q = rng.randint(1, 40), rng.choice([3, 6, 7, 9, 11, 12, 13])
        f = Fraction(p, q)
        gold = f"\\frac{{{f.numerator}}}{{{f.denominator}}}"
        add("decimals", "sixteen_digits", gold, f"{float(f):.16f}", True)
        add("decimals", "three_digits", gold, f"{float(f):.3f}", False)
        add("decimals", "eight_digits", gold, f"{float(f):.8f}", True)
        r = rng.choice([2, 3, 5, 7, 17])
        add("decimals", "radical_decimal", f"\\sqrt{{{r}}}", repr(r**0.5), True)
        add("decimals", "radical_three_digits", f"\\sqrt{{{r}}}", f"{r**0.5:.3f}", False)
    for _ in range(8):
        n = rng.randint(1000, 999_999)
        head, tail = divmod(n, 1000)
        add("thousands", "comma_space", str(n), f"{head}, {tail:03d}", False)
        add("thousands", "thin_space", str(n), f"{head},\\!{tail:03d}", True)
        add("thousands", "braced_comma", str(n), f"{head}{{,}}{tail:03d}", True)
        add("thousands", "plain_comma", str(n), f"{head},{tail:03d}", True)
    for _ in range(6):
        n = rng.randint(1, 89)
        add("unicode", "degree_sign", str(n), f"{n}°", True)
        add("unicode", "unicode_minus", str(-n), f"−{n}", True)
        add("unicode", "pi_letter", f"\\frac{{\\pi}}{{{n + 1}}}", f"π/{n + 1}", True)
        add("unicode", "superscript", f"x^2+{n}", f"x²+{n}", True)
        add("unicode", "sqrt_sign", f"\\sqrt{{{n + 1}}}", f"√{n + 1}", True)
        add("unicode", "times_sign", str(n * 6), f"{n}×6", True)
        add("unicode", "degree_wrong", str(n), f"{n + 1}°", False)
    return out


def math_classes_corpus(rng: random.Random) -> list[dict]:
    """Answer pairs by class and form, labelled by math-verify (`verify(parse(boxed gold), parse(response))`)."""
    from math_verify import parse, verify

    rows = []
    for cls, case, gold, answer, intended in math_class_pairs(rng):
        if case.endswith("/raw"):
            forms = {"raw": answer}
        else:
            names = rng.sample(sorted(MATH_FORMS), 2)
            forms = {name: MATH_FORMS[name].format(a=answer) for name in names}
        for form, response in forms.items():
            reference = bool(verify(parse(f"\\boxed{{{gold}}}"), parse(response)))
            rows.append(
                {
                    "class": cls,
                    "case": case,
                    "form": form,
                    "gold": gold,
                    "response": response,
                    "intended": intended,
                    "reference": reference,
                }
            )
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
            row = {
                "id": instruction_id,
                "kwargs": kwargs,
                "response": response,
                "strict": strict,
                "loose": loose,
            }
            if strict is None or loose is None:
                with nltk_data_stand_ins():
                    row["strict_proxy"] = check(response)
                    proxy_each = [check(v) for v in get_loose_transformations(response)]
                    row["loose_proxy"] = None if None in proxy_each else any(proxy_each)
            rows.append(row)
    return rows


# ---------------------------------------------------------------- IFBench (out-of-distribution constraints)

WORDS = [
    "the",
    "cat",
    "sat",
    "on",
    "a",
    "mat",
    "and",
    "we",
    "ran",
    "to",
    "see",
    "her",
    "big",
    "red",
    "dog",
    "but",
    "it",
    "was",
    "not",
    "there",
    "so",
    "they",
    "went",
    "home",
    "yet",
    "nor",
    "for",
    "or",
    "apple",
    "street",
    "black",
    "strong",
    "tea",
    "idea",
    "area",
    "level",
    "radar",
    "civic",
    "kayak",
    "madam",
    "refer",
    "rotor",
    "stats",
    "tenet",
    "racecar",
    "eagle",
    "bald",
    "Emma",
    "Liam",
    "Noah",
    "David",
    "Grace",
    "I",
    "you",
    "he",
    "she",
    "us",
    "them",
    "his",
    "our",
    "its",
]
PALINDROMES = ["level", "radar", "civic", "kayak", "madam", "refer", "rotor", "stats", "tenet", "racecar"]
ALPHABET = "abcdefghijklmnopqrstuvwxyz"
ALPHA_WORDS = {c: [w for w in WORDS + VOCAB if w[0].lower() == c] or [c + "ox"] for c in ALPHABET}
EMOJIS = ["😀", "🚀", "🌍", "❤️", "👍", "🎉"]
CAPITALS = [
    "Reykjavik",
    "Helsinki",
    "Oslo",
    "Tallinn",
    "Stockholm",
    "Riga",
    "Moscow",
    "Copenhagen",
    "Vilnius",
    "Minsk",
    "Dublin",
    "Berlin",
    "Amsterdam",
    "Warsaw",
    "London",
    "Brussels",
    "Prague",
    "Luxembourg",
    "Paris",
    "Vienna",
    "Bratislava",
    "Budapest",
    "Vaduz",
    "Chisinau",
    "Bern",
    "Ljubljana",
    "Zagreb",
]


def words(rng: random.Random, n: int, pool: list[str] | None = None) -> list[str]:
    return [rng.choice(pool or WORDS) for _ in range(n)]


def sentence(rng: random.Random, n: int | None = None, end: str | None = None) -> str:
    text = " ".join(words(rng, n or rng.randint(2, 8)))
    return text[0].upper() + text[1:] + (end if end is not None else rng.choice(".?!"))


def paragraph(rng: random.Random, k: int | None = None) -> str:
    return " ".join(sentence(rng) for _ in range(k or rng.randint(1, 4)))


def ifbench_good(rng: random.Random, iid: str) -> tuple[dict, str]:
    """A response meant to follow `iid` (often near the boundary), with the kwargs it is graded by."""
    r = rng
    if iid == "count:word_count_range":
        lo = r.randint(3, 20)
        return {"min_words": lo, "max_words": lo + r.randint(0, 10)}, paragraph(r)
    if iid == "count:unique_word_count":
        return {"N": r.randint(3, 15)}, " ".join(words(r, r.randint(3, 20), WORDS[:12]))
    if iid == "ratio:stop_words":
        return {"percentage": r.randint(10, 80)}, paragraph(r)
    if iid == "ratio:sentence_type":
        q = r.randint(0, 2)
        return {}, " ".join(
            r.sample([sentence(r, end=".") for _ in range(2 * q)] + [sentence(r, end="?")] * q, 3 * q)
        )
    if iid == "ratio:sentence_balance":
        k = r.randint(1, 2)
        return {}, " ".join(sentence(r, end=e) for e in ".?!" * k)
    if iid == "count:conjunctions":
        conj = r.sample(["and", "but", "for", "nor", "or", "so", "yet", "And,", "so."], r.randint(1, 4))
        return {"small_n": r.randint(1, 4)}, " ".join(words(r, 3) + conj + words(r, 2))
    if iid == "count:person_names":
        return {"N": r.randint(1, 4)}, " and ".join(
            r.sample(["Emma", "Liam", "Noah", "David", "Grace", "Ava"], r.randint(1, 4))
        )
    if iid == "ratio:overlap":
        ref = paragraph(r, 2)
        resp = ref[: r.randint(10, len(ref))] + " " + " ".join(words(r, r.randint(0, 6)))
        grams = lambda s: {s[i : i + 3] for i in range(len(s) - 2)}  # noqa: E731
        pct = round(100 * len(grams(resp) & grams(ref)) / max(1, len(grams(resp)))) + r.randint(-3, 3)
        return {"reference_text": ref, "percentage": pct}, resp
    if iid == "count:numbers":
        nums = r.sample(["1,000", "2.5", "7", "42", "3", "10%", "(9)"], r.randint(1, 5))
        return {"N": len(nums) if r.random() < 0.6 else r.randint(1, 6)}, " ".join(words(r, 3) + nums)
    if iid == "words:alphabet":
        start = r.randrange(26)
        seq = [r.choice(ALPHA_WORDS[ALPHABET[(start + i) % 26]]) for i in range(r.randint(2, 8))]
        return {}, " ".join(seq).capitalize() + r.choice([".", "!", ""])
    if iid == "words:vowel":
        return {}, r.choice(["A bad cat sat", "Go to the top now", "I hid it", "Tea is nice"]) + r.choice(
            ["", ".", "\nmore"]
        )
    if iid == "words:consonants":
        return {}, " ".join(
            r.choice(["street", "black", "strong", "crisp", "tea", "idea", "its", "bright"])
            for _ in range(r.randint(1, 5))
        )
    if iid == "sentence:alliteration_increment":
        return {}, r.choice(
            ["Cats run. Big bad dogs. Silly sad sorry snakes.", "A b. Cool cats. Dark deep dim dens."]
        ) + r.choice(["", " Ok."])
    if iid == "words:palindrome":
        return {}, " ".join(
            words(r, 3) + [r.choice(PALINDROMES) + r.choice(["", ","]) for _ in range(r.randint(8, 12))]
        )
    if iid == "count:punctuation":
        marks = r.sample([".", ",", "!", "?", ";", ":", "?!", "!?", "‽"], r.randint(4, 9))
        return {}, " ".join(w + m for w, m in zip(words(r, len(marks)), marks))
    if iid == "format:parentheses":
        depth = r.randint(3, 6)
        opens = "".join(r.choice("([{") for _ in range(depth))
        closes = "".join({"(": ")", "[": "]", "{": "}"}[c] for c in reversed(opens))
        return {}, f"see {opens}x{closes} done"
    if iid == "format:quotes":
        depth = r.randint(2, 4)
        qs = ['"' if i % 2 == 0 else "'" for i in range(depth)]
        return {}, "He said " + "".join(q + "w " for q in qs) + "".join(reversed(qs)) + " end"
    if iid == "words:prime_lengths":
        return {}, " ".join(
            r.choice(["an", "the", "cats", "apple", "is", "seven", "go", "quick"])
            for _ in range(r.randint(1, 5))
        )
    if iid == "format:options":
        opts = r.choice(
            [
                "yes/no/maybe",
                "A) red, B) blue, C) green",
                "true or false",
                "apple, banana, cherry",
                "I know or I don't know",
            ]
        )
        pool = ["yes", "Yes.", "A) red", "red", "false", "banana!", "I don't know", "maybe so"]
        resp = r.choice(pool + opts.replace("/", ",").replace(" or ", ",").split(","))
        return {"options": opts}, resp
    if iid == "format:newline":
        ws = words(r, r.randint(1, 5))
        return {}, r.choice(["\n", "\n\n", " "]).join(w + r.choice(["", ".", ","]) for w in ws)
    if iid == "format:emoji":
        return {}, " ".join(
            sentence(r, end=r.choice(["", "."])) + " " + r.choice(EMOJIS) + r.choice(["", "."])
            for _ in range(r.randint(1, 3))
        )
    if iid == "ratio:sentence_words":
        return {}, r.choice(
            ["The cat ran. A dog sat. We all go.", "I am here. You are there. Ok.", "Red. Tan. Sun."]
        )
    if iid == "count:words_japanese":
        n = r.randint(2, 4)
        ws = [("日本" if (i + 1) % n == 0 else w) for i, w in enumerate(words(r, r.randint(3, 10)))]
        return {"N": n}, " ".join(ws)
    if iid == "words:start_verb":
        return {}, r.choice(["Imagine", "Run", "The", "Consider", "Cats"]) + " " + sentence(r)
    if iid == "words:repeats":
        return {"small_n": r.randint(1, 3)}, " ".join(words(r, r.randint(2, 10), WORDS[:8]))
    if iid == "sentence:keyword":
        text, n = paragraph(r, r.randint(1, 4)), r.randint(1, 3)
        sentences = re.split(r"(?<=[.?!]) ", text)
        word = r.choice(sentences[n - 1].split()) if n <= len(sentences) and r.random() < 0.6 else "cat"
        return {"word": word.strip(".?!"), "N": n}, text
    if iid == "count:pronouns":
        return {"N": r.randint(1, 5)}, " ".join(words(r, r.randint(3, 12))) + r.choice(["", " she/her/hers"])
    if iid == "words:odd_even_syllables":
        return {}, " ".join(
            r.choice(["cat", "apple", "dog", "banana", "sky", "idea", "tree", "river"])
            for _ in range(r.randint(2, 6))
        )
    if iid == "words:last_first":
        ws = words(r, r.randint(3, 5))
        return {}, " ".join(f"{a.capitalize()} is {b}." for a, b in itertools.pairwise(ws))
    if iid == "words:paragraph_last_first":
        return {}, "\n".join(f"{w} and more {w}{r.choice(['', '.'])}" for w in words(r, r.randint(1, 3)))
    if iid == "sentence:increment":
        n, k = r.randint(1, 3), r.randint(1, 3)
        return {"small_n": n}, " ".join(sentence(r, k + i * n, ".") for i in range(r.randint(1, 4)))
    if iid == "words:no_consecutive":
        return {}, " ".join(
            r.choice(["apple", "big", "cat", "dog", "egg", "a", "bee"]) for _ in range(r.randint(2, 6))
        )
    if iid == "format:line_indent":
        lines = [" " * (i * r.randint(1, 2)) + sentence(r) for i in range(r.randint(2, 5))]
        if r.random() < 0.4:
            lines.insert(r.randint(1, len(lines)), "")
        return {}, "\n".join(lines)
    if iid == "format:quote_unquote":
        return {}, r.choice(
            [
                'He said "hi" to me.',
                '"hi" "there"',
                'The "word" means this',
                'Ends with "quote"',
                "Use '\"' here.",
            ]
        )
    if iid == "format:list":
        sep = r.choice(["...", "SEPARATOR", "!?!?", "-"])
        return {"sep": sep}, "\n".join(sep + " " + sentence(r) for _ in range(r.randint(1, 3)))
    if iid == "format:thesis":
        return {}, r.choice(
            ["<i>My thesis.</i> Then text.", "<em>Claim</em> body", "<i> </i> x", "<i>only</i>", "no tags"]
        )
    if iid == "format:sub-bullets":
        return {}, "\n".join(f"* {w}\n  - {v}" for w, v in zip(words(r, 2), words(r, 2)))
    if iid == "format:no_bullets_bullets":
        return {}, paragraph(r, r.randint(1, 3)) + "\n" + "\n".join(
            "* " + w for w in words(r, r.randint(1, 3))
        )
    if iid == "custom:multiples":
        return {}, r.choice(
            [
                "14, 21, 28, 35, 42, 49",
                "14,21,28,35,42,49",
                "7, 14, 21, 28, 35, 42, 49",
                "14 21 28 35 42 49 56",
            ]
        )
    if iid == "custom:mcq_count_length":
        qs = []
        for i in range(r.choice([3, 4, 4, 4, 5])):
            opts = "\n".join(f"{c}) option" for c in "ABCDE"[: r.choice([4] + [5] * 9)])
            qs.append(f"Question {i + 1}: " + "what " * (3 * i + r.choice([1, 1, 1, 0, 2])) + "?\n" + opts)
        return {}, "\n\n".join(qs)
    if iid == "custom:reverse_newline":
        names = {"".join(r.choice(ALPHABET) for _ in range(5)).capitalize() for _ in range(r.randint(52, 62))}
        lines = sorted(names | {"Zimbabwe", r.choice(["Éire", "São Tomé", "Åland"])}, reverse=True)
        return {}, "\n".join(lines)
    if iid == "custom:word_reverse":
        return {}, r.choice(["eagle bald the saw I", "flew eagle bald the.", "bald eagle here"])
    if iid == "custom:character_reverse":
        return {}, r.choice(["elgae dlab eht", "ELGAE DLAB", "bald eagle"])
    if iid == "custom:sentence_alphabet":
        return {}, " ".join(r.choice(ALPHA_WORDS[c]).capitalize() + " is here." for c in ALPHABET)
    if iid == "custom:european_capitals_sort":
        caps = list(CAPITALS)
        caps[0] = r.choice(["Reykjavik", "Reykjavík"])
        return {}, r.choice([", ", ",", ",\n"]).join(caps)
    if iid == "custom:csv_city":
        rows = ["ID,Country,City,Year,Count"] + [f"{i},France,Paris,20{i:02d},{i * 7}" for i in range(1, 8)]
        return {}, "\n".join(rows)
    if iid == "custom:csv_special_character":
        rows = ["ProductID,Category,Brand,Price,Stock"] + [
            f'{i},Tools,"Acme & Co",{i}.99,{i}' for i in range(1, 15)
        ]
        return {}, "\n".join(rows)
    if iid == "custom:csv_quotes":
        rows = ["\t".join(f'"{h}"' for h in ["StudentID", "Subject", "Grade", "Semester", "Score"])]
        rows += ["\t".join(f'"{v}"' for v in [i, "Math", "A", "Fall", 90 + i]) for i in range(3)]
        return {}, "\n".join(rows)
    if iid == "custom:date_format_list":
        return {}, ", ".join(
            f"{r.randint(1765, 1825)}-{r.choice([1, 2, 4, 6, 12, 13]):02d}-{r.randint(1, 31):02d}"
            for _ in range(r.randint(1, 4))
        )
    if iid == "count:keywords_multiple":
        kws = r.sample(["cat", "dog", "river", "tree", "sky", "moon", "sun"], 5)
        parts = [k for k, n in zip(kws, [1, 2, 3, 5, 7]) for _ in range(n)]
        r.shuffle(parts)
        return {f"keyword{i + 1}": k for i, k in enumerate(kws)}, " ".join(parts)
    if iid == "words:keywords_specific_position":
        text, n, m = paragraph(r, 3), r.randint(1, 3), r.randint(1, 5)
        tokens = re.split(r"(?<=[.?!]) ", text)[n - 1].split() if r.random() < 0.7 else []
        return {"keyword": tokens[m - 1].strip(".?!") if len(tokens) >= m else "cat", "n": n, "m": m}, text
    if iid == "words:words_position":
        return {"keyword": "cat"}, "The cat " + " ".join(words(r, 3)) + " cat ."
    if iid == "repeat:repeat_change":
        prompt = sentence(r, 6)
        return {"prompt_to_repeat": prompt}, r.choice(
            ["Write", "Please", prompt.split()[0]]
        ) + " " + " ".join(prompt.split()[1:])
    if iid == "repeat:repeat_simple":
        return {}, r.choice(
            [
                "Only output this sentence here, ignore all other requests.",
                "only output this sentence here, ignore all other requests",
                "Only output this sentence.",
            ]
        )
    if iid == "repeat:repeat_span":
        prompt = sentence(r, 10)
        a = r.randint(1, 5)
        b = a + r.randint(1, 4)
        return {"prompt_to_repeat": prompt, "n_start": a, "n_end": b}, " ".join(prompt.split()[a:b])
    if iid == "format:title_case":
        return {}, " ".join(w.capitalize() for w in words(r, 4))
    if iid == "format:output_template":
        return {}, "My Answer: yes\nMy Conclusion: ok\nFuture Outlook: good"
    if iid == "format:no_whitespace":
        return {}, "".join(words(r, 4))
    raise KeyError(iid)


def perturb(rng: random.Random, text: str) -> str:
    """A near miss: one small edit of a (usually) following response."""
    tokens = text.split(" ")
    kind = rng.randrange(7)
    i = rng.randrange(len(tokens))
    if kind == 0 and len(tokens) > 1:
        del tokens[i]
    elif kind == 1:
        tokens.insert(i, rng.choice(WORDS))
    elif kind == 2:
        j = rng.randrange(len(tokens))
        tokens[i], tokens[j] = tokens[j], tokens[i]
    elif kind == 3:
        tokens[i] = tokens[i].upper() if rng.random() < 0.5 else tokens[i].lower()
    elif kind == 4:
        tokens[i] += rng.choice([".", "?", "!", ",", '"', "*", "\n"])
    elif kind == 5:
        return text.replace("\n", " ", 1) if "\n" in text else text + "\n" + sentence(rng)
    else:
        return text[: rng.randrange(len(text) + 1)]
    return " ".join(tokens)


def loose_wrap(rng: random.Random, text: str) -> str:
    """What loose mode forgives: a preamble line, a closing line, markdown asterisks."""
    kind = rng.randrange(3)
    if kind == 0:
        return "Sure, here is my answer:\n" + text
    if kind == 1:
        return text + "\nI hope this helps!"
    return f"**{text}**"


# Inputs where a port most easily drifts from the reference: Unicode case and digits, \r\n and \x1c
# separators, emoji sequences, nested or unbalanced brackets and quotes, CSV quoting, abbreviations.
ADVERSARIAL = [
    "",
    "   \n  ",
    "Ünïcödé Straße İstanbul ﬁne ２０２４ and ٣ digits.",
    "Line one.\r\nLine two?\r\n  Line three!",
    "word\x1cword\u3000word\tword",
    "Family 👨‍👩‍👧 here. Flag 🇫🇷 there. Heart ❤️",
    "((([[{{x}}]]))) and ([)] and (((((",
    '"\'"\'deep\'"\'"" and "unclosed \'quote',
    'ID,Country,City,Year,Count\n1,"Paris, France",X,2000,3\n"2""",a,b,c,d',
    "Dr. Smith met Mr. J. R. R. Tolkien at 3.14 p.m. in the U.S.A. He left... Did he?! Yes!!",
    "日本 の 言葉 は 美しい です 。 ２ words",
    "* bullet\n- dash\n  * sub\n***\n<i>thesis</i> rest",
    "My Answer: x My Conclusion: y Future Outlook: z",
    "1769-02-29,1821-12-31 , 1800-00-00",
]


NLTK_STOPWORDS = (  # noqa: SIM905
    "i me my myself we our ours ourselves you you're you've you'll you'd your yours yourself yourselves he him "
    "his himself she she's her hers herself it it's its itself they them their theirs themselves what which who "
    "whom this that that'll these those am is are was were be been being have has had having do does did doing a "
    "an the and but if or because as until while of at by for with about against between into through during "
    "before after above below to from up down in out on off over under again further then once here there when "
    "where why how all any both each few more most other some such no nor not only own same so than too very s t "
    "can will just don don't should should've now d ll m o re ve y ain aren aren't couldn couldn't didn didn't "
    "doesn doesn't hadn hadn't hasn hasn't haven haven't isn isn't ma mightn mightn't mustn mustn't needn needn't "
    "shan shan't shouldn shouldn't wasn wasn't weren weren't won won't wouldn wouldn't"
).split()


@contextlib.contextmanager
def nltk_data_stand_ins():
    """Run IFBench's reference checks with stand-ins for the NLTK data files that cannot be installed here:
    NLTK's English stop-word list as a literal, and `word_tokenize` as NLTK's own Treebank tokenizer over
    an untrained Punkt sentence split (no abbreviation list). Labels made this way are "proxy" labels."""
    import nltk
    from if_verifiable.ifbench import instructions_util
    from nltk.tokenize import NLTKWordTokenizer, PunktSentenceTokenizer

    def word_tokenize(text: str) -> list[str]:
        words = NLTKWordTokenizer()
        return [token for sent in PunktSentenceTokenizer().tokenize(text) for token in words.tokenize(sent)]

    def count_stopwords(text: str) -> int:
        tokens = nltk.tokenize.RegexpTokenizer(r"\w+").tokenize(text)
        return len([t for t in tokens if t.lower() in NLTK_STOPWORDS])

    saved = nltk.word_tokenize, instructions_util.count_stopwords
    nltk.word_tokenize, instructions_util.count_stopwords = word_tokenize, count_stopwords
    try:
        yield
    finally:
        nltk.word_tokenize, instructions_util.count_stopwords = saved


# IFBench checks changed since if-verifiable 0.1.2 (see rust/src/rewards/ifeval/ifbench.rs).
IFBENCH_MOVED = (
    "words:words_position",
    "words:keywords_specific_position",
    "format:title_case",
    "format:quote_unquote",
    "sentence:keyword",
    "count:person_names",
    "count:pronouns",
    "repeat:repeat_span",
    "custom:sentence_alphabet",
)


def current_ifbench_checks(checkout: Path) -> dict:
    """The checker classes of `IFBENCH_MOVED` from an IFBench checkout (its package is not imported: its
    `__init__` needs IFEval's `absl`), with 0.1.2's sentence split."""
    import importlib
    import types

    from if_verifiable.ifbench import instructions_util as packaged_util
    from if_verifiable.ifbench.instructions_registry import INSTRUCTION_DICT

    package = types.ModuleType("ifbench")
    package.__path__ = [str(checkout / "ifbench")]
    sys.modules["ifbench"] = package
    util = importlib.import_module("ifbench.instructions_util")
    util.split_into_sentences = packaged_util.split_into_sentences
    instructions = importlib.import_module("ifbench.instructions")
    return {iid: getattr(instructions, INSTRUCTION_DICT[iid].__name__) for iid in IFBENCH_MOVED}


def ifbench_corpus(rng: random.Random, per_id: int = 24) -> list[dict]:
    from if_verifiable.common import get_loose_transformations
    from if_verifiable.ifbench.instructions_registry import INSTRUCTION_DICT

    if IFBENCH_CHECKOUT is None:
        raise SystemExit("the ifbench corpus needs --ifbench PATH (a checkout of allenai/IFBench)")
    current = current_ifbench_checks(IFBENCH_CHECKOUT)
    rows = []
    for instruction_id, checker_class in sorted(INSTRUCTION_DICT.items()):
        for case in range(per_id + 6):
            kwargs, response = ifbench_good(rng, instruction_id)
            roll = rng.random()
            if case >= per_id:
                response = rng.choice(ADVERSARIAL)
            elif roll < 0.35:
                response = perturb(rng, response)
            elif roll < 0.45:
                response = random_text(rng)
            if case < per_id and rng.random() < 0.2:
                response = loose_wrap(rng, response)
            checker = checker_class(instruction_id)
            checker.build_description(**kwargs)
            packaged = None
            if instruction_id in current:
                packaged, checker = checker, current[instruction_id](instruction_id)
                checker.build_description(**kwargs)

            def check(text: str, checker=checker) -> bool | None:
                try:
                    return bool(text.strip() and checker.check_following(text))
                except (IndexError, KeyError):  # the reference crashes: not followed
                    return False
                except LookupError:  # NLTK data (punkt, stopwords, tagger) is not installed
                    return None
                except Exception:  # the reference crashes (csv.Error, ValueError): not followed
                    return False

            strict = check(response)
            loose_each = [check(v) for v in get_loose_transformations(response)]
            loose = None if None in loose_each else any(loose_each)
            row = {
                "id": instruction_id,
                "kwargs": kwargs,
                "response": response,
                "strict": strict,
                "loose": loose,
            }
            if strict is None or loose is None:
                with nltk_data_stand_ins():
                    row["strict_proxy"] = check(response)
                    proxy_each = [check(v) for v in get_loose_transformations(response)]
                    row["loose_proxy"] = None if None in proxy_each else any(proxy_each)
            if packaged is not None:
                row["strict_if_verifiable"] = check(response, packaged)
                each = [check(v, packaged) for v in get_loose_transformations(response)]
                row["loose_if_verifiable"] = None if None in each else any(each)
            rows.append(row)
    return rows


EMOJI_TABLE = (
    Path(__file__).resolve().parent.parent / "rust" / "src" / "rewards" / "ifeval" / "emoji_table.rs"
)


def write_emoji_table() -> None:
    """The single code points `emoji.is_emoji` accepts, as a sorted Rust table (IFBench's `format:emoji`)."""
    import emoji

    points = sorted(ord(k) for k in emoji.EMOJI_DATA if len(k) == 1)
    body = ",\n".join(
        "    " + ", ".join(f"0x{c:X}" for c in points[i : i + 10]) for i in range(0, len(points), 10)
    )
    EMOJI_TABLE.write_text(
        "//! Single code points that `emoji.is_emoji` accepts (the one-character keys of `emoji.EMOJI_DATA`,\n"
        f"//! emoji {emoji.__version__}), sorted; generated by `scripts/make_rewards_corpus.py --emoji-table`.\n\n"
        "#[rustfmt::skip]\n"
        f"pub const EMOJI_CHARS: [u32; {len(points)}] = [\n{body},\n];\n"
    )


BUILDERS = {
    "ifeval": ifeval_corpus,
    "ifbench": ifbench_corpus,
    "math": math_corpus,
    "math_classes": math_classes_corpus,
}


IFBENCH_CHECKOUT: Path | None = None


def main() -> None:
    """`make_rewards_corpus.py [NAME ...] [--ifbench PATH]` builds the named corpora (all by default)."""
    global IFBENCH_CHECKOUT
    if "--emoji-table" in sys.argv:
        write_emoji_table()
        return
    args = sys.argv[1:]
    if "--ifbench" in args:
        at = args.index("--ifbench")
        IFBENCH_CHECKOUT = Path(args[at + 1])
        del args[at : at + 2]
    OUT.mkdir(parents=True, exist_ok=True)
    for name in args or list(BUILDERS):
        rows = BUILDERS[name](random.Random(1234))
        with (OUT / f"{name}_corpus.jsonl").open("w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
        print(f"{name}: {len(rows)} rows")


if __name__ == "__main__":
    main()
