//! The 25 IFEval constraints, each a port of the `check_following` of Google's `instructions.py`.

use super::language;
use super::sentences::{count_sentences, py_islower, py_isupper, word_tokens};
use regex::{Regex, RegexBuilder};
use serde_json::{Map, Value};
use std::sync::OnceLock;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Relation {
    LessThan,
    AtLeast,
    Exactly,
}

impl Relation {
    fn parse(text: &str) -> Result<Relation, String> {
        Ok(match text {
            "less than" => Relation::LessThan,
            "at least" => Relation::AtLeast,
            "exactly" => Relation::Exactly,
            other => return Err(format!("unknown relation {other:?}")),
        })
    }

    fn holds(self, actual: usize, target: i64) -> bool {
        let actual = actual as i64;
        match self {
            Relation::LessThan => actual < target,
            Relation::AtLeast => actual >= target,
            Relation::Exactly => actual == target,
        }
    }
}

#[derive(Debug)]
pub enum Constraint {
    KeywordsExist(Vec<Regex>),
    KeywordFrequency {
        keyword: Regex,
        frequency: i64,
        relation: Relation,
    },
    ForbiddenWords(Vec<Regex>),
    LetterFrequency {
        letter: String,
        frequency: i64,
        relation: Relation,
    },
    Language(String),
    Sentences {
        count: i64,
        relation: Relation,
    },
    Paragraphs(i64),
    Words {
        count: i64,
        relation: Relation,
    },
    NthParagraphFirstWord {
        paragraphs: i64,
        nth: i64,
        first_word: String,
    },
    Placeholders(i64),
    Postscript(Regex),
    BulletLists(i64),
    ConstrainedResponse(Vec<String>),
    Highlights(i64),
    Sections {
        splitter: Regex,
        count: i64,
    },
    Json,
    Title,
    TwoResponses,
    RepeatPrompt(String),
    EndPhrase(String),
    CapitalWords {
        count: i64,
        relation: Relation,
    },
    Uppercase,
    Lowercase,
    NoComma,
    Quotation,
    /// One of IFBench's out-of-distribution constraints.
    Ifbench(Box<super::ifbench::Check>),
    /// One of Tülu 3's own functions (`{"func_name": ...}` ground truths).
    Tulu(Box<super::tulu::Check>),
}

/// Python's `str.isspace` (adds the ASCII separators 0x1c-0x1f to Unicode white space).
pub fn py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

pub fn py_strip(s: &str) -> &str {
    s.trim_matches(py_space)
}

pub(super) fn int_arg(kwargs: &Map<String, Value>, key: &str) -> Result<i64, String> {
    match kwargs.get(key) {
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f as i64))
            .ok_or(format!("{key}: not an integer")),
        Some(Value::String(s)) => s
            .trim()
            .parse()
            .map_err(|_| format!("{key}: not an integer: {s:?}")),
        _ => Err(format!("missing integer argument {key:?}")),
    }
}

pub(super) fn str_arg(kwargs: &Map<String, Value>, key: &str) -> Result<String, String> {
    match kwargs.get(key) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Number(n)) => Ok(n.to_string()),
        _ => Err(format!("missing string argument {key:?}")),
    }
}

fn list_arg(kwargs: &Map<String, Value>, key: &str) -> Result<Vec<String>, String> {
    match kwargs.get(key) {
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or(format!("{key}: not strings"))
            })
            .collect(),
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        _ => Err(format!("missing list argument {key:?}")),
    }
}

fn relation_arg(kwargs: &Map<String, Value>, key: &str) -> Result<Relation, String> {
    Relation::parse(&str_arg(kwargs, key)?)
}

/// The reference searches with the keyword as a regular expression; a keyword that is not a valid
/// pattern in our engine is matched literally.
fn keyword_regex(pattern: &str) -> Regex {
    RegexBuilder::new(pattern)
        .case_insensitive(true)
        .size_limit(1 << 20)
        .build()
        .unwrap_or_else(|_| {
            RegexBuilder::new(&regex::escape(pattern))
                .case_insensitive(true)
                .build()
                .expect("escaped pattern")
        })
}

