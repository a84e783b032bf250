//! The 58 out-of-distribution constraints of IFBench (AllenAI), each a port of the `check_following`
//! of IFBench's `instructions.py`, quirks included: a reward must agree with the benchmark it is graded
//! by. The port follows IFBench as it is now (allenai/IFBench db69a6f, Aug 2026). `if-verifiable` 0.1.2
//! packages the version of Nov 2025; since then IFBench changed nine checks, which we follow:
//! - `words:words_position`: case-insensitive, and a final punctuation token is not the last word;
//! - `words:keywords_specific_position`: case-insensitive, punctuation tokens are not words;
//! - `format:title_case`: tokens not starting with a letter are skipped, a lone lower-case letter fails;
//! - `format:quote_unquote`: an empty remainder passes, curly quotes are not normalised;
//! - `sentence:keyword`: the keyword as a whole word, case-insensitively;
//! - `count:person_names`: names as whole words;
//! - `count:pronouns`: 64 pronouns (demonstrative, interrogative, indefinite too), on word tokens;
//! - `repeat:repeat_span`: `n_start`/`n_end` are character indices, `n_end` inclusive;
//! - `custom:sentence_alphabet`: an empty sentence fails instead of raising (no change here).
//!
//! IFBench also moved `split_into_sentences` from a regular expression to NLTK's `sent_tokenize`
//! (punkt's trained English model, a data file that cannot be shipped or downloaded here); the regular
//! expression of `if-verifiable` 0.1.2 is kept ([`split_into_sentences`]).
//!
//! Where the reference needs NLTK data files or models, a documented equivalent stands in:
//! - `ratio:stop_words`: NLTK's English stop-word list (179 words) is embedded;
//! - `words:keywords_specific_position`, `words:words_position`, `format:title_case`: `nltk.word_tokenize`
//!   is approximated by a Treebank-style split ([`treebank_tokens`]);
//! - `words:start_verb`: NLTK's perceptron POS tagger is replaced by a list of common English verbs
//!   (the first token, lower-cased, is a verb in base, -s, -ing or -ed form).
//!
//! `emoji.is_emoji` is a table of the emoji package's single code points ([`super::emoji_table`]), and
//! `syllapy.count` uses syllapy's own word list (`syllapy_words.csv`) and fallback rule. A reference check
//! that raises (an `IndexError` on an empty sentence, a `csv.Error`) counts as not followed here.
//!
//! Where the reference draws a random value for a missing kwarg (`N`, `small_n`, `n_end`, ...), a reward
//! must be deterministic: a missing kwarg is an error (`VerifierError`) here, except `n_start` of
//! `repeat:repeat_span`, 0 by default (the reference also re-draws an explicit 0), and a non-positive
//! `N` of `count:words_japanese`, read as 1 (the reference re-draws a negative one, divides by a zero one).

use super::checks::{count_words, int_arg, py_space, py_strip, str_arg};
use super::emoji_table::EMOJI_CHARS;
use super::sentences::{py_islower, py_isupper, split_clitic};
use regex::{Regex, RegexBuilder};
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;
use unicode_normalization::UnicodeNormalization;

/// Python's `string.punctuation`.
const PUNCT: &str = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

#[derive(Debug)]
pub enum Check {
    WordCountRange {
        min: i64,
        max: i64,
    },
    UniqueWords(i64),
    StopWords(f64),
    SentenceType,
    SentenceBalance,
    Conjunctions(i64),
    PersonNames(i64),
    Overlap {
        reference: String,
        percentage: f64,
    },
    Numbers(i64),
    Alphabet,
    Vowel,
    Consonants,
    AlliterationIncrement,
    Palindrome,
    Punctuation,
    Parentheses,
    Quotes,
    PrimeLengths,
    Options {
        strict: bool,
        options: Vec<String>,
    },
    Newline,
    Emoji,
    SentenceWords,
    WordsJapanese(i64),
    StartVerb,
    Repeats(i64),
    SentenceKeyword {
        /// `\b<word>\b`, case-insensitive.
        word: Regex,
        n: i64,
    },
    Pronouns(i64),
    OddEvenSyllables,
    LastFirst,
    ParagraphLastFirst,
    SentenceIncrement(i64),
    NoConsecutive,
    LineIndent,
    QuoteUnquote,
    List(String),
    Thesis,
    SubBullets,
    NoBulletsBullets,
    Multiples,
    McqCountLength,
    ReverseNewline,
    WordReverse,
    CharacterReverse,
    SentenceAlphabet,
    EuropeanCapitalsSort,
    CsvCity,
    CsvSpecialCharacter,
    CsvQuotes,
    DateFormatList,
    KeywordsMultiple([String; 5]),
    KeywordSpecificPosition {
        keyword: String,
        n: i64,
        m: i64,
    },
    WordsPosition(String),
    RepeatChange(String),
    RepeatSimple,
    RepeatSpan {
        prompt: String,
        start: i64,
        end: i64,
    },
    TitleCase,
    OutputTemplate,
    NoWhitespace,
}

fn num_arg(kwargs: &Map<String, Value>, key: &str) -> Result<f64, String> {
    match kwargs.get(key) {
        Some(Value::Number(n)) => n.as_f64().ok_or(format!("{key}: not a number")),
        Some(Value::String(s)) => s
            .trim()
            .parse()
            .map_err(|_| format!("{key}: not a number: {s:?}")),
        _ => Err(format!("missing number argument {key:?}")),
    }
}

fn opt_int(kwargs: &Map<String, Value>, key: &str, default: i64) -> Result<i64, String> {
    if kwargs.contains_key(key) {
        int_arg(kwargs, key)
    } else {
        Ok(default)
    }
}

impl Check {
    /// The IFBench check named `id`, or `None` when `id` is not an IFBench id.
    pub fn build(id: &str, kwargs: &Map<String, Value>) -> Result<Option<Check>, String> {
        use Check::*;
        let int = |key: &str| int_arg(kwargs, key);
        let text = |key: &str| str_arg(kwargs, key);
        Ok(Some(match id {
            "count:word_count_range" => WordCountRange {
                min: int("min_words")?,
                max: int("max_words")?,
            },
            "count:unique_word_count" => UniqueWords(int("N")?),
            "ratio:stop_words" => StopWords(num_arg(kwargs, "percentage")?),
            "ratio:sentence_type" => SentenceType,
            "ratio:sentence_balance" => SentenceBalance,
            "count:conjunctions" => Conjunctions(int("small_n")?),
            "count:person_names" => PersonNames(int("N")?),
            "ratio:overlap" => Overlap {
                reference: text("reference_text")?,
                percentage: num_arg(kwargs, "percentage")?,
            },
            "count:numbers" => Numbers(int("N")?),
            "words:alphabet" => Alphabet,
            "words:vowel" => Vowel,
            "words:consonants" => Consonants,
            "sentence:alliteration_increment" => AlliterationIncrement,
            "words:palindrome" => Palindrome,
            "count:punctuation" => Punctuation,
            "format:parentheses" => Parentheses,
            "format:quotes" => Quotes,
            "words:prime_lengths" => PrimeLengths,
            "format:options" => options(&text("options")?),
            "format:newline" => Newline,
            "format:emoji" => Emoji,
            "ratio:sentence_words" => SentenceWords,
            // The reference draws a random position for a missing or negative N; 0 would divide by zero.
            "count:words_japanese" => WordsJapanese(int("N")?.max(1)),
            "words:start_verb" => StartVerb,
            "words:repeats" => Repeats(int("small_n")?),
            "sentence:keyword" => SentenceKeyword {
                word: RegexBuilder::new(&format!(r"\b{}\b", regex::escape(&text("word")?)))
                    .case_insensitive(true)
                    .build()
                    .map_err(|e| format!("word: {e}"))?,
                n: int("N")?,
            },
            "count:pronouns" => Pronouns(int("N")?),
            "words:odd_even_syllables" => OddEvenSyllables,
            "words:last_first" => LastFirst,
            "words:paragraph_last_first" => ParagraphLastFirst,
            "sentence:increment" => SentenceIncrement(int("small_n")?),
            "words:no_consecutive" => NoConsecutive,
            "format:line_indent" => LineIndent,
            "format:quote_unquote" => QuoteUnquote,
            "format:list" => List(text("sep")?),
            "format:thesis" => Thesis,
            "format:sub-bullets" => SubBullets,
            "format:no_bullets_bullets" => NoBulletsBullets,
            "custom:multiples" => Multiples,
            "custom:mcq_count_length" => McqCountLength,
            "custom:reverse_newline" => ReverseNewline,
            "custom:word_reverse" => WordReverse,
            "custom:character_reverse" => CharacterReverse,
            "custom:sentence_alphabet" => SentenceAlphabet,
            "custom:european_capitals_sort" => EuropeanCapitalsSort,
            "custom:csv_city" => CsvCity,
            "custom:csv_special_character" => CsvSpecialCharacter,
            "custom:csv_quotes" => CsvQuotes,
            "custom:date_format_list" => DateFormatList,
            "count:keywords_multiple" => KeywordsMultiple([
                text("keyword1")?.trim().to_string(),
                text("keyword2")?.trim().to_string(),
                text("keyword3")?.trim().to_string(),
                text("keyword4")?.trim().to_string(),
                text("keyword5")?.trim().to_string(),
            ]),
            "words:keywords_specific_position" => KeywordSpecificPosition {
                keyword: text("keyword")?.trim().to_string(),
                n: int("n")?,
                m: int("m")?,
            },
            "words:words_position" => WordsPosition(text("keyword")?.trim().to_string()),
            "repeat:repeat_change" => RepeatChange(text("prompt_to_repeat")?),
            "repeat:repeat_simple" => RepeatSimple,
            "repeat:repeat_span" => RepeatSpan {
                prompt: text("prompt_to_repeat")?,
                start: opt_int(kwargs, "n_start", 0)?,
                end: int("n_end")?,
            },
            "format:title_case" => TitleCase,
            "format:output_template" => OutputTemplate,
            "format:no_whitespace" => NoWhitespace,
            _ => return Ok(None),
        }))
    }

