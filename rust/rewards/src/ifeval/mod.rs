//! Instruction-following constraints (IFEval), as verifiable rewards.
//!
//! Ground truth is a JSON string in one of two forms:
//! - IFEval / IFBench input rows: `{"instruction_id_list": [...], "kwargs": [{...}, ...]}` (also a list
//!   of such objects, or `instruction_id` instead of `instruction_id_list`, as in Tülu's IF data);
//! - Tülu 3's `{"func_name": "validate_lowercase", ...}`: its 25 functions, with their own semantics
//!   ([`tulu`]), which differ from IFEval's rules for the same instruction.
//!
//! Ground truths may be JSON or Python literals (open-instruct reads the newer labels with
//! `ast.literal_eval`); an empty list of constraints scores 0. A response with a reasoning section is
//! checked after its last `</think>`, without `<answer>` tags (open-instruct's `remove_thinking_section`).
//!
//! Strict mode checks the response as written; loose mode passes a constraint when any of IFEval's 8
//! variants of the response (first/last line dropped, `*` removed) passes. The score is 1 when every
//! constraint is followed, or with `partial` the fraction followed.

pub mod checks;
pub mod emoji_table;
pub mod ifbench;
pub mod language;
pub mod sentences;
pub mod tulu;

use super::ground_truth::{kind, parse_structured};
use super::{Mode, Options, Verdict};
use checks::{py_strip, Constraint};
use serde_json::{Map, Value};

/// An instruction id with its (non-null) kwargs.
pub type Instruction = (String, Map<String, Value>);

/// `(instruction id, kwargs)` pairs named by a ground truth (JSON or a Python literal); an empty
/// list of constraints is valid (and scores 0).
pub fn parse_ground_truth(ground_truth: &str) -> Result<Vec<Instruction>, String> {
    let value = parse_structured(ground_truth)?;
    let mut pairs = Vec::new();
    collect(&value, &mut pairs, 0)?;
    Ok(pairs)
}

fn collect(value: &Value, pairs: &mut Vec<Instruction>, depth: usize) -> Result<(), String> {
    if depth > 8 {
        return Err("ground truth nests constraint lists too deeply".to_string());
    }
    match value {
        Value::Array(items) => items
            .iter()
            .try_for_each(|item| collect(item, pairs, depth + 1)),
        // Some datasets store the object as a string (JSON or a Python literal) inside the list.
        Value::String(inner) => collect(&parse_structured(inner)?, pairs, depth + 1),
        Value::Object(object) if object.contains_key("func_name") => {
            pairs.push(from_tulu(object)?);
            Ok(())
        }
        Value::Object(object) => {
            let ids = object
                .get("instruction_id_list")
                .or_else(|| object.get("instruction_id"));
            let ids: Vec<String> = match ids {
                Some(Value::Array(ids)) => ids
                    .iter()
                    .map(|v| v.as_str().unwrap_or_default().to_string())
                    .collect(),
                Some(Value::String(id)) => vec![id.clone()],
                _ => {
                    return Err(
                        "ground truth object has no instruction_id_list or func_name".to_string(),
                    )
                }
            };
            let kwargs: Vec<Value> = match object.get("kwargs") {
                Some(Value::Array(list)) => list.clone(),
                Some(single @ Value::Object(_)) => vec![single.clone()],
                _ => Vec::new(),
            };
            for (i, id) in ids.into_iter().enumerate() {
                // IFEval passes only the non-null kwargs to `build_description`.
                let args = match kwargs.get(i) {
                    Some(Value::Object(args)) => args
                        .iter()
                        .filter(|(_, v)| !v.is_null())
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                    _ => Map::new(),
                };
                pairs.push((id, args));
            }
            Ok(())
        }
        other => Err(format!(
            "ground truth must be an object or a list of objects, not {}",
            kind(other)
        )),
    }
}