impl Constraint {
    /// Build from an IFEval or IFBench instruction id, or a Tülu function name, and its kwargs (null
    /// values already removed).
    pub fn build(id: &str, kwargs: &Map<String, Value>) -> Result<Constraint, String> {
        use Constraint::*;
        Ok(match id {
            "keywords:existence" => KeywordsExist(
                list_arg(kwargs, "keywords")?
                    .iter()
                    .map(|k| keyword_regex(k))
                    .collect(),
            ),
            "keywords:frequency" => KeywordFrequency {
                keyword: keyword_regex(str_arg(kwargs, "keyword")?.trim()),
                frequency: int_arg(kwargs, "frequency")?,
                relation: relation_arg(kwargs, "relation")?,
            },
            "keywords:forbidden_words" => ForbiddenWords(
                list_arg(kwargs, "forbidden_words")?
                    .iter()
                    .map(|w| keyword_regex(&format!(r"\b{w}\b")))
                    .collect(),
            ),
            "keywords:letter_frequency" => LetterFrequency {
                letter: str_arg(kwargs, "letter")?.trim().to_lowercase(),
                frequency: int_arg(kwargs, "let_frequency")?,
                relation: relation_arg(kwargs, "let_relation")?,
            },
            "language:response_language" => Language(str_arg(kwargs, "language")?),
            "length_constraints:number_sentences" => Sentences {
                count: int_arg(kwargs, "num_sentences")?,
                relation: relation_arg(kwargs, "relation")?,
            },
            "length_constraints:number_paragraphs" => {
                Paragraphs(int_arg(kwargs, "num_paragraphs")?)
            }
            "length_constraints:number_words" => Words {
                count: int_arg(kwargs, "num_words")?,
                relation: relation_arg(kwargs, "relation")?,
            },
            "length_constraints:nth_paragraph_first_word" => NthParagraphFirstWord {
                paragraphs: int_arg(kwargs, "num_paragraphs")?,
                nth: int_arg(kwargs, "nth_paragraph")?,
                first_word: str_arg(kwargs, "first_word")?.to_lowercase(),
            },
            "detectable_content:number_placeholders" => {
                Placeholders(int_arg(kwargs, "num_placeholders")?)
            }
            "detectable_content:postscript" => {
                Postscript(postscript_pattern(&str_arg(kwargs, "postscript_marker")?))
            }
            "detectable_format:number_bullet_lists" => BulletLists(int_arg(kwargs, "num_bullets")?),
            "detectable_format:constrained_response" => {
                ConstrainedResponse(match kwargs.get("options") {
                    Some(_) => list_arg(kwargs, "options")?,
                    None => [
                        "My answer is yes.",
                        "My answer is no.",
                        "My answer is maybe.",
                    ]
                    .map(String::from)
                    .to_vec(),
                })
            }
            "detectable_format:number_highlighted_sections" => {
                Highlights(int_arg(kwargs, "num_highlights")?)
            }
            "detectable_format:multiple_sections" => {
                let splitter = str_arg(kwargs, "section_spliter")?;
                let pattern = format!(r"\s?{}\s?\d+\s?", splitter.trim());
                let splitter = Regex::new(&pattern)
                    .or_else(|_| {
                        Regex::new(&format!(r"\s?{}\s?\d+\s?", regex::escape(splitter.trim())))
                    })
                    .map_err(|e| e.to_string())?;
                Sections {
                    splitter,
                    count: int_arg(kwargs, "num_sections")?,
                }
            }
            "detectable_format:json_format" => Json,
            "detectable_format:title" => Title,
            "combination:two_responses" => TwoResponses,
            "combination:repeat_prompt" => RepeatPrompt(str_arg(kwargs, "prompt_to_repeat")?),
            "startend:end_checker" => EndPhrase(str_arg(kwargs, "end_phrase")?),
            "change_case:capital_word_frequency" => CapitalWords {
                count: int_arg(kwargs, "capital_frequency")?,
                relation: relation_arg(kwargs, "capital_relation")?,
            },
            "change_case:english_capital" => Uppercase,
            "change_case:english_lowercase" => Lowercase,
            "punctuation:no_comma" => NoComma,
            "startend:quotation" => Quotation,
            other => match super::ifbench::Check::build(other, kwargs)? {
                Some(check) => Ifbench(Box::new(check)),
                None => match super::tulu::Check::build(other, kwargs)? {
                    Some(check) => Tulu(Box::new(check)),
                    None => return Err(format!("unknown instruction id {other:?}")),
                },
            },
        })
    }