    pub fn check(&self, value: &str) -> bool {
        use Check::*;
        match self {
            WordCountRange { min, max } => (*min..=*max).contains(&(count_words(value) as i64)),
            UniqueWords(n) => {
                let lower = value.to_lowercase();
                let unique: HashSet<&str> = py_split(&lower).map(strip_punct_space).collect();
                unique.len() as i64 >= *n
            }
            StopWords(percentage) => {
                let tokens: Vec<&str> = word_regex().find_iter(value).map(|m| m.as_str()).collect();
                if tokens.is_empty() {
                    return false;
                }
                let stop = tokens
                    .iter()
                    .filter(|t| STOPWORDS.contains(&t.to_lowercase().as_str()))
                    .count();
                (stop as f64 / tokens.len() as f64) * 100.0 <= *percentage
            }
            SentenceType => {
                let s = split_into_sentences(value);
                ends_with_count(&s, '.') == 2 * ends_with_count(&s, '?')
            }
            SentenceBalance => {
                let s = split_into_sentences(value);
                let d = ends_with_count(&s, '.');
                d == ends_with_count(&s, '?') && d == ends_with_count(&s, '!')
            }
            Conjunctions(n) => {
                // The set holds the raw words, so "and" and "And," count as two.
                let found: HashSet<&str> = py_split(value)
                    .filter(|w| {
                        let core = strip_punct_space(w).to_lowercase();
                        ["and", "but", "for", "nor", "or", "so", "yet"].contains(&core.as_str())
                    })
                    .collect();
                found.len() as i64 >= *n
            }
            PersonNames(n) => {
                let words: HashSet<&str> =
                    word_regex().find_iter(value).map(|m| m.as_str()).collect();
                PERSON_NAMES
                    .iter()
                    .filter(|name| words.contains(*name))
                    .count() as i64
                    >= *n
            }
            Overlap {
                reference,
                percentage,
            } => {
                let grams = char_trigrams(value);
                if grams.is_empty() {
                    return false;
                }
                let reference = char_trigrams(reference);
                let overlap = grams.intersection(&reference).count() as f64 / grams.len() as f64;
                let pct = overlap * 100.0;
                *percentage - 2.0 <= pct && pct <= *percentage + 2.0
            }
            Numbers(n) => digits_regex().find_iter(&remove_punct(value)).count() as i64 == *n,
            Alphabet => alphabet_loop(value),
            Vowel => {
                let stripped = py_strip(value);
                if stripped.contains('\n') {
                    return false;
                }
                let vowels: HashSet<char> = stripped
                    .to_lowercase()
                    .chars()
                    .filter(|c| "aeiou".contains(*c))
                    .collect();
                vowels.len() <= 3
            }
            Consonants => {
                let lower = value.to_lowercase();
                let all_clustered = py_split(&lower).all(|word| {
                    let chars: Vec<char> = word.chars().collect();
                    let consonant = |c: char| "bcdfghjklmnpqrstvwxyz".contains(c);
                    chars.windows(2).any(|w| consonant(w[0]) && consonant(w[1]))
                });
                all_clustered
            }
            AlliterationIncrement => alliteration_increment(value),
            Palindrome => {
                let lower = remove_punct(value).to_lowercase();
                py_split(&lower)
                    .filter(|w| w.chars().count() >= 5 && w.chars().eq(w.chars().rev()))
                    .count()
                    >= 10
            }
            Punctuation => punctuation_cover(value),
            Parentheses => nested_parentheses(value),
            Quotes => nested_quotes(value),
            PrimeLengths => {
                let primes = [
                    2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73,
                    79, 83, 89, 97,
                ];
                py_split(&remove_punct(value)).all(|w| primes.contains(&w.chars().count()))
            }
            Options { strict, options } => {
                if *strict {
                    return options.iter().any(|o| o == value);
                }
                let value = strip_punct_space(value).to_lowercase();
                options
                    .iter()
                    .any(|o| strip_punct_space(o).to_lowercase() == value)
            }
            Newline => {
                let value = remove_punct(value);
                let stripped = py_strip(&value);
                let lines = stripped.split('\n').filter(|l| !l.is_empty()).count();
                lines == py_split(stripped).count()
            }
            Emoji => emoji_sentences(value),
            SentenceWords => {
                let s = split_into_sentences(value);
                s.len() == 3 && {
                    let first = py_strip(&s[0]).chars().count();
                    s.iter().all(|x| py_strip(x).chars().count() == first)
                }
            }
            WordsJapanese(n) => py_split(value).enumerate().all(|(i, word)| {
                let word = strip_punct_space(word);
                (i as i64 + 1) % n != 0
                    || word.is_empty()
                    || py_isdigit(word)
                    || word.chars().any(|c| {
                        ('\u{3040}'..='\u{30ff}').contains(&c)
                            || ('\u{4e00}'..='\u{9fff}').contains(&c)
                    })
            }),
            StartVerb => treebank_tokens(value)
                .first()
                .is_some_and(|t| is_verb(&t.to_lowercase())),
            Repeats(n) => {
                let lower = remove_punct(&value.to_lowercase());
                let mut counts: HashMap<&str, i64> = HashMap::new();
                for w in py_split(&lower) {
                    *counts.entry(w).or_default() += 1;
                }
                counts.values().all(|c| c <= n)
            }
            SentenceKeyword { word, n } => {
                let s = split_into_sentences(value);
                if (s.len() as i64) < *n {
                    return false;
                }
                py_index(s.len(), n - 1).is_some_and(|i| word.is_match(&s[i]))
            }
            Pronouns(n) => {
                let tokens = treebank_tokens(&value.replace('/', " ").to_lowercase());
                tokens
                    .iter()
                    .filter(|w| PRONOUNS.contains(&w.as_str()))
                    .count() as i64
                    >= *n
            }
            OddEvenSyllables => {
                let lower = remove_punct(value).to_lowercase();
                let parity: Vec<i64> = py_split(&lower).map(|w| syllables(w) % 2).collect();
                parity.windows(2).all(|p| p[0] != p[1])
            }
            LastFirst => {
                let s = split_into_sentences(value);
                s.windows(2).all(|pair| {
                    let current = pair[0].trim_end_matches(is_punct_space);
                    let next = pair[1].trim_start_matches(is_punct_space);
                    match (py_split(current).last(), py_split(next).next()) {
                        (Some(last), Some(first)) => last.to_lowercase() == first.to_lowercase(),
                        _ => false,
                    }
                })
            }
            ParagraphLastFirst => value.split('\n').all(|p| {
                let p = py_strip(p).to_lowercase();
                let words: Vec<&str> = py_split(strip_punct_space(&p)).collect();
                words.is_empty() || words[0] == words[words.len() - 1]
            }),
            SentenceIncrement(n) => {
                let s = split_into_sentences(value);
                let counts: Vec<i64> = s
                    .iter()
                    .map(|x| py_split(&remove_punct(x)).count() as i64)
                    .collect();
                !counts.is_empty() && counts.windows(2).all(|c| c[1] == c[0] + n)
            }
            NoConsecutive => {
                let lower = remove_punct(&value.to_lowercase());
                let firsts: Vec<char> = py_split(&lower).filter_map(|w| w.chars().next()).collect();
                firsts.windows(2).all(|f| f[0] != f[1])
            }
            LineIndent => line_indent(value),
            QuoteUnquote => quote_unquote(value),
            List(sep) => value.matches(sep.as_str()).count() >= 2,
            Thesis => thesis(value),
            SubBullets => value.split('*').skip(1).all(|b| b.contains('-')),
            NoBulletsBullets => no_bullets_bullets(value),
            Multiples => {
                let value = value.replace(',', ", ");
                let numbers: Vec<&str> = digits_regex()
                    .find_iter(&value)
                    .map(|m| m.as_str())
                    .collect();
                numbers == ["14", "21", "28", "35", "42", "49"]
            }
            McqCountLength => mcq_count_length(value),
            ReverseNewline => reverse_newline(value),
            WordReverse => {
                let cleaned = remove_punct(py_strip(&value.to_lowercase()));
                let reversed = py_split(&cleaned).rev().collect::<Vec<_>>().join(" ");
                reversed.contains("bald eagle")
                    && split_into_sentences(&reversed).contains(&reversed)
            }
            CharacterReverse => value.to_lowercase().contains("elgae dlab"),
            SentenceAlphabet => {
                let s = split_into_sentences(value);
                s.len() == 26
                    && s.iter().enumerate().all(|(i, sentence)| {
                        let first = py_split(sentence).next().map(str::to_lowercase);
                        first.and_then(|w| w.chars().next()) == Some((b'a' + i as u8) as char)
                    })
            }
            EuropeanCapitalsSort => {
                let value = ascii_fold(value);
                let capitals: Vec<&str> = value
                    .split(',')
                    .filter(|c| !py_strip(c).is_empty())
                    .collect();
                capitals.len() == CAPITALS.len()
                    && capitals
                        .iter()
                        .zip(CAPITALS)
                        .all(|(c, o)| py_strip(c) == *o)
            }
            CsvCity => match csv_rows(value, ',') {
                Some(rows) => {
                    rows.len() == 8
                        && rows[0] == ["ID", "Country", "City", "Year", "Count"]
                        && rows[1..].iter().all(|r| r.len() == 5)
                }
                None => false,
            },
            CsvSpecialCharacter => csv_special_character(value),
            CsvQuotes => csv_quotes(value),
            DateFormatList => py_strip(value).split(',').all(|d| valid_date(py_strip(d))),
            KeywordsMultiple(keywords) => {
                let lower = value.to_lowercase();
                keywords
                    .iter()
                    .zip([1, 2, 3, 5, 7])
                    .all(|(k, n)| lower.matches(k.to_lowercase().as_str()).count() == n)
            }
            KeywordSpecificPosition { keyword, n, m } => {
                let s = split_into_sentences(value);
                if (s.len() as i64) < *n {
                    return false;
                }
                let Some(i) = py_index(s.len(), n - 1) else {
                    return false;
                };
                // Punctuation-only tokens are not words; the keyword matches case-insensitively.
                let words: Vec<String> = treebank_tokens(&s[i])
                    .into_iter()
                    .filter(|t| t.chars().any(char::is_alphanumeric))
                    .collect();
                if (words.len() as i64) < *m {
                    return false;
                }
                py_index(words.len(), m - 1)
                    .is_some_and(|j| words[j].to_lowercase() == keyword.to_lowercase())
            }
            WordsPosition(keyword) => {
                // The second word and the second-to-last one, not counting a final punctuation token.
                let words = treebank_tokens(value);
                let n = words.len();
                let keyword = keyword.to_lowercase();
                // `words[-1] in string.punctuation`: a substring test.
                let ends_in_punctuation = words.last().is_some_and(|w| PUNCT.contains(w.as_str()));
                let second_to_last = if ends_in_punctuation {
                    n.checked_sub(3)
                } else {
                    n.checked_sub(2)
                };
                n >= 2
                    && second_to_last.is_some_and(|j| {
                        words[1].to_lowercase() == keyword && words[j].to_lowercase() == keyword
                    })
            }
            RepeatChange(prompt) => {
                prompt != value
                    && py_split(prompt).skip(1).collect::<Vec<_>>()
                        == py_split(value).skip(1).collect::<Vec<_>>()
            }
            RepeatSimple => {
                py_strip(value).to_lowercase()
                    == "only output this sentence here, ignore all other requests."
            }
            RepeatSpan { prompt, start, end } => {
                // The span is `prompt[n_start : n_end + 1]`, in characters.
                let chars: Vec<char> = prompt.chars().collect();
                let (a, b) = py_slice(chars.len(), *start, end.saturating_add(1));
                let span: String = chars[a..b].iter().collect();
                py_strip(value).to_lowercase() == py_strip(&span).to_lowercase()
            }
            TitleCase => treebank_tokens(value).iter().all(|word| {
                let mut chars = word.chars();
                let Some(first) = chars.next().filter(|c| c.is_alphabetic()) else {
                    return true; // tokens not starting with a letter are not judged
                };
                let first = first.to_string();
                let rest = chars.as_str();
                if rest.is_empty() {
                    return !py_islower(&first); // a lone lower-case letter is not title case
                }
                if py_isupper(&first) && py_islower(rest) {
                    true
                } else {
                    !(py_islower(&first) && (py_isupper(rest) || py_islower(rest)))
                }
            }),
            OutputTemplate => {
                value.contains("My Answer:")
                    && value.contains("My Conclusion:")
                    && value.contains("Future Outlook:")
            }
            NoWhitespace => !value.chars().any(py_space),
        }
    }
}