/// Tülu 3's `{"func_name": ..., <arguments>}`: the function's name and its non-null arguments
/// (Tülu's rows carry every argument name, null where unused).
fn from_tulu(object: &Map<String, Value>) -> Result<Instruction, String> {
    let name = match object.get("func_name") {
        Some(Value::String(name)) if tulu::FUNCTIONS.contains(&name.as_str()) => name.clone(),
        other => {
            return Err(format!(
                "unknown func_name {} (Tülu 3's functions: {})",
                other.map_or("null".to_string(), Value::to_string),
                tulu::FUNCTIONS.join(", ")
            ))
        }
    };
    let kwargs = object
        .iter()
        .filter(|(key, value)| key.as_str() != "func_name" && !value.is_null())
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    Ok((name, kwargs))
}

/// IFEval's loose variants: as is, without `*`, without the first / last / both lines, and combinations.
pub fn loose_variants(response: &str) -> [String; 8] {
    let lines: Vec<&str> = response.split('\n').collect();
    let n = lines.len();
    let join = |range: std::ops::Range<usize>| {
        py_strip(&lines[range.start.min(n)..range.end.max(range.start.min(n))].join("\n"))
            .to_string()
    };
    let without_first = join(1..n);
    let without_last = join(0..n.saturating_sub(1));
    let without_both = join(1..n.saturating_sub(1));
    [
        response.to_string(),
        response.replace('*', ""),
        without_first.clone(),
        without_last.clone(),
        without_both.clone(),
        without_first.replace('*', ""),
        without_last.replace('*', ""),
        without_both.replace('*', ""),
    ]
}

/// Whether each constraint is followed (strict or loose).
pub fn followed(response: &str, constraints: &[Constraint], mode: Mode) -> Vec<bool> {
    let variants = match mode {
        Mode::Strict => vec![response.to_string()],
        Mode::Loose => loose_variants(response).to_vec(),
    };
    constraints
        .iter()
        .map(|c| {
            variants
                .iter()
                .any(|v| !py_strip(v).is_empty() && c.check(v))
        })
        .collect()
}

pub fn build_constraints(
    ground_truth: &str,
    prompt: Option<&str>,
) -> Result<(Vec<String>, Vec<Constraint>), String> {
    let pairs = parse_ground_truth(ground_truth)?;
    let mut ids = Vec::new();
    let mut constraints = Vec::new();
    for (id, mut kwargs) in pairs {
        // A repeat-the-prompt constraint without its text (some RLVR rows) repeats the row's prompt.
        let prompt_key = match id.as_str() {
            "combination:repeat_prompt" => Some("prompt_to_repeat"),
            "validate_repeat_prompt" => Some("original_prompt"),
            _ => None,
        };
        if let (Some(key), Some(p)) = (prompt_key, prompt) {
            if !kwargs.contains_key(key) {
                kwargs.insert(key.into(), Value::String(p.to_string()));
            }
        }
        constraints.push(Constraint::build(&id, &kwargs).map_err(|e| format!("{id}: {e}"))?);
        ids.push(id);
    }
    Ok((ids, constraints))
}

