//! Instruction-following constraints (IFEval), as verifiable rewards.
//!
//! Ground truth is a JSON string in one of two forms:
//! - IFEval / IFBench input rows: `{"instruction_id_list": [...], "kwargs": [{...}, ...]}` (also a list
//!   of such objects, or `instruction_id` instead of `instruction_id_list`, as in Tülu's IF data);
//! - Tülu 3's `{"func_name": "validate_lowercase", ...}` (its 25 functions), mapped onto the IFEval
//!   constraint with the same meaning, so one constraint is graded one way whichever form names it.
//!
//! Strict mode checks the response as written; loose mode passes a constraint when any of IFEval's 8
//! variants of the response (first/last line dropped, `*` removed) passes. The score is 1 when every
//! constraint is followed, or with `partial` the fraction followed.

pub mod checks;
pub mod emoji_table;
pub mod ifbench;
pub mod language;
pub mod sentences;

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

/// Tülu 3's function names and argument names, onto IFEval ids and kwargs.
fn from_tulu(object: &Map<String, Value>) -> Result<Instruction, String> {
    let name = object
        .get("func_name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let arg = |key: &str| object.get(key).cloned().unwrap_or(Value::Null);
    let quantifier = || arg("quantifier");
    let (id, pairs): (&str, Vec<(&str, Value)>) = match name {
        "verify_keywords" => (
            "keywords:existence",
            vec![("keywords", arg("keyword_list"))],
        ),
        "verify_keyword_frequency" => (
            "keywords:frequency",
            vec![
                ("keyword", arg("word")),
                ("frequency", arg("N")),
                ("relation", "exactly".into()),
            ],
        ),
        "validate_forbidden_words" => (
            "keywords:forbidden_words",
            vec![("forbidden_words", arg("forbidden_words"))],
        ),
        "verify_letter_frequency" => (
            "keywords:letter_frequency",
            vec![
                ("letter", arg("letter")),
                ("let_frequency", arg("N")),
                ("let_relation", "exactly".into()),
            ],
        ),
        "validate_response_language" => (
            "language:response_language",
            vec![("language", arg("language"))],
        ),
        "verify_paragraph_count" => (
            "length_constraints:number_paragraphs",
            vec![("num_paragraphs", arg("N"))],
        ),
        "validate_word_constraint" => (
            "length_constraints:number_words",
            vec![("num_words", arg("N")), ("relation", quantifier())],
        ),
        "verify_sentence_constraint" => (
            "length_constraints:number_sentences",
            vec![("num_sentences", arg("N")), ("relation", quantifier())],
        ),
        "validate_paragraphs" => (
            "length_constraints:nth_paragraph_first_word",
            vec![
                ("num_paragraphs", arg("N")),
                ("nth_paragraph", arg("i")),
                ("first_word", arg("first_word")),
            ],
        ),
        "verify_postscript" => (
            "detectable_content:postscript",
            vec![("postscript_marker", arg("postscript_marker"))],
        ),
        "validate_placeholders" => (
            "detectable_content:number_placeholders",
            vec![("num_placeholders", arg("N"))],
        ),
        "verify_bullet_points" => (
            "detectable_format:number_bullet_lists",
            vec![("num_bullets", arg("N"))],
        ),
        "validate_title" => ("detectable_format:title", vec![]),
        "validate_choice" => (
            "detectable_format:constrained_response",
            vec![("options", arg("options"))],
        ),
        "validate_highlighted_sections" => (
            "detectable_format:number_highlighted_sections",
            vec![("num_highlights", arg("N"))],
        ),
        "validate_sections" => (
            "detectable_format:multiple_sections",
            vec![
                ("num_sections", arg("N")),
                ("section_spliter", arg("section_splitter")),
            ],
        ),
        "validate_json_format" => ("detectable_format:json_format", vec![]),
        "validate_repeat_prompt" => (
            "combination:repeat_prompt",
            vec![("prompt_to_repeat", arg("original_prompt"))],
        ),
        "validate_two_responses" => ("combination:two_responses", vec![]),
        "validate_uppercase" => ("change_case:english_capital", vec![]),
        "validate_lowercase" => ("change_case:english_lowercase", vec![]),
        "validate_frequency_capital_words" => (
            "change_case:capital_word_frequency",
            vec![
                ("capital_frequency", arg("N")),
                ("capital_relation", quantifier()),
            ],
        ),
        "validate_end" => (
            "startend:end_checker",
            vec![("end_phrase", arg("end_phrase"))],
        ),
        "validate_quotation" => ("startend:quotation", vec![]),
        "validate_no_commas" => ("punctuation:no_comma", vec![]),
        other => return Err(format!("unknown func_name {other:?}")),
    };
    let kwargs = pairs
        .into_iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    Ok((id.to_string(), kwargs))
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
        // repeat_prompt without its text (some RLVR rows) repeats the row's prompt.
        if id == "combination:repeat_prompt" && !kwargs.contains_key("prompt_to_repeat") {
            if let Some(p) = prompt {
                kwargs.insert("prompt_to_repeat".into(), Value::String(p.to_string()));
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
    let passed = followed(response, &constraints, options.mode);
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
    use crate::rewards::Status;

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
}