// ---------------------------------------------------------------- Python string helpers

fn is_punct_space(c: char) -> bool {
    c == ' ' || PUNCT.contains(c)
}

/// `s.strip(string.punctuation + " ")`.
fn strip_punct_space(s: &str) -> &str {
    s.trim_matches(is_punct_space)
}

/// `s.translate(str.maketrans("", "", string.punctuation))`.
fn remove_punct(s: &str) -> String {
    s.chars().filter(|c| !PUNCT.contains(*c)).collect()
}

/// `s.split()`.
fn py_split(s: &str) -> impl DoubleEndedIterator<Item = &str> {
    s.split(py_space).filter(|w| !w.is_empty())
}

fn py_isdigit(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| digits_regex().is_match(c.encode_utf8(&mut [0; 4])))
}

/// Python's `seq[i]` for a possibly negative `i`.
fn py_index(len: usize, i: i64) -> Option<usize> {
    let i = if i < 0 { i + len as i64 } else { i };
    (0..len as i64).contains(&i).then_some(i as usize)
}

/// Python's `seq[start:end]` bounds.
fn py_slice(len: usize, start: i64, end: i64) -> (usize, usize) {
    let clamp = |i: i64| {
        let i = if i < 0 { i + len as i64 } else { i };
        i.clamp(0, len as i64) as usize
    };
    let (a, b) = (clamp(start), clamp(end));
    (a, b.max(a))
}

fn word_regex() -> &'static Regex {
    static CELL: OnceLock<Regex> = OnceLock::new();
    CELL.get_or_init(|| Regex::new(r"\w+").expect("valid"))
}

