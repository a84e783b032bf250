//! Sentence and word tokenisation standing in for NLTK's punkt and `word_tokenize`.
//!
//! IFEval counts sentences with punkt's pretrained English model and capital words with
//! `nltk.word_tokenize`; their data files cannot be shipped here, so these follow punkt's first-pass rules:
//! a token ending in `.`, `?` or `!` (possibly followed by closing quotes or brackets) ends a sentence,
//! unless it is a known abbreviation, a single-letter initial, or a number like `3.` inside an enumeration
//! line. Newlines alone do not end a sentence (as in punkt).

const ABBREVIATIONS: [&str; 40] = [
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "etc", "e.g", "i.e", "inc", "ltd",
    "co", "corp", "no", "fig", "figs", "approx", "dept", "est", "jan", "feb", "mar", "apr", "jun",
    "jul", "aug", "sep", "sept", "oct", "nov", "dec", "u.s", "u.k", "a.m", "p.m", "ph.d", "al",
];

fn ends_sentence(token: &str) -> bool {
    let core = token.trim_end_matches(['"', '\'', ')', ']', '”', '’', '*']);
    let Some(last) = core.chars().last() else {
        return false;
    };
    if last == '?' || last == '!' {
        return true;
    }
    if last != '.' {
        return false;
    }
    let word = core
        .trim_end_matches('.')
        .trim_start_matches(['"', '\'', '(', '[', '“', '‘', '*']);
    if word.is_empty() {
        return core.len() > 1; // an ellipsis on its own
    }
    let lower = word.to_lowercase();
    if ABBREVIATIONS.contains(&lower.as_str()) {
        return false;
    }
    let mut chars = word.chars();
    let single_letter = chars.next().is_some_and(char::is_alphabetic) && chars.next().is_none();
    !single_letter
}

/// Number of sentences in `text`.
pub fn count_sentences(text: &str) -> usize {
    let mut count = 0;
    let mut open = false;
    for line in text.split('\n') {
        let tokens: Vec<&str> = line.split_whitespace().collect();
        for (i, token) in tokens.iter().enumerate() {
            // "1." opening a list line is an enumeration marker, not a sentence.
            if i == 0
                && token
                    .strip_suffix('.')
                    .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            {
                continue;
            }
            open = true;
            if ends_sentence(token) {
                count += 1;
                open = false;
            }
        }
    }
    count + usize::from(open)
}

/// A word and its clitic, as Treebank splits them: `DON'T` -> `DO` + `N'T`, `cat's` -> `cat` + `'s`
/// (cut before `n't`, else before the last apostrophe; never at the start of the word).
pub fn split_clitic(core: &str) -> Option<(&str, &str)> {
    let last_three = core.char_indices().rev().nth(2).map(|(i, _)| i);
    if let Some(i) = last_three.filter(|&i| i > 0) {
        if core[i..].eq_ignore_ascii_case("n't") {
            return Some(core.split_at(i));
        }
    }
    core.rfind('\'')
        .filter(|&i| i > 0)
        .map(|i| core.split_at(i))
}

/// Python's `str.isupper`: at least one cased character and no lowercase one.
pub fn py_isupper(s: &str) -> bool {
    s.chars().any(char::is_uppercase) && !s.chars().any(char::is_lowercase)
}

/// Python's `str.islower`.
pub fn py_islower(s: &str) -> bool {
    s.chars().any(char::is_lowercase) && !s.chars().any(char::is_uppercase)
}

/// Treebank-style tokens (as `nltk.word_tokenize`): punctuation split off words, contractions split
/// (`DON'T` -> `DO`, `N'T`). Punctuation-only tokens are dropped; they are never upper case.
pub fn word_tokens(text: &str) -> Vec<&str> {
    let mut tokens = Vec::new();
    for raw in text.split_whitespace() {
        let core = raw.trim_matches(|c: char| !c.is_alphanumeric());
        if core.is_empty() {
            continue;
        }
        match split_clitic(core) {
            Some((word, clitic)) => tokens.extend([word, clitic]),
            None => tokens.push(core),
        }
    }
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences() {
        assert_eq!(count_sentences("Hello there. How are you? Fine!"), 3);
        assert_eq!(
            count_sentences("Mr. Smith went to Washington. He liked it."),
            2
        );
        assert_eq!(count_sentences("It costs 3.50 dollars. Cheap"), 2);
        assert_eq!(count_sentences("He said \"stop.\" Then he left."), 2);
        assert_eq!(count_sentences("A title\n\nNo period here"), 1);
        assert_eq!(count_sentences("1. First item.\n2. Second item."), 2);
        assert_eq!(count_sentences("J. R. R. Tolkien wrote books. Many."), 2);
        assert_eq!(count_sentences("Wait... what?"), 2);
        assert_eq!(count_sentences(""), 0);
    }

    #[test]
    fn capital_words() {
        let tokens = word_tokens("I DON'T KNOW, (REALLY) maybe.");
        assert_eq!(tokens, ["I", "DO", "N'T", "KNOW", "REALLY", "maybe"]);
        assert_eq!(tokens.iter().filter(|t| py_isupper(t)).count(), 5);
    }
}
