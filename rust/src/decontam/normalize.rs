//! The text normalizer shared by both sides of decontamination (benchmark and training).
//!
//! Version 1: Unicode NFKC, then lowercase, then every character that is neither alphanumeric nor a
//! combining mark (punctuation, symbols, control characters) becomes a space, then whitespace runs collapse
//! to one space and the ends are trimmed. Tokens are the words of the normalized text on Unicode (UAX #29)
//! word boundaries. Changing any of this changes which n-grams match, so it must bump `NORMALIZER_VERSION`
//! (saved indexes record it and are refused by a different version).

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;
use unicode_segmentation::UnicodeSegmentation;

pub const NORMALIZER_VERSION: u32 = 1;

/// The normalized text: NFKC, lowercase, punctuation and symbols removed, whitespace collapsed.
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending_space = false;
    for c in text.nfkc().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() || is_combining_mark(c) {
            if pending_space && !out.is_empty() {
                out.push(' ');
            }
            pending_space = false;
            out.push(c);
        } else {
            pending_space = true;
        }
    }
    out
}

/// The word tokens of `text` after normalization.
pub fn tokenize(text: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    for_each_token(text, |token| tokens.push(token.to_owned()));
    tokens
}

/// Calls `f` on each token of `text`, in order, without allocating per token.
///
/// ASCII text takes a fast path: NFKC is the identity on ASCII and, once punctuation is gone, UAX #29 joins
/// letters and digits into one word and splits on spaces, so a token is a maximal run of ASCII alphanumerics,
/// lowercased. The tests check that both paths agree.
pub fn for_each_token(text: &str, mut f: impl FnMut(&str)) {
    if text.is_ascii() {
        for_each_ascii_token(text.as_bytes(), &mut f);
    } else {
        let normalized = normalize(text);
        for word in normalized.unicode_words() {
            f(word);
        }
    }
}

fn for_each_ascii_token(bytes: &[u8], f: &mut impl FnMut(&str)) {
    let mut word = [0u8; 64];
    let mut long_word: Vec<u8> = Vec::new();
    let mut len = 0usize;
    let mut flush = |word: &[u8; 64], long_word: &mut Vec<u8>, len: &mut usize| {
        if *len > 0 {
            let bytes = if *len <= word.len() {
                &word[..*len]
            } else {
                &long_word[..]
            };
            // Only ASCII alphanumerics were copied in, so the bytes are valid UTF-8.
            f(std::str::from_utf8(bytes).unwrap_or_default());
            *len = 0;
            long_word.clear();
        }
    };
    for &b in bytes {
        if b.is_ascii_alphanumeric() {
            let lower = b.to_ascii_lowercase();
            if len < word.len() {
                word[len] = lower;
            } else {
                if len == word.len() {
                    long_word.extend_from_slice(&word);
                }
                long_word.push(lower);
            }
            len += 1;
        } else {
            flush(&word, &mut long_word, &mut len);
        }
    }
    flush(&word, &mut long_word, &mut len);
}

/// Tokens through the general (non-ASCII) path only; for tests of the fast path.
#[cfg(test)]
fn tokenize_general(text: &str) -> Vec<String> {
    normalize(text).unicode_words().map(str::to_owned).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Golden cases: changing any expected value here means bumping NORMALIZER_VERSION.
    const GOLDEN: &[(&str, &str)] = &[
        ("Hello, World!", "hello world"),
        (
            "  Natalia sold clips to 48 of her friends in April.  ",
            "natalia sold clips to 48 of her friends in april",
        ),
        ("x^2 + 3x = 10", "x 2 3x 10"),
        ("don't stop", "don t stop"),
        ("ﬁnance ＡＢＣ １２３", "finance abc 123"),
        ("Straße İstanbul ΣΊΣΥΦΟΣ", "straße i̇stanbul σίσυφοσ"),
        ("tab\tnew\nline\r\nend", "tab new line end"),
        ("naïve café", "naïve café"),
        ("snake_case-and.dots", "snake case and dots"),
        ("emoji 🎉 gone", "emoji gone"),
        ("", ""),
        ("!!! ...", ""),
    ];

    #[test]
    fn golden_normalization() {
        for (input, expected) in GOLDEN {
            assert_eq!(normalize(input), *expected, "input {input:?}");
        }
    }

    #[test]
    fn golden_tokens() {
        assert_eq!(
            tokenize("What is 2+2? It's 4."),
            ["what", "is", "2", "2", "it", "s", "4"]
        );
        assert_eq!(
            tokenize("北京 是 中国的首都"),
            ["北", "京", "是", "中", "国", "的", "首", "都"]
        );
        assert_eq!(tokenize("नमस्ते दुनिया"), ["नमस्ते", "दुनिया"]);
        assert_eq!(tokenize("ＦＵＬＬ　ＷＩＤＴＨ"), ["full", "width"]);
        assert!(tokenize("").is_empty());
        assert!(tokenize(" \n\t ").is_empty());
    }

    #[test]
    fn ascii_fast_path_matches_general_path() {
        let alphabet = b"aZ09 _-.,'\"\t\n!?()[]{}<>/\\|@#$%^&*+=~`:;bQx";
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..3000 {
            let mut text = String::new();
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let len = (state % 200) as usize;
            for _ in 0..len {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                text.push(alphabet[(state % alphabet.len() as u64) as usize] as char);
            }
            assert_eq!(tokenize(&text), tokenize_general(&text), "text {text:?}");
        }
    }

    #[test]
    fn very_long_ascii_word() {
        let word = "A".repeat(1000);
        let text = format!("x {word} y");
        assert_eq!(
            tokenize(&text),
            ["x".to_owned(), word.to_lowercase(), "y".to_owned()]
        );
        assert_eq!(tokenize(&text), tokenize_general(&text));
    }
}