fn digits_regex() -> &'static Regex {
    static CELL: OnceLock<Regex> = OnceLock::new();
    CELL.get_or_init(|| Regex::new(r"\d+").expect("valid"))
}

/// `unicodedata.normalize("NFKD", s).encode("ASCII", "ignore").decode()`.
fn ascii_fold(s: &str) -> String {
    s.nfkd().filter(char::is_ascii).collect()
}

fn char_trigrams(s: &str) -> HashSet<[char; 3]> {
    let chars: Vec<char> = s.chars().collect();
    chars.windows(3).map(|w| [w[0], w[1], w[2]]).collect()
}

fn ends_with_count(sentences: &[String], end: char) -> usize {
    sentences.iter().filter(|s| s.ends_with(end)).count()
}

// ---------------------------------------------------------------- IFBench's sentence splitter

/// `instructions_util.split_into_sentences` of IFBench: a chain of regex rewrites marking abbreviations
/// (`<prd>`) and sentence ends (`<stop>`), then a split on the ends.
pub fn split_into_sentences(text: &str) -> Vec<String> {
    struct Rules {
        prefixes: Regex,
        websites: Regex,
        digits: Regex,
        dots: Regex,
        single: Regex,
        acronym_starter: Regex,
        three_letters: Regex,
        two_letters: Regex,
        suffix_starter: Regex,
        suffix: Regex,
        letter: Regex,
    }
    static RULES: OnceLock<Rules> = OnceLock::new();
    let starters = r"(Mr|Mrs|Ms|Dr|Prof|Capt|Cpt|Lt|He\s|She\s|It\s|They\s|Their\s|Our\s|We\s|But\s|However\s|That\s|This\s|Wherever)";
    let r = RULES.get_or_init(|| {
        let re = |s: &str| Regex::new(s).expect("valid sentence rule");
        Rules {
            prefixes: re("(Mr|St|Mrs|Ms|Dr)[.]"),
            websites: re("[.](com|net|org|io|gov|edu|me)"),
            digits: re("([0-9])[.]([0-9])"),
            dots: re(r"\.{2,}"),
            single: re(r"\s([A-Za-z])[.] "),
            acronym_starter: re(&format!("([A-Z][.][A-Z][.](?:[A-Z][.])?) {starters}")),
            three_letters: re("([A-Za-z])[.]([A-Za-z])[.]([A-Za-z])[.]"),
            two_letters: re("([A-Za-z])[.]([A-Za-z])[.]"),
            suffix_starter: re(&format!(" (Inc|Ltd|Jr|Sr|Co)[.] {starters}")),
            suffix: re(" (Inc|Ltd|Jr|Sr|Co)[.]"),
            letter: re(" ([A-Za-z])[.]"),
        }
    });
    let mut text = format!(" {text}  ").replace('\n', " ");
    text = r.prefixes.replace_all(&text, "${1}<prd>").into_owned();
    text = r.websites.replace_all(&text, "<prd>${1}").into_owned();
    text = r.digits.replace_all(&text, "${1}<prd>${2}").into_owned();
    text = r
        .dots
        .replace_all(&text, |c: &regex::Captures| {
            "<prd>".repeat(c[0].len()) + "<stop>"
        })
        .into_owned();
    text = text.replace("Ph.D.", "Ph<prd>D<prd>");
    text = r.single.replace_all(&text, " ${1}<prd> ").into_owned();
    text = r
        .acronym_starter
        .replace_all(&text, "${1}<stop> ${2}")
        .into_owned();
    text = r
        .three_letters
        .replace_all(&text, "${1}<prd>${2}<prd>${3}<prd>")
        .into_owned();
    text = r
        .two_letters
        .replace_all(&text, "${1}<prd>${2}<prd>")
        .into_owned();
    text = r
        .suffix_starter
        .replace_all(&text, " ${1}<stop> ${2}")
        .into_owned();
    text = r.suffix.replace_all(&text, " ${1}<prd>").into_owned();
    text = r.letter.replace_all(&text, " ${1}<prd>").into_owned();
    let text = text
        .replace(".”", "”.")
        .replace(".\"", "\".")
        .replace("!\"", "\"!")
        .replace("?\"", "\"?")
        .replace('.', ".<stop>")
        .replace('?', "?<stop>")
        .replace('!', "!<stop>")
        .replace("<prd>", ".");
    let mut sentences: Vec<String> = text
        .split("<stop>")
        .map(|s| py_strip(s).to_string())
        .collect();
    if sentences.last().is_some_and(String::is_empty) {
        sentences.pop();
    }
    sentences
}

/// An approximation of `nltk.word_tokenize` (Treebank over Punkt sentences): the punctuation NLTK always
/// splits off is spaced out first ([`nltk_spacing`]), then words with leading / trailing punctuation are
/// split, `n't` and `'s`-style clitics split from their word, an initial (`J.`) kept whole inside the text.
pub fn treebank_tokens(text: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let spaced = nltk_spacing(text);
    let raws: Vec<&str> = py_split(&spaced).collect();
    for (i, raw) in raws.iter().copied().enumerate() {
        if raw == "``" || raw == "''" {
            tokens.push(raw.to_string());
            continue;
        }
        // Punkt reads a single letter with a period inside a text as an initial, not a sentence end.
        let mut chars = raw.chars();
        if let (Some(c), Some('.'), None) = (chars.next(), chars.next(), chars.next()) {
            if c.is_alphabetic() && i + 1 < raws.len() {
                tokens.push(raw.to_string());
                continue;
            }
        }
        let start = raw.len() - raw.trim_start_matches(|c: char| !c.is_alphanumeric()).len();
        let end = raw.trim_end_matches(|c: char| !c.is_alphanumeric()).len();
        if start >= end {
            push_punctuation(&mut tokens, raw);
            continue;
        }
        push_punctuation(&mut tokens, &raw[..start]);
        let core = &raw[start..end];
        match split_clitic(core) {
            Some((word, clitic)) => tokens.extend([word.to_string(), clitic.to_string()]),
            None => tokens.push(core.to_string()),
        }
        push_punctuation(&mut tokens, &raw[end..]);
    }
    tokens
}

/// NLTK's tokenizer rules that split punctuation wherever it stands: `,` and `:` unless a digit follows,
/// `;@#$%&?!*`, brackets, dashes U+2012-U+2015, `--`, typographic quotes; a double quote becomes `` ` ` ``
/// when it opens (at the start, after white space or an opening bracket) and `''` otherwise.
fn nltk_spacing(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let mut chars = text.chars().peekable();
    let mut previous: Option<char> = None;
    while let Some(c) = chars.next() {
        let next = chars.peek().copied();
        match c {
            ',' | ':' if !next.is_some_and(|n| n.is_numeric()) => out.extend([' ', c, ' ']),
            ';'
            | '@'
            | '#'
            | '$'
            | '%'
            | '&'
            | '?'
            | '!'
            | '*'
            | '['
            | ']'
            | '('
            | ')'
            | '{'
            | '}'
            | '<'
            | '>'
            | '«'
            | '»'
            | '“'
            | '”'
            | '‘'
            | '’'
            | '„'
            | '\u{2012}'..='\u{2015}' => out.extend([' ', c, ' ']),
            '-' if next == Some('-') => {
                chars.next();
                out.push_str(" -- ");
            }
            '"' => {
                let opening = previous.map_or(true, |p| p.is_whitespace() || "([{<".contains(p));
                out.push_str(if opening { " `` " } else { " '' " });
            }
            _ => out.push(c),
        }
        previous = Some(c);
    }
    out
}

/// Punctuation as tokens, one per character but for a run of periods (an ellipsis is one token).
fn push_punctuation(tokens: &mut Vec<String>, punctuation: &str) {
    let mut in_dots = false;
    for c in punctuation.chars() {
        match tokens.last_mut() {
            Some(last) if in_dots && c == '.' => last.push(c),
            _ => tokens.push(c.to_string()),
        }
        in_dots = c == '.';
    }
}

// ---------------------------------------------------------------- checks with a loop of their own