    pub fn check(&self, value: &str) -> bool {
        use Constraint::*;
        match self {
            KeywordsExist(keywords) => keywords.iter().all(|k| k.is_match(value)),
            KeywordFrequency {
                keyword,
                frequency,
                relation,
            } => relation.holds(keyword.find_iter(value).count(), *frequency),
            ForbiddenWords(words) => !words.iter().any(|w| w.is_match(value)),
            LetterFrequency {
                letter,
                frequency,
                relation,
            } => {
                let mut letters = letter.chars();
                let count = match (letters.next(), letters.next()) {
                    (Some(c), None) => value.to_lowercase().chars().filter(|&x| x == c).count(),
                    _ => 0,
                };
                relation.holds(count, *frequency)
            }
            Language(code) => language::is_language(value, code),
            Sentences { count, relation } => relation.holds(count_sentences(value), *count),
            Paragraphs(expected) => star_paragraphs(value) == Some(*expected),
            Words { count, relation } => relation.holds(count_words(value), *count),
            NthParagraphFirstWord {
                paragraphs,
                nth,
                first_word,
            } => nth_paragraph_first_word(value, *paragraphs, *nth, first_word),
            Placeholders(n) => {
                pattern(&PLACEHOLDER, r"\[.*?\]").find_iter(value).count() as i64 >= *n
            }
            Postscript(pattern) => pattern.is_match(&value.to_lowercase()),
            BulletLists(n) => {
                let stars = pattern(&STAR_BULLET, r"(?m)^\s*\*[^\*].*$")
                    .find_iter(value)
                    .count();
                let dashes = pattern(&DASH_BULLET, r"(?m)^\s*-.*$")
                    .find_iter(value)
                    .count();
                (stars + dashes) as i64 == *n
            }
            ConstrainedResponse(options) => {
                options.iter().any(|o| py_strip(value).contains(o.as_str()))
            }
            Highlights(n) => count_highlights(value) as i64 >= *n,
            Sections { splitter, count } => splitter.find_iter(value).count() as i64 >= *count,
            Json => is_json(value),
            Title => pattern(&TITLE, r"<<[^\n]+>>").find_iter(value).any(|t| {
                !py_strip(t.as_str().trim_start_matches('<').trim_end_matches('>')).is_empty()
            }),
            TwoResponses => two_responses(value),
            RepeatPrompt(prompt) => py_strip(value)
                .to_lowercase()
                .starts_with(&py_strip(prompt).to_lowercase()),
            EndPhrase(phrase) => py_strip(value)
                .trim_matches('"')
                .to_lowercase()
                .ends_with(&py_strip(phrase).to_lowercase()),
            CapitalWords { count, relation } => relation.holds(
                word_tokens(value).iter().filter(|w| py_isupper(w)).count(),
                *count,
            ),
            Uppercase => py_isupper(value) && language::is_language(value, "en"),
            Lowercase => py_islower(value) && language::is_language(value, "en"),
            NoComma => !value.contains(','),
            Quotation => {
                let v = py_strip(value);
                v.chars().count() > 1 && v.starts_with('"') && v.ends_with('"')
            }
            Ifbench(check) => check.check(value),
            Tulu(check) => check.check(value),
        }
    }
}

static PLACEHOLDER: OnceLock<Regex> = OnceLock::new();
static STAR_BULLET: OnceLock<Regex> = OnceLock::new();
static DASH_BULLET: OnceLock<Regex> = OnceLock::new();
static TITLE: OnceLock<Regex> = OnceLock::new();
static WORD: OnceLock<Regex> = OnceLock::new();
static STAR_DIVIDER: OnceLock<Regex> = OnceLock::new();
static SINGLE_HIGHLIGHT: OnceLock<Regex> = OnceLock::new();
static DOUBLE_HIGHLIGHT: OnceLock<Regex> = OnceLock::new();

