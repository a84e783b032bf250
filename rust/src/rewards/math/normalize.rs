//! Answer normalisation after Hendrycks' `strip_string` (MATH) and Minerva's `normalize_final_answer`.

use regex::Regex;
use std::sync::OnceLock;

/// Words that are units or filler after a number ("5 cm", "10 dollars"); removed as whole words.
const UNIT_WORDS: [&str; 28] = [
    "square", "ways", "integers", "dollars", "mph", "inches", "inch", "ft", "hours", "hour", "km",
    "units", "unit", "points", "feet", "minutes", "digits", "cents", "degrees", "cm", "meters",
    "meter", "pounds", "seconds", "miles", "days", "sq", "years",
];

fn regex(cell: &'static OnceLock<Regex>, pattern: &str) -> &'static Regex {
    cell.get_or_init(|| Regex::new(pattern).expect("valid normalisation pattern"))
}

/// Replace `\cmd{X}` by `X` (balanced braces), for text-like wrappers.
fn unwrap_command(text: &str, command: &str) -> String {
    let needle = format!("\\{command}{{");
    let mut out = text.to_string();
    let mut guard = 0;
    while let Some(start) = out.find(&needle) {
        guard += 1;
        let inner_start = start + needle.len();
        let Some(end) = super::extract::matching_brace(&out[inner_start..]) else {
            break;
        };
        if guard > 1000 {
            break;
        }
        let inner = out[inner_start..inner_start + end].to_string();
        out.replace_range(start..inner_start + end + 1, &inner);
    }
    out
}

pub fn normalize(answer: &str) -> String {
    static SHORT_LHS: OnceLock<Regex> = OnceLock::new();
    static THOUSANDS: OnceLock<Regex> = OnceLock::new();
    static TRAILING_TEXT_UNIT: OnceLock<Regex> = OnceLock::new();
    static CIRC: OnceLock<Regex> = OnceLock::new();

    let mut s = answer.trim().replace(['\n', '\r'], " ");
    for (from, to) in [
        ("\\!", ""),
        ("\\dfrac", "\\frac"),
        ("\\tfrac", "\\frac"),
        ("\\left", ""),
        ("\\right", ""),
        ("\\displaystyle", ""),
        ("\\$", ""),
        ("$", ""),
        ("\\%", ""),
        ("%", ""),
        ("\\mathrm{th}", ""),
        ("\\dots", ""),
        ("\\ldots", ""),
        ("\\,", ""),
        ("\\;", ""),
        ("\\:", ""),
        ("\\ ", " "),
        ("{,}", ""),
    ] {
        s = s.replace(from, to);
    }
    s = regex(&CIRC, r"\^\s*\{?\s*\\circ\s*\}?")
        .replace_all(&s, "")
        .into_owned();
    // "5 \text{ cm}": Hendrycks drops everything from a right-hand `\text{ ` unit onwards.
    s = regex(
        &TRAILING_TEXT_UNIT,
        r"^(.*[0-9}])\s*\\(?:text|mbox|mathrm)\{\s+[^{}]*\}$",
    )
    .replace(&s, "$1")
    .into_owned();
    for command in [
        "text",
        "textbf",
        "mbox",
        "mathrm",
        "mathbf",
        "boxed",
        "fbox",
        "overline",
        "textnormal",
    ] {
        s = unwrap_command(&s, command);
    }
    s = remove_unit_words(&s);
    s = s.trim().trim_end_matches(['.', ' ']).to_string();
    // Leading "x =" (a short left-hand side) is not part of the answer.
    s = regex(&SHORT_LHS, r"^\s*[A-Za-z](?:_\{?\w\}?)?\s*=\s*(.+)$")
        .replace(&s, "$1")
        .into_owned();
    s = s.split_whitespace().collect::<Vec<_>>().join("");
    if regex(&THOUSANDS, r"^-?\d{1,3}(,\d{3})+(\.\d+)?$").is_match(&s) {
        s = s.replace(',', "");
    }
    if s.starts_with('.') {
        s.insert(0, '0');
    }
    s
}

fn remove_unit_words(text: &str) -> String {
    static UNITS: OnceLock<Regex> = OnceLock::new();
    let pattern = format!(r"(?:^|\s)(?:{})(?:\^?[23])?\b", UNIT_WORDS.join("|"));
    let units = UNITS.get_or_init(|| Regex::new(&pattern).expect("valid unit pattern"));
    // Only strip units after something else (a lone "units" stays a text answer).
    if text.split_whitespace().count() < 2 {
        return text.to_string();
    }
    units.replace_all(text, "").into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hendrycks_rules() {
        assert_eq!(normalize("\\dfrac{1}{2}"), "\\frac{1}{2}");
        assert_eq!(normalize("\\left( 1, 2 \\right)"), "(1,2)");
        assert_eq!(normalize("90^\\circ"), "90");
        assert_eq!(normalize("90^{\\circ}"), "90");
        assert_eq!(normalize("5 \\text{ cm}"), "5");
        assert_eq!(normalize("x = 3"), "3");
        assert_eq!(normalize("\\$1,000"), "1000");
        assert_eq!(normalize("50\\%"), "50");
        assert_eq!(normalize(".5"), "0.5");
        assert_eq!(normalize("\\text{Monday}"), "Monday");
        assert_eq!(normalize("10 dollars"), "10");
        assert_eq!(normalize("1\\!000"), "1000");
    }
}