fn alphabet_loop(value: &str) -> bool {
    let value = remove_punct(value);
    let words: Vec<&str> = py_split(strip_punct_space(&value)).collect();
    let Some(first) = words.first().and_then(|w| w.chars().next()) else {
        return false;
    };
    let first: String = first.to_lowercase().collect();
    let alphabet = "abcdefghijklmnopqrstuvwxyz";
    // `correct_letter not in alphabet` is a substring test.
    let Some(mut index) = alphabet.find(&first) else {
        return false;
    };
    for word in &words[1..] {
        let word = strip_punct_space(word).to_lowercase();
        let Some(c) = word.chars().next() else {
            continue;
        };
        index = (index + 1) % 26;
        if c != alphabet.as_bytes()[index] as char {
            return false;
        }
    }
    true
}

fn alliteration_increment(value: &str) -> bool {
    let mut previous = -1i64;
    for sentence in split_into_sentences(value) {
        let lower = sentence.to_lowercase();
        let firsts: Vec<char> = py_split(&lower)
            .filter_map(|w| w.trim_start_matches(is_punct_space).chars().next())
            .collect();
        let mut alliteration = 0i64;
        let mut run = false;
        for pair in firsts.windows(2) {
            if pair[0] == pair[1] {
                alliteration += if run { 1 } else { 2 };
                run = true;
            } else {
                run = false;
            }
        }
        if alliteration <= previous {
            return false;
        }
        previous = alliteration;
    }
    true
}

fn punctuation_cover(value: &str) -> bool {
    if !(value.contains("!?") || value.contains("?!") || value.contains('‽')) {
        return false;
    }
    let mut rest = value.replacen("?!", "", 1);
    if rest.len() == value.len() {
        rest = value.replacen("!?", "", 1);
    }
    [".", ",", "!", "?", ";", ":"]
        .iter()
        .all(|p| rest.contains(p))
}

fn nested_parentheses(value: &str) -> bool {
    let mut levels: Vec<char> = Vec::new();
    let mut max_depth = 0;
    for c in value.chars() {
        match c {
            '(' | '[' | '{' => {
                levels.push(c);
                max_depth = max_depth.max(levels.len());
            }
            ')' | ']' | '}' => {
                let open = match c {
                    ')' => '(',
                    ']' => '[',
                    _ => '{',
                };
                if levels.last() == Some(&open) {
                    levels.pop();
                    if max_depth >= 5 && levels.len() < max_depth {
                        return true;
                    }
                } else {
                    levels.clear();
                    max_depth = 0;
                }
            }
            _ => {}
        }
    }
    false
}

fn nested_quotes(value: &str) -> bool {
    let mut levels: Vec<char> = Vec::new();
    let (mut reached, mut current) = (0i64, 0i64);
    for c in value.chars() {
        if levels.last() == Some(&c) {
            levels.pop();
            current -= 1;
            if reached - current >= 3 {
                return true;
            }
        } else if c == '"' || c == '\'' {
            levels.push(c);
            current += 1;
            reached = reached.max(current);
        }
    }
    false
}

fn options(text: &str) -> Check {
    static ABC: OnceLock<Regex> = OnceLock::new();
    let strict = ABC
        .get_or_init(|| Regex::new(r"^\W*[aA]\W*[bB]\W*[cC]\W*").expect("valid"))
        .is_match(text);
    let separator = if text.contains('/') {
        "/"
    } else if text.contains("or") {
        "or"
    } else {
        ","
    };
    Check::Options {
        strict,
        options: text
            .split(separator)
            .map(|o| py_strip(o).to_string())
            .collect(),
    }
}

fn is_emoji(c: char) -> bool {
    EMOJI_CHARS.binary_search(&(c as u32)).is_ok()
}

fn emoji_sentences(value: &str) -> bool {
    let sentences = split_into_sentences(value);
    for (i, sentence) in sentences.iter().enumerate() {
        let cleaned = remove_punct(sentence);
        let chars: Vec<char> = py_strip(&cleaned).chars().collect();
        let Some(&last) = chars.last() else {
            return false;
        };
        let second_last = if chars.len() > 1 {
            chars[chars.len() - 2]
        } else {
            last
        };
        if !is_emoji(last) && !is_emoji(second_last) {
            if i + 1 >= sentences.len() {
                return false;
            }
            let next = remove_punct(&sentences[i + 1]);
            match py_strip(&next).chars().next() {
                Some(first) if is_emoji(first) => {}
                _ => return false,
            }
        }
    }
    true
}

/// The reference removes blank lines with `lines.remove(line)` while iterating over `lines`, which skips
/// the line after each removed one; replayed here as written.
fn line_indent(value: &str) -> bool {
    let mut lines: Vec<&str> = value.split('\n').collect();
    let mut i = 0;
    while i < lines.len() {
        if py_strip(lines[i]).is_empty() {
            let item = lines[i];
            let first = lines.iter().position(|l| *l == item).expect("present");
            lines.remove(first);
        }
        i += 1;
    }
    let indent = |l: &str| l.len() - l.trim_start_matches(' ').len();
    lines.windows(2).all(|w| indent(w[1]) > indent(w[0]))
}

/// `format:quote_unquote` as IFBench has it since Dec 2025: an empty remainder passes (it raised
/// IndexError before); curly quotes are no longer turned into straight ones (the reference's
/// `replace('“', '"')` became `replace('"', '"')`).
fn quote_unquote(value: &str) -> bool {
    let value = value.replace("'\"'", "");
    let value: String = py_split(&value).collect();
    if value.contains("\"\"") {
        return false;
    }
    let stripped =
        value.trim_matches(|c: char| c.is_ascii_digit() || (c != '"' && PUNCT.contains(c)));
    !stripped.ends_with('"')
}

fn thesis(value: &str) -> bool {
    let Some(index) = value.find("<i>").or_else(|| value.find("<em>")) else {
        return false;
    };
    let value = &value[index..];
    let Some(end) = value.find("</i>").or_else(|| value.find("</em>")) else {
        return false;
    };
    let thesis = value.get(3..end).unwrap_or("");
    let after = value.get(end + 4..).unwrap_or("");
    !py_strip(thesis).is_empty() && !py_strip(after).is_empty()
}

fn no_bullets_bullets(value: &str) -> bool {
    // `sentences` starts as True and becomes the list of the last line's sentences (falsy when empty).
    let mut in_sentences = true;
    let mut sentences = 0;
    let mut bullets = 0;
    for line in value.split('\n') {
        if py_strip(line).starts_with('*') {
            in_sentences = false;
            if sentences < 2 {
                return false;
            }
            bullets += 1;
        } else if in_sentences {
            let found = split_into_sentences(py_strip(line));
            sentences += found.len();
            in_sentences = !found.is_empty();
        } else {
            return false;
        }
    }
    bullets >= 2
}

fn mcq_count_length(value: &str) -> bool {
    static SPLIT: OnceLock<Regex> = OnceLock::new();
    static OPTION: OnceLock<Regex> = OnceLock::new();
    let from_question = match value.find("Question") {
        Some(i) => &value[i..],
        None => value.char_indices().last().map_or("", |(i, _)| &value[i..]),
    };
    if from_question != value {
        return false;
    }
    let split =
        SPLIT.get_or_init(|| Regex::new(r"\n*(?:Question \d+[\.|\):;]?\s*)").expect("valid"));
    let option = OPTION.get_or_init(|| Regex::new(r"^[A-Ea-e][\.|\)]\s*\w+").expect("valid"));
    let mut parts: Vec<&str> = split.split(value).collect();
    if parts.first() == Some(&"") {
        parts.remove(0);
    }
    let questions: Vec<&str> = parts
        .iter()
        .map(|q| py_strip(q))
        .filter(|q| !q.is_empty())
        .collect();
    if questions.len() != 4 {
        return false;
    }
    let mut lengths = Vec::new();
    for q in questions {
        let mut text = String::new();
        let mut options = 0;
        let mut done = false;
        for line in q.split('\n') {
            if option.is_match(py_strip(line)) {
                options += 1;
                done = true;
            } else if !done {
                text.push(' ');
                text.push_str(py_strip(line));
            }
        }
        if options != 5 {
            return false;
        }
        lengths.push(py_strip(&text).chars().count());
    }
    lengths.windows(2).all(|w| w[0] < w[1])
}

