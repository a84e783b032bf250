//! GSM8K: the last number in the response, compared numerically with the gold number.
//!
//! Commas between digit groups are dropped, a leading `$` and a trailing `.` are not part of the number,
//! and the comparison is on the decimal value (`18.0` equals `18`; open-instruct compares strings).
//! Numbers of any length compare exactly (as canonical digit strings, never through f64). Digits are
//! ASCII `0-9`; a minus sign is `-` or the Unicode minus `−`, which models print too.

use super::Verdict;
use regex::Regex;
use std::sync::OnceLock;

fn number_pattern() -> &'static Regex {
    static PATTERN: OnceLock<Regex> = OnceLock::new();
    PATTERN.get_or_init(|| {
        Regex::new(r"([-−])?\$?([0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(\.[0-9]+)?")
            .expect("valid number pattern")
    })
}

/// Numbers in `text`, in canonical form (see [`canonical_decimal`]).
pub fn numbers(text: &str) -> Vec<String> {
    number_pattern()
        .captures_iter(text)
        .map(|caps| {
            let whole = caps.get(0).expect("group 0 always matches");
            // "3-5" is a range, not minus five: a sign only counts after a non-word character.
            let signed = caps.get(1).is_some()
                && !text[..whole.start()]
                    .chars()
                    .next_back()
                    .is_some_and(|c| c.is_alphanumeric());
            let digits = caps[2].replace(',', "");
            let fraction = caps.get(3).map_or("", |m| m.as_str());
            canonical_decimal(signed, &digits, fraction.trim_start_matches('.'))
        })
        .collect()
}

/// `-0012.500` -> `-12.5`; `-0` -> `0`.
pub fn canonical_decimal(negative: bool, integer: &str, fraction: &str) -> String {
    let integer = integer.trim_start_matches('0');
    let fraction = fraction.trim_end_matches('0');
    let integer = if integer.is_empty() { "0" } else { integer };
    let body = if fraction.is_empty() {
        integer.to_string()
    } else {
        format!("{integer}.{fraction}")
    };
    if negative && body != "0" {
        format!("-{body}")
    } else {
        body
    }
}

pub fn verify(response: &str, ground_truth: &str) -> Verdict {
    let Some(gold) = numbers(ground_truth).pop() else {
        // Non-numeric gold: fall back to an exact comparison of the trimmed strings.
        let answer = response.trim();
        return Verdict::new(answer == ground_truth.trim(), Some(answer.to_string()));
    };
    match numbers(response).pop() {
        Some(answer) => Verdict::new(answer == gold, Some(answer)),
        None => Verdict::with_status(super::Status::Unparseable),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Status;

    fn status(response: &str, gold: &str) -> Status {
        verify(response, gold).status
    }

    #[test]
    fn reads_the_last_number() {
        assert_eq!(status("3 + 15 = 18", "18"), Status::Correct);
        assert_eq!(status("18 apples, minus 1 is 17", "18"), Status::Wrong);
        assert_eq!(
            verify("#### 1,234.", "1234").extracted.as_deref(),
            Some("1234")
        );
    }

    #[test]
    fn compares_values_not_strings() {
        assert_eq!(status("The answer is 18.0", "18"), Status::Correct);
        assert_eq!(status("It costs $1,000.50.", "1000.5"), Status::Correct);
        assert_eq!(status("0018", "18"), Status::Correct);
        assert_eq!(status("-4 degrees", "-4"), Status::Correct);
        assert_eq!(status("-0", "0"), Status::Correct);
    }

    #[test]
    fn range_is_not_a_negative_number() {
        assert_eq!(verify("pages 3-5", "5").status, Status::Correct);
    }

    #[test]
    fn comma_lists_are_not_merged() {
        assert_eq!(verify("1,2,3", "123").status, Status::Wrong);
        assert_eq!(verify("1, 2, 3", "3").status, Status::Correct);
    }

    #[test]
    fn unicode_and_big_numbers() {
        assert_eq!(status("it is −4 degrees", "-4"), Status::Correct);
        assert_eq!(status("90° exactly", "90"), Status::Correct);
        assert_eq!(status("°°°", "90"), Status::Unparseable);
        let big = "1".repeat(400);
        assert_eq!(
            status(&format!("so {big}0"), &format!("{big}1")),
            Status::Wrong
        );
        assert_eq!(status(&format!("so {big}"), &big), Status::Correct);
        assert_eq!(status("١٢", "12"), Status::Unparseable);
    }

    #[test]
    fn no_number_is_unparseable() {
        assert_eq!(status("I don't know", "7"), Status::Unparseable);
    }
}
