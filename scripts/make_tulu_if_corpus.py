"""Build the differential corpus of Tülu 3's IF functions, labelled by open-instruct's own code.

    git -C open-instruct checkout 0f8912f53   # the functions as they trained Tülu 3 (see below)
    python scripts/make_tulu_if_corpus.py --open-instruct path/to/open-instruct
    # writes tests/data/rewards/tulu_if_corpus.jsonl

Each row is one response against one `{"func_name": ...}` ground truth, written in the schema of
allenai/RLVR-IFeval (every argument name present, null where unused). Two labels:

- `reference`: what `open_instruct/if_functions.py` returns on the stripped response, as Tülu 3's
  `verify_ifeval_sample` called it (true, false, or `"raises <Error>"`);
- `expected`: the same after the corrections of plain bugs that `rust/src/rewards/ifeval/tulu.rs`
  documents (`CORRECTIONS` below; `"error"` where the ground truth cannot be verified); `corrected` names
  the corrections that changed the label.

`tests/test_tulu_if_functions.py` asserts that our verifier gives `expected` and reports the agreement
with `reference` per function. The reference is the file at commit 0f8912f53 (Jan 2026): the functions
as they trained Tülu 3 in Nov 2024 (9c2d44bec), reformatted, with `validate_placeholders` returning its
boolean instead of a `(bool, list)` tuple; later commits changed `validate_choice`, the "around" of
`validate_frequency_capital_words` and the sentence split. Pass `--allow-other-version` to label with
another version of the file. langdetect is seeded (its detection is randomised).
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import importlib.util
import json
import random
import re
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "rewards" / "tulu_if_corpus.jsonl"
# sha256 of open_instruct/if_functions.py at 0f8912f53 and at 9c2d44bec.
KNOWN_VERSIONS = {
    "0f8912f53": "0a83c001b36c6cb598b9610c0619b318642a5d0cdfccc1d76a992d92e38c9473",
    "9c2d44bec": "ec9b8d402ac5032470157afaebc55bbf65b1094b5a93778946fd21c2db0a25c4",
}
ARGUMENTS = [
    "N",
    "quantifier",
    "end_phrase",
    "keyword_list",
    "word",
    "forbidden_words",
    "letter",
    "i",
    "first_word",
    "postscript_marker",
    "options",
    "section_splitter",
    "original_prompt",
]

WORDS = ["apple", "river", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "city", "night",
         "summer", "light", "garden", "stone", "music", "paper", "window", "cloud", "bread"]  # fmt: skip
UNICODE_WORDS = ["café", "naïve", "Über", "straße", "日本語", "😀", "İstanbul", "ΣΟΦΙΑ", "ﬁne", "x\u0301"]
SENTENCES = {
    "en": "The cat sleeps on the sofa and the rain falls softly on the city tonight.",
    "fr": "Le chat dort sur le canapé et la pluie tombe doucement sur la ville ce soir.",
    "de": "Die Katze schläft auf dem Sofa und der Regen fällt heute Abend leise auf die Stadt.",
    "es": "El gato duerme en el sofá y la lluvia cae suavemente sobre la ciudad esta noche.",
    "it": "Il gatto dorme sul divano e la pioggia cade dolcemente sulla città stasera.",
    "pt": "O gato dorme no sofá e a chuva cai suavemente sobre a cidade esta noite.",
    "ru": "Кошка спит на диване, а дождь тихо падает на город сегодня вечером.",
    "nl": "De kat slaapt op de bank en de regen valt vanavond zachtjes op de stad.",
}
HOSTILE = ["", "   \n\t ", "\u3000", "😀" * 5, "a\u0000b", "\r\n\r\n", "* * *", "******", '"', "<<>>", "[]",
           "e.g. Mr. U.S.", "İı ß ﬁ Σ", "\ufeff{}", "NaN"]  # fmt: skip


def words(rng: random.Random, n: int) -> list[str]:
    pool = WORDS + UNICODE_WORDS if rng.random() < 0.3 else WORDS
    return [rng.choice(pool) for _ in range(n)]


def sentence(rng: random.Random, n: int | None = None, end: str = ".") -> str:
    text = " ".join(words(rng, n or rng.randint(3, 8)))
    return text[0].upper() + text[1:] + end


def near(rng: random.Random, n: int, spread: int = 2) -> int:
    return max(0, n + rng.randint(-spread, spread))


def case_of(rng: random.Random, text: str) -> str:
    return rng.choice([text, text, text.upper(), text.lower(), text.title()])


def cases(rng: random.Random) -> dict:
    """Per function, a generator of (arguments, response) pairs around the function's boundaries."""

    def keywords():
        keys = rng.sample(WORDS + UNICODE_WORDS, rng.randint(1, 3))
        present = [case_of(rng, k) for k in keys if rng.random() < 0.8]
        body = words(rng, 6) + present + [k + "s" for k in keys if rng.random() < 0.2]
        rng.shuffle(body)
        return {"keyword_list": keys}, " ".join(body)

    def keyword_frequency():
        word, n = rng.choice([*WORDS, "café", "Über"]), rng.randint(0, 4)
        k = near(rng, n, 1)
        pieces = words(rng, 5) + [
            case_of(rng, word) + rng.choice(["", ",", ".", "!", "'s", "s"]) for _ in range(k)
        ]
        rng.shuffle(pieces)
        return {"word": word, "N": n}, " ".join(pieces)

    def forbidden_words():
        banned = rng.sample(WORDS, rng.randint(1, 3))
        body = words(rng, 8)
        if rng.random() < 0.5:
            body.append(case_of(rng, rng.choice(banned)) + rng.choice(["", "s", "ing"]))
        return {"forbidden_words": banned}, " ".join(body)

    def letter_frequency():
        letter, n = rng.choice("aeiostlrAEZ"), rng.randint(0, 8)
        filler = [c for c in "bcdfgh é日" if c.lower() != letter.lower()]
        body = [letter] * near(rng, n, 1) + [rng.choice(filler) for _ in range(rng.randint(0, 12))]
        body += [letter.swapcase()] * rng.choice([0, 0, 1, 2])
        rng.shuffle(body)
        return {"letter": rng.choice([letter] * 12 + ["ab", ""]), "N": n}, "".join(body)

    def response_language():
        language = rng.choice(list(SENTENCES))
        written = language if rng.random() < 0.6 else rng.choice(list(SENTENCES))
        text = " ".join([SENTENCES[written]] * rng.randint(1, 2))
        if rng.random() < 0.1:
            text = rng.choice(["12345 678", "!!! ???", "😀😀"])
        return {"language": language}, text

    def paragraph_count():
        n, k = rng.randint(1, 5), 0
        k = near(rng, n, 1) or 1
        paragraphs = [sentence(rng) for _ in range(k)]
        if rng.random() < 0.15:
            paragraphs[rng.randrange(k)] = " "
        divider = rng.choice(["\n* * *\n", "\n* * *\n", " * * * ", "\n  * * *  \n", "\n***\n", "\n\n"])
        text = divider.join(paragraphs)
        if rng.random() < 0.1:
            text = rng.choice(["* * *\n", ""]) + text + rng.choice(["\n* * *", ""])
        return {"N": n}, text

    def word_constraint():
        n = rng.choice([1, 5, 10, 15, 20, 25, 35, 45, 50, 100])
        quantifier = rng.choice(["at least", "at most", "around", "around", "exactly"])
        count = max(0, n + rng.randint(-max(2, n // 8), max(2, n // 8)))
        separators = [" ", " ", "\n", "\t", "\u3000", "\xa0", " - "]
        text = "".join(w + rng.choice(separators) for w in words(rng, count))
        return {"N": n, "quantifier": quantifier}, text

    def sentence_constraint():
        n, quantifier = rng.randint(1, 6), rng.choice(["at least", "at most", "around"])
        ends = [".", "?", "!", "...", ". ", ".\n", ""]
        parts = [sentence(rng, end=rng.choice(ends)) for _ in range(near(rng, n, 2) or 1)]
        if rng.random() < 0.3:
            parts.insert(
                rng.randrange(len(parts) + 1),
                rng.choice(["Mr. Smith came.", "See e.g. this.", "The U.S. won."]),
            )
        return {"N": n, "quantifier": quantifier}, rng.choice([" ", "\n", "  "]).join(parts)

    def paragraphs():
        n = rng.randint(1, 4)
        i = rng.choice([rng.randint(1, n)] * 8 + [0, n + 1])
        first = rng.choice(WORDS).capitalize()
        paras = [sentence(rng) for _ in range(near(rng, n, 1) or 1)]
        if rng.random() < 0.6:
            paras = paras[:n] + [sentence(rng) for _ in range(n - len(paras))]
        if i - 1 < len(paras) and i >= 1 and rng.random() < 0.8:
            paras[i - 1] = rng.choice([first, first.lower(), first + "s", " " + first]) + " " + paras[i - 1]
        return {"N": n, "i": i, "first_word": first}, rng.choice(["\n\n", "\n\n", "\n\n\n", "\n"]).join(paras)

    def postscript():
        marker = rng.choice(["P.S.", "P.P.S", "Before I forget:", "Note:"])
        body = sentence(rng)
        tail = rng.choice(
            [f"\n{marker} {sentence(rng)}"] * 3
            + [f"\n{marker}", f" {marker.lower()} yes", "", f"\n{marker}  x"]
        )
        return {"postscript_marker": marker}, body + tail

    def placeholders():
        n = rng.randint(0, 5)
        holes = [
            rng.choice(["[name]", "[address]", "[]", "[a\nb]", "[[x]]", "[日付]"])
            for _ in range(near(rng, n, 2))
        ]
        body = words(rng, 4) + holes
        rng.shuffle(body)
        return {"N": n}, " ".join(body)

    def bullet_points():
        n = rng.randint(0, 5)
        lines = [
            rng.choice(["* ", "- ", "  * ", "*", "-", "**Bold** ", "• "]) + sentence(rng)
            for _ in range(near(rng, n, 2))
        ]
        lines.insert(0, rng.choice(["Here:", "", "---", "**Intro**"]))
        return {"N": n}, "\n".join(lines)

    def title():
        return {}, sentence(rng) + rng.choice(
            ["", " <<A Title>>", "<<>>", "<< >>", "<<two\nlines>>", "«Title»", "<<x>"]
        )

    def choice():
        options = rng.choice(
            [
                "I know or I don't know",
                "('My answer is yes.', 'My answer is no.', 'My answer is maybe.')",
                ["My answer is yes.", "My answer is no.", "My answer is maybe."],
                ["A", "B", "C", "D"],
                "yes, no, maybe",
            ]
        )
        listed = (
            options if isinstance(options, list) else ["I know", "I don't know", "My answer is no.", "yes"]
        )
        response = rng.choice(
            [
                rng.choice(listed),
                rng.choice(listed),
                f"I think {rng.choice(listed)}",
                "My",
                "I",
                "Apple",
                sentence(rng),
            ]
        )
        return {"options": options}, response

    def highlighted_sections():
        n = rng.randint(0, 5)
        marks = [rng.choice(["*one*", "**two**", "*a\nb*", "**", "* x *"]) for _ in range(near(rng, n, 2))]
        body = words(rng, 5) + marks
        rng.shuffle(body)
        return {"N": n}, " ".join(body)

    def sections():
        n, splitter = rng.randint(1, 5), rng.choice(["Section", "SECTION", "Chapter:", "PARAGRAPH", "Day"])
        k = near(rng, n, 1)
        label = rng.choice([splitter, splitter, splitter.lower()])
        parts = [f"{label} {j + 1}\n{sentence(rng)}" for j in range(k)]
        intro = rng.choice(["", "", "Intro text.\n"])
        return {"N": n, "section_splitter": rng.choice([splitter] * 12 + [""])}, intro + "\n".join(parts)

    def json_format():
        value = rng.choice(
            ['{"a": 1}', "[1, 2, 3]", "42", '"text"', '```json\n{"a": 1}\n```', '{"a": 1} trailing', "{'a': 1}",
             "NaN", '{"x": Infinity}', "null", '{"a": [1, {"b": "é"}]}', "{", "true"]
        )  # fmt: skip
        return {}, value

    def repeat_prompt():
        prompt = sentence(rng) + " " + sentence(rng)
        response = rng.choice(
            [prompt + "\n" + sentence(rng), prompt.lower() + " answer", " " + prompt, sentence(rng), prompt]
        )
        return {"original_prompt": prompt}, response

    def two_responses():
        a, b = sentence(rng), sentence(rng)
        return {}, rng.choice(
            [
                f"{a}\n******\n{b}",
                f"{a}******{a}",
                f"{a}******",
                f"{a}******{b}******{a}",
                f"{a}*******{b}",
                a,
            ]
        )

    def uppercase():
        return {}, rng.choice(
            [sentence(rng).upper(), sentence(rng), "123 !!", "ÉTÉ ÇA", "STRASSE straße", "ΣΟΦΙΑ", "İSTANBUL"]
        )

    def lowercase():
        return {}, rng.choice(
            [sentence(rng).lower(), sentence(rng), "123 !!", "été ça", "σοφια ς", "ﬁne", "i̇stanbul"]
        )

    def capital_words():
        n, quantifier = rng.randint(0, 6), rng.choice(["at least", "at most", "around"])
        caps = [rng.choice(["NASA", "OK", "I", "ÉTÉ", "USA2", "A_B", "ÜBER"]) for _ in range(near(rng, n, 2))]
        body = words(rng, 5) + caps
        rng.shuffle(body)
        return {"N": n, "quantifier": quantifier}, " ".join(body)

    def end():
        phrase = rng.choice(["Is there anything else I can help with?", "Peace out.", "That's all."])
        return {"end_phrase": phrase}, sentence(rng) + " " + rng.choice(
            [phrase, phrase + "!", phrase.lower(), phrase + "\n", f'"{phrase}"', ""]
        )

    def quotation():
        return {}, rng.choice(
            [f'"{sentence(rng)}"', sentence(rng), '"', '""', f"“{sentence(rng)}”", f'"{sentence(rng)}']
        )

    def no_commas():
        return {}, rng.choice([sentence(rng), "a, b", "a，b", sentence(rng) + ","])

    return {
        "verify_keywords": keywords,
        "verify_keyword_frequency": keyword_frequency,
        "validate_forbidden_words": forbidden_words,
        "verify_letter_frequency": letter_frequency,
        "validate_response_language": response_language,
        "verify_paragraph_count": paragraph_count,
        "validate_word_constraint": word_constraint,
        "verify_sentence_constraint": sentence_constraint,
        "validate_paragraphs": paragraphs,
        "verify_postscript": postscript,
        "validate_placeholders": placeholders,
        "verify_bullet_points": bullet_points,
        "validate_title": title,
        "validate_choice": choice,
        "validate_highlighted_sections": highlighted_sections,
        "validate_sections": sections,
        "validate_json_format": json_format,
        "validate_repeat_prompt": repeat_prompt,
        "validate_two_responses": two_responses,
        "validate_uppercase": uppercase,
        "validate_lowercase": lowercase,
        "validate_frequency_capital_words": capital_words,
        "validate_end": end,
        "validate_quotation": quotation,
        "validate_no_commas": no_commas,
    }


def load_reference(checkout: Path, allow_other_version: bool):
    path = checkout / "open_instruct" / "if_functions.py"
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest not in KNOWN_VERSIONS.values() and not allow_other_version:
        raise SystemExit(f"{path} (sha256 {digest}) is not a known Tülu 3 version; see --allow-other-version")
    spec = importlib.util.spec_from_file_location("tulu_if_functions", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    import langdetect

    langdetect.DetectorFactory.seed = 0
    return module, digest


def reference_label(module, name: str, text: str, args: dict):
    """As Tülu 3's `verify_ifeval_sample` ran it: the stripped response, the non-null arguments."""
    try:
        result = module.IF_FUNCTIONS_MAP[name](text.strip(), **args)
    except Exception as err:  # the reference crashing is a label here
        return f"raises {type(err).__name__}"
    return result if isinstance(result, tuple) else bool(result)


SENTENCE_SPLIT = re.compile(r"(?<!\w\.\w.)(?<![A-Z][a-z]\.)(?<=\.|\?|!)\s")


def corrected_label(name: str, text: str, args: dict, reference) -> tuple[bool | str, list[str]]:
    """`reference` after the corrections documented in `rust/src/rewards/ifeval/tulu.rs`, and the names
    of the corrections that changed it."""
    text = text.strip()
    if "quantifier" in args and args["quantifier"] not in {"at least", "at most", "around"}:
        return "error", ["unknown_quantifier"]
    if name == "validate_paragraphs" and not 1 <= args["i"] <= args["N"]:
        return "error", ["paragraph_index"]
    if isinstance(reference, str):  # the reference raised
        if name == "validate_response_language":
            return False, ["language_undetectable"]
        return "error", ["argument_error"]
    label, fixes = reference, []

    def correct(fix: str, value: bool) -> None:
        nonlocal label
        if value != label:
            fixes.append(fix)
            label = value

    if name == "validate_placeholders" and isinstance(label, tuple):  # 9c2d44bec's (bool, list)
        correct("placeholders_tuple", bool(label[0]))
    if name == "validate_choice" and isinstance(args["options"], str):
        options = [args["options"]]
        if args["options"].strip().startswith(("[", "(")):
            try:
                parsed = ast.literal_eval(args["options"].strip())
                if isinstance(parsed, list | tuple) and parsed and all(isinstance(o, str) for o in parsed):
                    options = list(parsed)
            except (ValueError, SyntaxError):
                pass
        correct("choice_string_options", any(text in option for option in options))
    if name == "verify_sentence_constraint":
        count, n = len(SENTENCE_SPLIT.split(text)), args["N"]
        correct(
            "sentence_exclamation",
            {"at least": count >= n, "at most": count <= n, "around": abs(count - n) <= 1}[
                args["quantifier"]
            ],
        )
    if name == "validate_two_responses" and label:
        first, second = text.split("******")
        correct("two_responses_nonempty", bool(first.strip() and second.strip()))
    if name == "validate_json_format" and label:
        try:
            json.loads(text, parse_constant=reject_constant)
        except ValueError:
            correct("json_constants", False)
    if not text:
        correct("empty_response", False)
    return label, fixes


def reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def build(module, rng: random.Random, per_function: int) -> list[dict]:
    rows = []
    generators = cases(rng)
    for name, generate in generators.items():
        for k in range(per_function):
            args, response = generate()
            if k % 10 == 9:  # the same arguments against a hostile response
                response = rng.choice(HOSTILE)
            reference = reference_label(module, name, response, args)
            expected, corrected = corrected_label(name, response, args, reference)
            if isinstance(reference, tuple):
                reference = bool(reference)  # as Tülu's reward read it: a non-empty tuple is true
            ground_truth = {"func_name": name, **{key: args.get(key) for key in ARGUMENTS}}
            if name == "validate_response_language":
                ground_truth["language"] = args["language"]
            rows.append(
                {
                    "func_name": name,
                    "ground_truth": json.dumps(ground_truth, ensure_ascii=False),
                    "response": response,
                    "reference": reference,
                    "expected": expected,
                    "corrected": corrected,
                }
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--open-instruct", required=True, type=Path, help="an open-instruct checkout")
    parser.add_argument("--allow-other-version", action="store_true")
    parser.add_argument("--per-function", type=int, default=60)
    args = parser.parse_args()
    module, digest = load_reference(args.open_instruct, args.allow_other_version)
    rows = build(module, random.Random(20241120), args.per_function)
    with OUT.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    changed = sum(row["expected"] != row["reference"] for row in rows)
    print(
        f"{OUT}: {len(rows)} rows from if_functions.py sha256 {digest[:12]}; {changed} relabelled by corrections"
    )


if __name__ == "__main__":
    main()