fn reverse_newline(value: &str) -> bool {
    let lines: Vec<&str> = value
        .split('\n')
        .map(strip_punct_space)
        .filter(|l| !l.is_empty())
        .collect();
    let Some(start) = lines.iter().position(|l| l.contains("Zimbabwe")) else {
        return false;
    };
    let target: Vec<String> = lines[start..].iter().map(|l| ascii_fold(l)).collect();
    target.len() >= 52 && target.windows(2).all(|w| w[0] >= w[1])
}

/// Python's `csv.reader` (default dialect but for the delimiter, `strict=False`) over `io.StringIO`
/// lines; `None` where the reference raises `csv.Error`.
fn csv_rows(value: &str, delimiter: char) -> Option<Vec<Vec<String>>> {
    #[derive(PartialEq, Clone, Copy)]
    enum State {
        StartRecord,
        StartField,
        InField,
        InQuoted,
        QuoteInQuoted,
        EatCrnl,
    }
    use State::*;
    let mut rows = Vec::new();
    let mut lines = value.split_inclusive('\n').peekable();
    loop {
        let mut state = StartRecord;
        let mut fields: Vec<String> = Vec::new();
        let mut field = String::new();
        let mut any_line = false;
        loop {
            let Some(line) = lines.next() else {
                if !any_line {
                    return Some(rows);
                }
                // End of input inside a record: keep the partial field (strict=False).
                if !field.is_empty() || state == InQuoted {
                    fields.push(std::mem::take(&mut field));
                }
                rows.push(fields);
                return Some(rows);
            };
            any_line = true;
            // `None` is the end-of-line marker the C reader feeds after each line.
            for c in line.chars().map(Some).chain([None]) {
                if c == Some('\0') {
                    return None;
                }
                let newline = matches!(c, Some('\n' | '\r'));
                let eol = c.is_none();
                let after_record = |eol: bool| if eol { StartRecord } else { EatCrnl };
                if state == StartRecord {
                    if eol {
                        continue; // an empty line: an empty row
                    }
                    if newline {
                        state = EatCrnl;
                        continue;
                    }
                    state = StartField;
                }
                match state {
                    StartRecord | StartField => {
                        if newline || eol {
                            fields.push(std::mem::take(&mut field));
                            state = after_record(eol);
                        } else if c == Some('"') {
                            state = InQuoted;
                        } else if c == Some(delimiter) {
                            fields.push(std::mem::take(&mut field));
                            state = StartField;
                        } else {
                            field.extend(c);
                            state = InField;
                        }
                    }
                    InField => {
                        if newline || eol {
                            fields.push(std::mem::take(&mut field));
                            state = after_record(eol);
                        } else if c == Some(delimiter) {
                            fields.push(std::mem::take(&mut field));
                            state = StartField;
                        } else {
                            field.extend(c);
                        }
                    }
                    InQuoted => {
                        if c == Some('"') {
                            state = QuoteInQuoted;
                        } else if !eol {
                            field.extend(c);
                        }
                    }
                    QuoteInQuoted => {
                        if c == Some('"') {
                            field.push('"');
                            state = InQuoted;
                        } else if c == Some(delimiter) {
                            fields.push(std::mem::take(&mut field));
                            state = StartField;
                        } else if newline || eol {
                            fields.push(std::mem::take(&mut field));
                            state = after_record(eol);
                        } else {
                            field.extend(c);
                            state = InField;
                        }
                    }
                    EatCrnl => {
                        if eol {
                            state = StartRecord;
                        } else if !newline {
                            return None; // "new-line character seen in unquoted field"
                        }
                    }
                }
            }
            if state == StartRecord {
                break;
            }
        }
        rows.push(fields);
    }
}