fn pattern(cell: &'static OnceLock<Regex>, source: &str) -> &'static Regex {
    cell.get_or_init(|| Regex::new(source).expect("valid IFEval pattern"))
}

fn postscript_pattern(marker: &str) -> Regex {
    let source = match marker {
        "P.P.S" => r"(?m)\s*p\.\s?p\.\s?s.*$".to_string(),
        "P.S." => r"(?m)\s*p\.\s?s\..*$".to_string(),
        other => format!(r"(?m)\s*{}.*$", other.to_lowercase()),
    };
    Regex::new(&source).unwrap_or_else(|_| {
        Regex::new(&format!(
            r"(?m)\s*{}.*$",
            regex::escape(&marker.to_lowercase())
        ))
        .expect("escaped")
    })
}

/// `nltk.RegexpTokenizer(r"\w+")`.
pub fn count_words(text: &str) -> usize {
    pattern(&WORD, r"\w+").find_iter(text).count()
}

/// Paragraphs separated by `***`; an empty paragraph inside the text fails the check (`None`).
fn star_paragraphs(value: &str) -> Option<i64> {
    let paragraphs: Vec<&str> = pattern(&STAR_DIVIDER, r"\s?\*\*\*\s?")
        .split(value)
        .collect();
    let mut count = paragraphs.len() as i64;
    for (i, p) in paragraphs.iter().enumerate() {
        if py_strip(p).is_empty() {
            if i == 0 || i == paragraphs.len() - 1 {
                count -= 1;
            } else {
                return None;
            }
        }
    }
    Some(count)
}

fn nth_paragraph_first_word(value: &str, expected: i64, nth: i64, first_word: &str) -> bool {
    let paragraphs: Vec<&str> = value.split("\n\n").collect();
    let count = paragraphs
        .iter()
        .filter(|p| !py_strip(p).is_empty())
        .count() as i64;
    if nth > count || nth < 1 {
        return false;
    }
    let paragraph = py_strip(paragraphs[(nth - 1) as usize]);
    let Some(word) = paragraph.split(py_space).find(|w| !w.is_empty()) else {
        return false;
    };
    let word = word.trim_start_matches('\'').trim_start_matches('"');
    let found: String = word
        .chars()
        .take_while(|c| !".,?!'\"".contains(*c))
        .collect::<String>()
        .to_lowercase();
    count == expected && found == first_word
}

fn count_highlights(value: &str) -> usize {
    let single = pattern(&SINGLE_HIGHLIGHT, r"\*[^\n\*]*\*")
        .find_iter(value)
        .filter(|h| !py_strip(h.as_str().trim_matches('*')).is_empty())
        .count();
    let double = pattern(&DOUBLE_HIGHLIGHT, r"\*\*[^\n\*]*\*\*")
        .find_iter(value)
        .filter(|h| {
            let inner = h
                .as_str()
                .strip_prefix("**")
                .and_then(|h| h.strip_suffix("**"));
            !py_strip(inner.unwrap_or_default()).is_empty()
        })
        .count();
    single + double
}

fn is_json(value: &str) -> bool {
    let mut v = py_strip(value);
    // Python's chained `removeprefix` calls: each prefix is tried once, in this order.
    for prefix in ["```json", "```Json", "```JSON", "```"] {
        v = v.strip_prefix(prefix).unwrap_or(v);
    }
    let v = py_strip(v.strip_suffix("```").unwrap_or(v));
    serde_json::from_str::<serde::de::IgnoredAny>(v).is_ok()
}

fn two_responses(value: &str) -> bool {
    let parts: Vec<&str> = value.split("******").collect();
    let mut valid = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        if py_strip(part).is_empty() {
            if i != 0 && i != parts.len() - 1 {
                return false;
            }
        } else {
            valid.push(*part);
        }
    }
    valid.len() == 2 && py_strip(valid[0]) != py_strip(valid[1])
}