pub fn verify(
    response: &str,
    ground_truth: &str,
    prompt: Option<&str>,
    options: &Options,
) -> Result<Verdict, String> {
    let (ids, constraints) = build_constraints(ground_truth, prompt)?;
    if constraints.is_empty() {
        return Ok(Verdict::new(false, Some("no constraints".to_string())));
    }
    let answer = super::text::without_reasoning_markup(response);
    let passed = followed(&answer, &constraints, options.mode);
    let failed: Vec<&str> = ids
        .iter()
        .zip(&passed)
        .filter(|(_, ok)| !**ok)
        .map(|(id, _)| id.as_str())
        .collect();
    let fraction = passed.iter().filter(|ok| **ok).count() as f64 / passed.len() as f64;
    let score = if options.partial {
        fraction
    } else if failed.is_empty() {
        1.0
    } else {
        0.0
    };
    let mut verdict = Verdict::scored(
        score,
        Some(if failed.is_empty() {
            String::new()
        } else {
            format!("failed: {}", failed.join(","))
        }),
    );
    if !failed.is_empty() {
        verdict.status = super::Status::Wrong;
    }
    Ok(verdict)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Status;

    fn run(response: &str, ground_truth: &str, mode: Mode) -> Verdict {
        verify(
            response,
            ground_truth,
            None,
            &Options {
                mode,
                ..Options::default()
            },
        )
        .unwrap()
    }

    #[test]
    fn ifeval_row_form() {
        let gt = r#"{"instruction_id_list": ["punctuation:no_comma", "change_case:english_lowercase"], "kwargs": [{}, {}]}"#;
        assert_eq!(
            run("hello there my friend, how are you", gt, Mode::Strict).status,
            Status::Wrong
        );
        assert_eq!(
            run("hello there my friend how are you today", gt, Mode::Strict).status,
            Status::Correct
        );
    }

    #[test]
    fn tulu_func_name_form() {
        let gt = r#"{"func_name": "validate_word_constraint", "N": 3, "quantifier": "at most"}"#;
        assert_eq!(
            run("one two three", gt, Mode::Strict).status,
            Status::Correct
        );
        assert_eq!(
            run("one two three four", gt, Mode::Strict).status,
            Status::Wrong
        );
        let gt = r#"{"func_name": "verify_keywords", "keyword_list": ["apple", "pear"]}"#;
        assert_eq!(
            run("An Apple and a pear.", gt, Mode::Strict).status,
            Status::Correct
        );
    }

    #[test]
    fn loose_mode_forgives_a_preamble_line() {
        let gt = r#"{"instruction_id_list": ["startend:quotation"], "kwargs": [{}]}"#;
        let response = "Sure, here it is:\n\"quoted answer\"";
        assert_eq!(run(response, gt, Mode::Strict).status, Status::Wrong);
        assert_eq!(run(response, gt, Mode::Loose).status, Status::Correct);
    }

    #[test]
    fn python_literal_labels_and_empty_lists() {
        let gt = "[{'instruction_id': ['punctuation:no_comma'], 'kwargs': [None]}]";
        assert_eq!(
            run("no comma here", gt, Mode::Strict).status,
            Status::Correct
        );
        assert_eq!(run("a, b", gt, Mode::Strict).status, Status::Wrong);
        let nested = r#"["{'instruction_id': ['punctuation:no_comma'], 'kwargs': [{}]}"]"#;
        assert_eq!(
            run("no comma here", nested, Mode::Strict).status,
            Status::Correct
        );
        let empty = run(
            "anything",
            "[{'instruction_id': [], 'kwargs': []}]",
            Mode::Strict,
        );
        assert_eq!((empty.status, empty.score), (Status::Wrong, 0.0));
    }

    #[test]
    fn partial_score() {
        let gt = r#"{"instruction_id_list": ["punctuation:no_comma", "startend:quotation"], "kwargs": [null, null]}"#;
        let options = Options {
            partial: true,
            ..Options::default()
        };
        let verdict = verify("no commas here", gt, None, &options).unwrap();
        assert_eq!(verdict.score, 0.5);
        assert_eq!(verdict.status, Status::Wrong);
    }

    #[test]
    fn bad_ground_truth_is_an_error() {
        assert!(parse_ground_truth("not json").is_err());
        assert!(parse_ground_truth("42").is_err());
        assert!(parse_ground_truth("[]").unwrap().is_empty());
        assert!(
            parse_ground_truth(r#"{"instruction_id_list": ["nope:x"], "kwargs": [{}]}"#).is_ok()
        );
        assert!(build_constraints(
            r#"{"instruction_id_list": ["nope:x"], "kwargs": [{}]}"#,
            None
        )
        .is_err());
    }

    #[test]
    fn checks_match_ifeval_definitions() {
        let gt = |id: &str, kwargs: &str| {
            format!(r#"{{"instruction_id_list": ["{id}"], "kwargs": [{kwargs}]}}"#)
        };
        let strict =
            |r: &str, id: &str, k: &str| run(r, &gt(id, k), Mode::Strict).status == Status::Correct;
        assert!(strict(
            "* a\n* b\n- c",
            "detectable_format:number_bullet_lists",
            r#"{"num_bullets": 3}"#
        ));
        assert!(strict(
            "*one* and **two**",
            "detectable_format:number_highlighted_sections",
            r#"{"num_highlights": 2}"#
        ));
        assert!(strict(
            "a *** b *** c",
            "length_constraints:number_paragraphs",
            r#"{"num_paragraphs": 3}"#
        ));
        assert!(!strict(
            "a *** *** c",
            "length_constraints:number_paragraphs",
            r#"{"num_paragraphs": 2}"#
        ));
        assert!(strict(
            "```json\n{\"a\": 1}\n```",
            "detectable_format:json_format",
            "{}"
        ));
        assert!(strict("<<My Title>> text", "detectable_format:title", "{}"));
        assert!(strict(
            "first ****** second",
            "combination:two_responses",
            "{}"
        ));
        assert!(strict(
            "Text.\nP.S. bye",
            "detectable_content:postscript",
            r#"{"postscript_marker": "P.S."}"#
        ));
        assert!(strict(
            "SECTION 1 a SECTION 2 b",
            "detectable_format:multiple_sections",
            r#"{"section_spliter": "SECTION", "num_sections": 2}"#
        ));
        assert!(strict(
            "Intro\n\nBanana split is good",
            "length_constraints:nth_paragraph_first_word",
            r#"{"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "banana"}"#
        ));
        assert!(strict(
            "I like CATS AND DOGS",
            "change_case:capital_word_frequency",
            r#"{"capital_frequency": 4, "capital_relation": "at least"}"#
        ));
        assert!(strict(
            "Hello [name] at [place]",
            "detectable_content:number_placeholders",
            r#"{"num_placeholders": 2}"#
        ));
        assert!(strict(
            "Hello. Is that all?\"",
            "startend:end_checker",
            r#"{"end_phrase": "Is that all?"}"#
        ));
    }

    /// Every IFEval id, IFBench id and Tülu function, against responses drawn from all of Unicode and
    /// from hostile structure, with ordinary and hostile arguments: no check panics (this calls the
    /// checks directly, outside the per-row `catch_unwind` of `verify_batch`).
    #[test]
    fn no_check_panics_on_any_text() {
        const IDS: [&str; 83] = [
            "change_case:capital_word_frequency",
            "change_case:english_capital",
            "change_case:english_lowercase",
            "combination:repeat_prompt",
            "combination:two_responses",
            "detectable_content:number_placeholders",
            "detectable_content:postscript",
            "detectable_format:constrained_response",
            "detectable_format:json_format",
            "detectable_format:multiple_sections",
            "detectable_format:number_bullet_lists",
            "detectable_format:number_highlighted_sections",
            "detectable_format:title",
            "keywords:existence",
            "keywords:forbidden_words",
            "keywords:frequency",
            "keywords:letter_frequency",
            "language:response_language",
            "length_constraints:nth_paragraph_first_word",
            "length_constraints:number_paragraphs",
            "length_constraints:number_sentences",
            "length_constraints:number_words",
            "punctuation:no_comma",
            "startend:end_checker",
            "startend:quotation",
            "count:conjunctions",
            "count:keywords_multiple",
            "count:numbers",
            "count:person_names",
            "count:pronouns",
            "count:punctuation",
            "count:unique_word_count",
            "count:word_count_range",
            "count:words_japanese",
            "custom:character_reverse",
            "custom:csv_city",
            "custom:csv_quotes",
            "custom:csv_special_character",
            "custom:date_format_list",
            "custom:european_capitals_sort",
            "custom:mcq_count_length",
            "custom:multiples",
            "custom:reverse_newline",
            "custom:sentence_alphabet",
            "custom:word_reverse",
            "format:emoji",
            "format:line_indent",
            "format:list",
            "format:newline",
            "format:no_bullets_bullets",
            "format:no_whitespace",
            "format:options",
            "format:output_template",
            "format:parentheses",
            "format:quote_unquote",
            "format:quotes",
            "format:sub-bullets",
            "format:thesis",
            "format:title_case",
            "ratio:overlap",
            "ratio:sentence_balance",
            "ratio:sentence_type",
            "ratio:sentence_words",
            "ratio:stop_words",
            "repeat:repeat_change",
            "repeat:repeat_simple",
            "repeat:repeat_span",
            "sentence:alliteration_increment",
            "sentence:increment",
            "sentence:keyword",
            "words:alphabet",
            "words:consonants",
            "words:keywords_specific_position",
            "words:last_first",
            "words:no_consecutive",
            "words:odd_even_syllables",
            "words:palindrome",
            "words:paragraph_last_first",
            "words:prime_lengths",
            "words:repeats",
            "words:start_verb",
            "words:vowel",
            "words:words_position",
        ];
        let ids = IDS.iter().copied().chain(tulu::FUNCTIONS);
        let mut rng = 0x9E37_79B9_7F4A_7C15_u64;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        #[rustfmt::skip]
        const PIECES: [&str; 40] = [
            "\n", "\n\n", " ", "*", "**", "***", "* * *", "******", "\"", "'", "<<", ">>", "[", "]",
            "(", ")", "{", "}", "P.S.", "p.p.s", "Section 1", "SECTION", "Mr.", "e.g.", ".", "?",
            "!", ",", "-", "é", "İ", "ß", "Σ", "😀", "\u{301}", "\u{200d}", "日本語", "1.", "don't",
            "</think>",
        ];
        let mut texts: Vec<String> = vec![String::new(), " ".into(), "\u{3000}".into()];
        for _ in 0..24 {
            let mut text = String::new();
            for _ in 0..(next() % 40) {
                if next() % 3 == 0 {
                    text.push_str(PIECES[(next() % 40) as usize]);
                } else {
                    // any scalar value: ASCII, BMP or astral
                    let raw = match next() % 3 {
                        0 => next() % 0x80,
                        1 => next() % 0x1_0000,
                        _ => next() % 0x11_0000,
                    } as u32;
                    text.push(char::from_u32(raw).unwrap_or('\u{fffd}'));
                }
            }
            texts.push(text);
        }
        let hostile_args = [
            serde_json::from_str::<Value>(r#"{}"#).unwrap(),
            serde_json::from_str::<Value>(r#"{"N": 2, "n": 1, "m": 2, "i": 1, "small_n": 2, "quantifier": "around",
                "relation": "at least", "let_relation": "less than", "capital_relation": "at least",
                "frequency": 1, "let_frequency": 1, "capital_frequency": 1, "num_words": 3,
                "num_sentences": 2, "num_paragraphs": 2, "nth_paragraph": 1, "num_bullets": 1,
                "num_highlights": 1, "num_placeholders": 1, "num_sections": 2, "percentage": 50,
                "min_words": 1, "max_words": 9, "n_start": 0, "n_end": 3,
                "keyword": "é", "keywords": ["İ", "*"], "word": "😀", "keyword_list": ["ß"],
                "forbidden_words": ["(", "x"], "letter": "İ", "language": "en", "first_word": "é",
                "postscript_marker": "P.S.", "section_spliter": "(", "section_splitter": "Σ",
                "options": "('a', 'b')", "sep": "-", "end_phrase": "😀", "prompt_to_repeat": "é x",
                "original_prompt": "é x", "reference_text": "日本語 text",
                "keyword1": "a", "keyword2": "b", "keyword3": "c", "keyword4": "d", "keyword5": "e"}"#).unwrap(),
            serde_json::from_str::<Value>(r#"{"N": -3, "n": -1, "m": 0, "i": 0, "small_n": 0, "n_start": -5, "n_end": -1,
                "num_sections": 0, "nth_paragraph": 0, "num_paragraphs": 0, "percentage": 0,
                "keyword": "", "word": "", "letter": "", "section_spliter": "", "sep": "",
                "options": "", "end_phrase": "", "prompt_to_repeat": "", "postscript_marker": ""}"#).unwrap(),
        ];
        let mut built = 0;
        for args in &hostile_args {
            let Value::Object(kwargs) = args else {
                unreachable!()
            };
            for id in ids.clone() {
                let Ok(constraint) = Constraint::build(id, kwargs) else {
                    continue; // a missing or ill-typed argument is the row's error, not a panic
                };
                built += 1;
                for text in &texts {
                    for variant in loose_variants(text) {
                        let _ = constraint.check(&variant);
                    }
                }
            }
        }
        // 25 + 58 + 25 checks with the full argument set, and those that accept the hostile one
        assert!(built >= 108 + 25, "only {built} checks built");
    }
}