fn csv_special_character(value: &str) -> bool {
    static HEADER: OnceLock<Regex> = OnceLock::new();
    static SPECIAL: OnceLock<Regex> = OnceLock::new();
    let header = HEADER.get_or_init(|| {
        Regex::new(r#"^(ProductID|"ProductID"),[ \t]*(Category|"Category"),[ \t]*(Brand|"Brand"),[ \t]*(Price|"Price"),[ \t]*(Stock|"Stock")$"#)
            .expect("valid")
    });
    let special = SPECIAL.get_or_init(|| Regex::new(r#"^".*[^\d\w\s].*""#).expect("valid"));
    if !header.is_match(py_strip(value.split('\n').next().unwrap_or(""))) {
        return false;
    }
    let Some(rows) = csv_rows(&value.replace('"', "\"\"\""), ',') else {
        return false;
    };
    if rows.len() != 15 {
        return false;
    }
    for row in &rows[1..] {
        if row.len() != 5 {
            return false;
        }
        if row.iter().any(|f| special.is_match(f)) {
            return true;
        }
    }
    false
}

fn csv_quotes(value: &str) -> bool {
    static HEADER: OnceLock<Regex> = OnceLock::new();
    let header = HEADER.get_or_init(|| {
        Regex::new(r#"^(StudentID|"StudentID")\t *(Subject|"Subject")\t *(Grade|"Grade")\t *(Semester|"Semester")\t *(Score|"Score")$"#)
            .expect("valid")
    });
    if !header.is_match(py_strip(value.split('\n').next().unwrap_or(""))) {
        return false;
    }
    let Some(rows) = csv_rows(&value.replace('"', "\"\"\""), '\t') else {
        return false;
    };
    rows.len() == 4
        && rows.iter().all(|row| {
            row.len() == 5
                && row.iter().all(|f| {
                    // An empty field raises IndexError in the reference.
                    let f = py_strip(f);
                    f.starts_with('"') && f.ends_with('"')
                })
        })
}

fn valid_date(date: &str) -> bool {
    let b = date.as_bytes();
    let shape = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !shape {
        return false;
    }
    let num = |r: std::ops::Range<usize>| date[r].parse::<u32>().unwrap_or(0);
    let (year, month, day) = (num(0..4), num(5..7), num(8..10));
    if !(1769..=1821).contains(&year) || month > 12 {
        return false;
    }
    let max_day = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 => 29,
        _ => u32::MAX, // month 00 is not checked by the reference
    };
    day <= max_day
}

// ---------------------------------------------------------------- syllables (syllapy)

fn syllable_dict() -> &'static HashMap<&'static str, i64> {
    static DICT: OnceLock<HashMap<&'static str, i64>> = OnceLock::new();
    DICT.get_or_init(|| {
        include_str!("syllapy_words.csv")
            .lines()
            .filter_map(|line| {
                let (word, n) = line.rsplit_once(',')?;
                Some((word, n.trim().parse().ok()?))
            })
            .collect()
    })
}

/// `syllapy.count`: syllapy's word list, else a compound split on `-`, else its vowel-group rule.
pub fn syllables(word: &str) -> i64 {
    let lower = py_strip(word).to_lowercase();
    let word = lower.trim_matches(|c: char| PUNCT.contains(c));
    if word.is_empty() || digits_regex().is_match(word) {
        return 0;
    }
    if let Some(&n) = syllable_dict().get(word) {
        return n;
    }
    if let Some((a, b)) = word
        .split_once('-')
        .filter(|(a, b)| !a.is_empty() && !b.is_empty())
    {
        let (s1, s2) = (syllables(a), syllables(b));
        return if s1 == 0 || s2 == 0 { 0 } else { s1 + s2 };
    }
    let vowel = |c: char| "aeiouy".contains(c);
    let chars: Vec<char> = word.chars().collect();
    let mut count = i64::from(vowel(chars[0]));
    count += chars
        .windows(2)
        .filter(|w| vowel(w[1]) && !vowel(w[0]))
        .count() as i64;
    if word.ends_with('e') {
        count -= 1;
    }
    if word.ends_with("le") && chars.len() > 2 && !vowel(chars[chars.len() - 3]) {
        count += 1;
    }
    if count == 0 {
        1
    } else {
        count
    }
}

// ---------------------------------------------------------------- word lists

/// NLTK's English stop words (`nltk.corpus.stopwords.words("english")`).
#[rustfmt::skip]
const STOPWORDS: &[&str] = &[
    "i", "me", "my", "myself", "we", "our", "ours", "ourselves", "you", "you're", "you've",
    "you'll", "you'd", "your", "yours", "yourself", "yourselves", "he", "him", "his", "himself",
    "she", "she's", "her", "hers", "herself", "it", "it's", "its", "itself", "they", "them",
    "their", "theirs", "themselves", "what", "which", "who", "whom", "this", "that", "that'll",
    "these", "those", "am", "is", "are", "was", "were", "be", "been", "being", "have", "has", "had",
    "having", "do", "does", "did", "doing", "a", "an", "the", "and", "but", "if", "or", "because",
    "as", "until", "while", "of", "at", "by", "for", "with", "about", "against", "between", "into",
    "through", "during", "before", "after", "above", "below", "to", "from", "up", "down", "in",
    "out", "on", "off", "over", "under", "again", "further", "then", "once", "here", "there",
    "when", "where", "why", "how", "all", "any", "both", "each", "few", "more", "most", "other",
    "some", "such", "no", "nor", "not", "only", "own", "same", "so", "than", "too", "very", "s",
    "t", "can", "will", "just", "don", "don't", "should", "should've", "now", "d", "ll", "m", "o",
    "re", "ve", "y", "ain", "aren", "aren't", "couldn", "couldn't", "didn", "didn't", "doesn",
    "doesn't", "hadn", "hadn't", "hasn", "hasn't", "haven", "haven't", "isn", "isn't", "ma",
    "mightn", "mightn't", "mustn", "mustn't", "needn", "needn't", "shan", "shan't", "shouldn",
    "shouldn't", "wasn", "wasn't", "weren", "weren't", "won", "won't", "wouldn", "wouldn't",
];

#[rustfmt::skip]
const PRONOUNS: &[&str] = &[
    "i", "me", "we", "us", "you", "he", "him", "she", "her", "it", "they", "them",
    "my", "mine", "our", "ours", "your", "yours", "his", "hers", "its", "their", "theirs",
    "myself", "ourselves", "yourself", "yourselves", "himself", "herself", "itself", "themselves",
    "this", "that", "these", "those", "who", "whom", "whose", "which", "what",
    "whoever", "whomever", "whatever", "whichever",
    "anybody", "anyone", "anything", "everybody", "everyone", "everything",
    "nobody", "nothing", "somebody", "someone", "something",
    "each", "either", "neither", "both", "all", "some", "any", "none",
];

#[rustfmt::skip]
const PERSON_NAMES: &[&str] = &[
    "Emma", "Liam", "Sophia", "Jackson", "Olivia", "Noah", "Ava", "Lucas", "Isabella", "Mason",
    "Mia", "Ethan", "Charlotte", "Alexander", "Amelia", "Benjamin", "Harper", "Leo", "Zoe",
    "Daniel", "Chloe", "Samuel", "Lily", "Matthew", "Grace", "Owen", "Abigail", "Gabriel", "Ella",
    "Jacob", "Scarlett", "Nathan", "Victoria", "Elijah", "Layla", "Nicholas", "Audrey", "David",
    "Hannah", "Christopher", "Penelope", "Thomas", "Nora", "Andrew", "Aria", "Joseph", "Claire",
    "Ryan", "Stella", "Jonathan",
];

#[rustfmt::skip]
const CAPITALS: &[&str] = &[
    "Reykjavik", "Helsinki", "Oslo", "Tallinn", "Stockholm", "Riga", "Moscow", "Copenhagen",
    "Vilnius", "Minsk", "Dublin", "Berlin", "Amsterdam", "Warsaw", "London", "Brussels", "Prague",
    "Luxembourg", "Paris", "Vienna", "Bratislava", "Budapest", "Vaduz", "Chisinau", "Bern",
    "Ljubljana", "Zagreb",
];

/// Common English verbs (base forms), standing in for NLTK's POS tagger in `words:start_verb`.
#[rustfmt::skip]
const VERBS: &[&str] = &[
    "be", "have", "do", "say", "go", "get", "make", "know", "think", "take", "see", "come", "want",
    "look", "use", "find", "give", "tell", "work", "call", "try", "ask", "need", "feel", "become",
    "leave", "put", "mean", "keep", "let", "begin", "seem", "help", "talk", "turn", "start", "show",
    "hear", "play", "run", "move", "like", "live", "believe", "hold", "bring", "happen", "write",
    "provide", "sit", "stand", "lose", "pay", "meet", "include", "continue", "set", "learn",
    "change", "lead", "understand", "watch", "follow", "stop", "create", "speak", "read", "allow",
    "add", "spend", "grow", "open", "walk", "win", "offer", "remember", "love", "consider",
    "appear", "buy", "wait", "serve", "die", "send", "expect", "build", "stay", "fall", "cut",
    "reach", "kill", "remain", "suggest", "raise", "pass", "sell", "require", "report", "decide",
    "pull", "imagine", "explain", "describe", "list", "write", "compare", "discuss", "consider",
    "choose", "check", "note", "ensure", "avoid", "join", "enjoy", "discover", "explore", "picture",
    "plan", "prepare", "review",
];

fn is_verb(token: &str) -> bool {
    if VERBS.contains(&token)
        || [
            "is", "are", "was", "were", "am", "been", "has", "had", "did", "does",
        ]
        .contains(&token)
    {
        return true;
    }
    let stems = [
        token.strip_suffix("ing"),
        token.strip_suffix("ed"),
        token.strip_suffix('d'),
        token.strip_suffix("es"),
        token.strip_suffix('s'),
    ];
    stems.iter().flatten().any(|stem| {
        // running -> run, stopped -> stop, making -> make
        let mut chars = stem.chars().rev();
        let undoubled = match (chars.next(), chars.next()) {
            (Some(a), Some(b)) if a == b => stem.strip_suffix(a).unwrap_or(stem),
            _ => stem,
        };
        [*stem, undoubled, &format!("{stem}e")]
            .iter()
            .any(|s| VERBS.contains(s))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(id: &str, kwargs: serde_json::Value, value: &str) -> bool {
        let kwargs = kwargs.as_object().cloned().unwrap_or_default();
        Check::build(id, &kwargs).unwrap().unwrap().check(value)
    }

    #[test]
    fn sentence_splitter_matches_ifbench_rules() {
        assert_eq!(
            split_into_sentences("Mr. Smith went to Washington. He liked it! Did he?"),
            ["Mr. Smith went to Washington.", "He liked it!", "Did he?"]
        );
        assert_eq!(
            split_into_sentences("It costs 3.50 now. Ok"),
            ["It costs 3.50 now.", "Ok"]
        );
        assert_eq!(split_into_sentences("Wait... what?"), ["Wait...", "what?"]);
        assert_eq!(
            split_into_sentences("See www.site.com today."),
            ["See www.", "site.com today."]
        );
        assert_eq!(
            split_into_sentences("He said \"stop.\" Go."),
            ["He said \"stop\".", "Go."]
        );
        assert!(split_into_sentences("").is_empty());
    }

    #[test]
    fn csv_reader_follows_python() {
        assert_eq!(
            csv_rows("a,\"b,c\"\n\nd", ',').unwrap(),
            vec![vec!["a", "b,c"], vec![], vec!["d"]]
        );
        assert_eq!(
            csv_rows("\"x\ny\",z\n", ',').unwrap(),
            vec![vec!["x\ny", "z"]]
        );
        assert!(csv_rows("a\rb", ',').is_none());
    }

    #[test]
    fn syllables_use_syllapy_words_and_rule() {
        assert_eq!(syllables("hello"), 2);
        assert_eq!(
            syllables("self-care"),
            syllables("self") + syllables("care")
        );
        assert_eq!(syllables("zzzqle"), 1 + 1 - 1);
        assert_eq!(syllables("a1"), 0);
    }

    #[test]
    fn checks_follow_the_reference() {
        use serde_json::json;
        assert!(check("count:numbers", json!({"N": 2}), "1,000 and 2.5"));
        assert!(check(
            "words:alphabet",
            json!({}),
            "Apples bake cold, delicious eggs"
        ));
        assert!(!check("words:alphabet", json!({}), "Apples cake"));
        assert!(check("format:parentheses", json!({}), "((([{(x)}])))"));
        assert!(!check("format:parentheses", json!({}), "((([x]))"));
        assert!(check("format:quotes", json!({}), "\"a 'b \"c\" b' a\""));
        assert!(check(
            "count:punctuation",
            json!({}),
            "a. b, c; d: e?! f! g?"
        ));
        assert!(check("format:line_indent", json!({}), "a\n b\n  c"));
        assert!(!check("format:line_indent", json!({}), "a\n b\n c"));
        assert!(check("custom:multiples", json!({}), "14,21,28,35,42,49"));
        assert!(check(
            "custom:date_format_list",
            json!({}),
            "1776-07-04, 1800-02-29"
        ));
        assert!(!check("custom:date_format_list", json!({}), "1776-04-31"));
        assert!(check(
            "format:options",
            json!({"options": "yes/no"}),
            "Yes."
        ));
        assert!(check("format:emoji", json!({}), "Hi there 😀. Bye 👋!"));
        assert!(!check("format:emoji", json!({}), "Hi there. Bye 👋!"));
        assert!(check("words:start_verb", json!({}), "Imagine a world."));
        assert!(!check("words:start_verb", json!({}), "The world."));
        assert!(check("format:no_whitespace", json!({}), "no_space"));
    }

    /// IFBench's changes since `if-verifiable` 0.1.2, one case (or more) each, labelled by running
    /// IFBench db69a6f's `check_following` (with the NLTK stand-ins of `scripts/make_rewards_corpus.py`);
    /// the comment gives 0.1.2's verdict where it differs.
    #[test]
    fn ifbench_changes_since_if_verifiable_0_1_2() {
        use serde_json::json;
        let cat = json!({"keyword": "cat"});
        // words_position: case-insensitive; a final punctuation token is not the last word.
        assert!(!check(
            "words:words_position",
            cat.clone(),
            "A cat sat by the cat."
        )); // 0.1.2: true
        assert!(check(
            "words:words_position",
            cat.clone(),
            "A Cat sat by the CAT dog."
        )); // 0.1.2: false
        assert!(check(
            "words:words_position",
            cat.clone(),
            "A cat sat by cat dog."
        )); // 0.1.2: false
        assert!(check(
            "words:words_position",
            cat.clone(),
            "A cat sat by the cat dog"
        ));
        assert!(!check("words:words_position", cat, "cat."));
        // keywords_specific_position: case-insensitive; punctuation tokens are not words.
        let dog = json!({"keyword": "dog", "n": 2, "m": 3});
        let position = "words:keywords_specific_position";
        assert!(check(
            position,
            dog.clone(),
            "One sentence here. The big DOG barked."
        )); // 0.1.2: false
        assert!(check(
            position,
            dog,
            "One sentence here. The, big dog barked."
        )); // 0.1.2: false
            // title_case: a lone lower-case letter fails; tokens not starting with a letter are skipped.
        assert!(!check("format:title_case", json!({}), "Cats And a Dog")); // 0.1.2: true
        assert!(check("format:title_case", json!({}), "Cats And I"));
        assert!(check(
            "format:title_case",
            json!({}),
            "Hello, World! 42nd Street"
        ));
        // quote_unquote: an empty remainder passes; curly quotes are not normalised.
        assert!(check("format:quote_unquote", json!({}), "...")); // 0.1.2: IndexError
        assert!(check("format:quote_unquote", json!({}), "He said “hi” ”")); // 0.1.2: false
        assert!(check("format:quote_unquote", json!({}), "“a”“b” c")); // 0.1.2: false
        assert!(!check("format:quote_unquote", json!({}), "He said \"hi\""));
        // sentence:keyword: the keyword as a whole word, case-insensitively.
        let keyword = json!({"word": "cat", "N": 2});
        assert!(!check(
            "sentence:keyword",
            keyword.clone(),
            "First one. The cats sleep."
        )); // 0.1.2: true
        assert!(check("sentence:keyword", keyword, "First one. A CAT!"));
        // person_names: whole words.
        assert!(!check(
            "count:person_names",
            json!({"N": 2}),
            "Emmanuel met Liam."
        )); // 0.1.2: true
        assert!(!check(
            "count:person_names",
            json!({"N": 1}),
            "Leonardo and Avalon."
        )); // 0.1.2: true
        assert!(check(
            "count:person_names",
            json!({"N": 2}),
            "Emma met Liam."
        ));
        // pronouns: demonstrative, interrogative and indefinite pronouns count too.
        assert!(check(
            "count:pronouns",
            json!({"N": 3}),
            "This is what everyone wants."
        )); // 0.1.2: false
        assert!(check("count:pronouns", json!({"N": 3}), "It's hers/his."));
        // repeat_span: character indices, the end inclusive.
        let span = |start: i64, end: i64| json!({"prompt_to_repeat": "one two three four", "n_start": start, "n_end": end});
        assert!(check("repeat:repeat_span", span(4, 12), "Two three")); // 0.1.2: false
        assert!(!check("repeat:repeat_span", span(1, 3), "two three")); // 0.1.2: true
        let accented = json!({"prompt_to_repeat": "héllo wörld", "n_start": 0, "n_end": 4});
        assert!(check("repeat:repeat_span", accented, "HÉLLO")); // 0.1.2: false
                                                                 // sentence_alphabet: only a guard against a crash.
        assert!(!check(
            "custom:sentence_alphabet",
            json!({}),
            "Apples. Bears."
        ));
    }

    #[test]
    fn nltk_equivalents_on_hand_written_cases() {
        use serde_json::json;
        // Treebank tokens: punctuation and clitics are tokens of their own.
        assert_eq!(
            treebank_tokens("I don't know, (really)."),
            ["I", "do", "n't", "know", ",", "(", "really", ")", "."]
        );
        assert!(check(
            "format:title_case",
            json!({}),
            "The Quick Brown Fox."
        ));
        assert!(!check(
            "format:title_case",
            json!({}),
            "The quick Brown Fox."
        ));
        assert!(check(
            "words:words_position",
            json!({"keyword": "cat"}),
            "A cat sat by cat dog."
        ));
        assert!(!check(
            "words:words_position",
            json!({"keyword": "cat"}),
            "A cat sat by the dog."
        ));
        assert!(check(
            "words:keywords_specific_position",
            json!({"keyword": "dog", "n": 2, "m": 3}),
            "One sentence here. The big dog barked."
        ));
        assert!(!check(
            "words:keywords_specific_position",
            json!({"keyword": "dog", "n": 1, "m": 3}),
            "One sentence here. The big dog barked."
        ));
        // 3 of the 5 words are stop words: 60%.
        assert!(check(
            "ratio:stop_words",
            json!({"percentage": 60}),
            "The cat and the dog"
        ));
        assert!(!check(
            "ratio:stop_words",
            json!({"percentage": 59}),
            "The cat and the dog"
        ));
        assert!(check(
            "words:start_verb",
            json!({}),
            "Running fast, she won."
        ));
    }

    #[test]
    fn ifbench_rows_go_through_the_ifeval_registry() {
        use crate::{Mode, Options, Status};
        let gt = r#"{"instruction_id_list": ["count:numbers", "punctuation:no_comma"], "kwargs": [{"N": 2}, {}]}"#;
        let strict = Options {
            mode: Mode::Strict,
            ..Options::default()
        };
        let verdict = super::super::verify("I have 2 cats and 3 dogs", gt, None, &strict).unwrap();
        assert_eq!(verdict.status, Status::Correct);
        let verdict =
            super::super::verify("Sure:\nI have 2 cats and 3 dogs", gt, None, &strict).unwrap();
        assert_eq!(verdict.status, Status::Correct); // "Sure" has no number
        let gt = r#"{"instruction_id_list": ["format:no_whitespace"], "kwargs": [{}]}"#;
        let verdict = super::super::verify("Answer:\nnospaces", gt, None, &strict).unwrap();
        assert_eq!(verdict.status, Status::Wrong);
        let loose = Options {
            mode: Mode::Loose,
            ..Options::default()
        };
        let verdict = super::super::verify("Answer:\nnospaces", gt, None, &loose).unwrap();
        assert_eq!(verdict.status, Status::Correct);
    }
}
