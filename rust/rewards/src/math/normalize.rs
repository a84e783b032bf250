//! Answer normalisation: Unicode math to LaTeX, then the clean-ups of Hendrycks' `strip_string`,
//! Minerva's `normalize_final_answer` and math-verify's `normalize_latex` (units, styling, spacing,
//! percent words, thousands separators). Every step works on whole characters or regex matches, so
//! no input can split a UTF-8 character.

use regex::{Captures, Regex};
use std::sync::OnceLock;

fn regex(cell: &'static OnceLock<Regex>, pattern: &str) -> &'static Regex {
    cell.get_or_init(|| Regex::new(pattern).expect("valid normalisation pattern"))
}

/// Units and filler words dropped after a number ("5 cm", "10 dollars", "3 square units").
const UNIT_WORDS: &str = "square|sq|cubic|cu|ways|integers?|dollars?|cents?|mph|kmph|kph|inch|inches|ft|feet|foot|\
hours?|hrs?|km|kilometers?|kilometres?|units?|points?|minutes?|mins?|digits?|degrees?|deg|cm|mm|meters?|metres?|\
pounds?|lbs?|seconds?|secs?|miles?|days?|years?|months?|weeks?|kg|grams?|liters?|litres?|gallons?|yards?|\
acres?|students?|people|persons?|edges?|meals?|multiples?|tiles?|coins?|apples?|marbles?|times|percentage points";

/// Unicode characters that models print for LaTeX commands.
fn unicode_replacement(c: char) -> Option<&'static str> {
    Some(match c {
        '−' | '–' | '—' | '‒' | '﹣' | '－' => "-",
        '×' | '✕' => "\\times ",
        '÷' => "\\div ",
        '·' | '⋅' | '∙' => "\\cdot ",
        'π' => "\\pi ",
        '∞' => "\\infty ",
        '≤' | '⩽' => "\\le ",
        '≥' | '⩾' => "\\ge ",
        '≠' => "\\ne ",
        '≈' => "\\approx ",
        '±' => "\\pm ",
        '∓' => "\\mp ",
        '∈' => "\\in ",
        '∪' => "\\cup ",
        '∩' => "\\cap ",
        '∅' => "\\emptyset ",
        '°' | '∘' => "",
        '½' => "\\frac{1}{2}",
        '⅓' => "\\frac{1}{3}",
        '⅔' => "\\frac{2}{3}",
        '¼' => "\\frac{1}{4}",
        '¾' => "\\frac{3}{4}",
        '…' => "\\ldots ",
        'θ' => "\\theta ",
        'α' => "\\alpha ",
        'β' => "\\beta ",
        'γ' => "\\gamma ",
        'λ' => "\\lambda ",
        'μ' => "\\mu ",
        'σ' => "\\sigma ",
        'φ' => "\\phi ",
        'ω' => "\\omega ",
        '\u{a0}' | '\u{2009}' | '\u{202f}' | '\u{2002}' | '\u{2003}' | '\u{3000}' => " ",
        '\u{200b}' | '\u{feff}' => "",
        '（' => "(",
        '）' => ")",
        '，' => ",",
        _ => return None,
    })
}

fn superscript(c: char) -> Option<char> {
    Some(match c {
        '⁰' => '0',
        '¹' => '1',
        '²' => '2',
        '³' => '3',
        '⁴' => '4',
        '⁵' => '5',
        '⁶' => '6',
        '⁷' => '7',
        '⁸' => '8',
        '⁹' => '9',
        '⁻' => '-',
        '⁺' => '+',
        'ⁿ' => 'n',
        _ => return None,
    })
}

/// `x²` -> `x^{2}`, `−5` -> `-5`, `√17` -> `\sqrt{17}`, `π` -> `\pi`.
pub fn unicode_to_latex(text: &str) -> String {
    if text.is_ascii() {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 8);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if let Some(first) = superscript(c) {
            out.push_str("^{");
            out.push(first);
            while let Some(next) = chars.peek().and_then(|c| superscript(*c)) {
                out.push(next);
                chars.next();
            }
            out.push('}');
        } else if c == '√' || c == '∛' {
            out.push_str(if c == '√' { "\\sqrt" } else { "\\sqrt[3]" });
            // `√17`: the whole number is under the root (unlike TeX's `\sqrt17`).
            if chars.peek().is_some_and(|c| c.is_ascii_alphanumeric()) {
                out.push('{');
                while let Some(next) = chars
                    .peek()
                    .copied()
                    .filter(|c| c.is_ascii_digit() || *c == '.')
                {
                    out.push(next);
                    chars.next();
                }
                if out.ends_with('{') {
                    if let Some(letter) = chars.next() {
                        out.push(letter);
                    }
                }
                out.push('}');
            }
        } else if let Some(replacement) = unicode_replacement(c) {
            out.push_str(replacement);
        } else {
            out.push(c);
        }
    }
    out
}

/// `re.replace_all` in place, without copying when nothing matches.
fn replace_all(text: &mut String, re: &Regex, replacement: &str) {
    if let std::borrow::Cow::Owned(replaced) = re.replace_all(text, replacement) {
        *text = replaced;
    }
}

/// Replace `\cmd{X}` by `X` (balanced braces).
fn unwrap_command(text: &str, command: &str) -> String {
    let needle = format!("\\{command}{{");
    let mut out = text.to_string();
    let mut from = 0;
    while let Some(found) = out.get(from..).and_then(|rest| rest.find(&needle)) {
        let start = from + found;
        let inner_start = start + needle.len();
        let Some(end) = super::extract::matching_brace(&out[inner_start..]) else {
            break;
        };
        let inner = out[inner_start..inner_start + end].to_string();
        out.replace_range(start..inner_start + end + 1, &inner);
        from = start;
    }
    out
}

/// `0.\overline{3}` -> `\frac{1}{3}` (repeating decimals, small enough for u128).
fn repeating_decimals(text: &str) -> String {
    static PATTERN: OnceLock<Regex> = OnceLock::new();
    regex(&PATTERN, r"(\d*)\.(\d*)\\overline\{(\d{1,12})\}")
        .replace_all(text, |caps: &Captures| {
            let (whole, fixed, period) = (&caps[1], &caps[2], &caps[3]);
            if whole.len() + fixed.len() > 12 {
                return caps[0].to_string();
            }
            let number = |digits: &str| digits.parse::<u128>().unwrap_or(0);
            let head = number(&format!("{whole}{fixed}"));
            let all = number(&format!("{whole}{fixed}{period}"));
            let denominator =
                10u128.pow(fixed.len() as u32) * (10u128.pow(period.len() as u32) - 1);
            format!("\\frac{{{}}}{{{denominator}}}", all - head)
        })
        .into_owned()
}

/// Drop the separators of `1,234,567` or `1 234 567` when that number is the whole answer (or all
/// that follows its last `=`): inside a bracket, `(12,102)` is a pair.
fn drop_thousands_separators(text: &str) -> String {
    static PATTERN: OnceLock<Regex> = OnceLock::new();
    let pattern = regex(
        &PATTERN,
        r"^(.*=\s*|\s*)(-?\d{1,3}(?:,\d{3})+|-?\d{1,3}(?: \d{3})+)(\.\d+)?(\s*\\?%)?\s*$",
    );
    match pattern.captures(text) {
        Some(caps) => format!(
            "{}{}{}{}",
            &caps[1],
            caps[2].replace([',', ' '], ""),
            caps.get(3).map_or("", |m| m.as_str()),
            caps.get(4).map_or("", |m| m.as_str()),
        ),
        None => text.to_string(),
    }
}

/// Normalise one extracted answer (the content of a box, a `$...$` span, a gold answer).
pub fn normalize(answer: &str) -> String {
    static SIZES: OnceLock<Regex> = OnceLock::new();
    static INVERSE_SPACE: OnceLock<Regex> = OnceLock::new();
    static BRACED_COMMA: OnceLock<Regex> = OnceLock::new();
    static DOUBLE_BACKSLASH: OnceLock<Regex> = OnceLock::new();
    static LEFT_RIGHT: OnceLock<Regex> = OnceLock::new();
    static STYLE: OnceLock<Regex> = OnceLock::new();
    static CIRC: OnceLock<Regex> = OnceLock::new();
    static PERCENT_WORD: OnceLock<Regex> = OnceLock::new();
    static AND_OR: OnceLock<Regex> = OnceLock::new();
    static TRAILING_TEXT: OnceLock<Regex> = OnceLock::new();
    static UNITS: OnceLock<Regex> = OnceLock::new();
    static SPACES: OnceLock<Regex> = OnceLock::new();

    let mut s = unicode_to_latex(answer.trim());
    s = s.replace(['\n', '\r', '\t'], " ");
    // `\\frac` is an over-escaped `\frac`, except in matrices, where `\\` ends a row: keep row breaks
    // out of the way of the clean-ups below (a placeholder, restored at the end).
    if !s.contains("matrix") && !s.contains("array") {
        replace_all(&mut s, regex(&DOUBLE_BACKSLASH, r"\\\\([A-Za-z])"), "\\$1");
    }
    s = s.replace("\\\\", ROW_BREAK);
    replace_all(
        &mut s,
        regex(&SIZES, r"\\(?:[bB]ig{1,2}|[bB]igg)[lrm]?\b"),
        "",
    );
    replace_all(
        &mut s,
        regex(&LEFT_RIGHT, r"\\(?:left|right|middle)\b\s*\.?"),
        "",
    );
    replace_all(&mut s, regex(&INVERSE_SPACE, r"\\!\s*"), "");
    for (from, to) in [
        ("\\,", ""),
        ("\\;", " "),
        ("\\:", " "),
        ("\\quad", " "),
        ("\\qquad", " "),
        ("\\ ", " "),
        ("\\displaystyle", ""),
        ("\\textstyle", ""),
        ("\\dfrac", "\\frac"),
        ("\\tfrac", "\\frac"),
        ("\\cfrac", "\\frac"),
        ("\\dbinom", "\\binom"),
        ("\\tbinom", "\\binom"),
        ("\\$", ""),
        ("$", ""),
        ("\\lt", "<"),
        ("\\gt", ">"),
        ("\\mathbb{R}", "(-\\infty,\\infty)"),
        ("\\\"", ""),
        ("\"", ""),
        ("\\(", ""),
        ("\\)", ""),
        ("\\[", ""),
        ("\\]", ""),
        ("\\ldots", ""),
        ("\\cdots", ""),
        ("\\dots", ""),
        ("\\mathrm{th}", ""),
        ("\\degree", ""),
    ] {
        if s.contains(from) {
            s = s.replace(from, to);
        }
    }
    replace_all(&mut s, regex(&BRACED_COMMA, r"\s*\{\s*,\s*\}"), ",");
    replace_all(
        &mut s,
        regex(
            &STYLE,
            r"\\(?:mathrm|mathit|mathbf|mathsf|textbf|textnormal|textrm|textit|textsf|mbox|hbox)\b",
        ),
        "\\text",
    );
    replace_all(&mut s, regex(&CIRC, r"\^\s*\{?\s*\\circ\s*\}?|\\circ"), "");
    replace_all(
        &mut s,
        regex(
            &PERCENT_WORD,
            r"\s*\\text\{\s*(?:percent|percentage|pct)\s*\}|\s*\b(?:percentage|percent|pct)\b",
        ),
        "\\%",
    );
    replace_all(
        &mut s,
        regex(
            &AND_OR,
            r",?\s*\\text\{\s*(?:and|or)\s*\}|,?\s*\b(?:and|or)\b",
        ),
        ",",
    );
    // "5 \text{ cm}^2", "\frac13\text{meters}": a trailing text after a value is a unit.
    let trailing_text = regex(
        &TRAILING_TEXT,
        r"^(.*?[0-9a-zA-Z})\]])\s*\\text\{[^{}]*\}\s*(?:\^\s*\{?\d\}?)?$",
    );
    if let std::borrow::Cow::Owned(without_unit) = trailing_text.replace(&s, "$1") {
        if !without_unit.trim().is_empty() {
            s = without_unit;
        }
    }
    let units = UNITS.get_or_init(|| {
        let pattern =
            format!(r"(?i)([0-9}}])\s*(?:{UNIT_WORDS})(?:\s*\^?\s*\{{?[23]\}}?)?\s*\.?\s*$");
        Regex::new(&pattern).expect("valid unit pattern")
    });
    for _ in 0..2 {
        if let std::borrow::Cow::Owned(shorter) = units.replace(&s, "$1") {
            s = shorter;
        }
    }
    for (needle, command) in [
        ("\\text{", "text"),
        ("\\boxed{", "boxed"),
        ("\\fbox{", "fbox"),
        ("\\textup{", "textup"),
        ("\\hbox{", "hbox"),
    ] {
        if s.contains(needle) {
            s = unwrap_command(&s, command);
        }
    }
    if s.contains("\\overline") {
        s = repeating_decimals(&s);
    }
    s = drop_thousands_separators(&s);
    replace_all(&mut s, regex(&SPACES, r"\s+"), " ");
    s = s
        .trim()
        .trim_end_matches(['.', ' ', ','])
        .trim()
        .to_string();
    if s.starts_with('.') {
        s.insert(0, '0');
    }
    s.replace(" .", " 0.")
        .replace("{.", "{0.")
        .replace(ROW_BREAK, "\\\\")
}

/// Stands for `\\` (a matrix row break) during normalisation; never in model text (a control char
/// that the clean-ups leave alone).
const ROW_BREAK: &str = "\u{1}";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latex_clean_ups() {
        assert_eq!(normalize("\\dfrac{1}{2}"), "\\frac{1}{2}");
        assert_eq!(normalize("\\left( 1, 2 \\right)"), "( 1, 2 )");
        assert_eq!(normalize("90^\\circ"), "90");
        assert_eq!(normalize("90^{\\circ}"), "90");
        assert_eq!(normalize("5 \\text{ cm}"), "5");
        assert_eq!(normalize("15\\mbox{ cm}^2"), "15");
        assert_eq!(normalize("\\$1,000"), "1000");
        assert_eq!(normalize(".5"), "0.5");
        assert_eq!(normalize("\\text{Monday}"), "Monday");
        assert_eq!(normalize("10 dollars"), "10");
        assert_eq!(normalize("1\\!000"), "1000");
        assert_eq!(normalize("0.\\overline{3}"), "\\frac{3}{9}");
        assert_eq!(normalize("\\left\\{1,2\\right\\}"), "\\{1,2\\}");
    }

    #[test]
    fn thousands_and_lists() {
        assert_eq!(normalize("7,425,000"), "7425000");
        assert_eq!(normalize("32,\\! 349"), "32349");
        assert_eq!(normalize("14{,}916"), "14916");
        assert_eq!(normalize("32, 349"), "32, 349");
        assert_eq!(normalize("1,2,3"), "1,2,3");
        assert_eq!(normalize("1,234,5"), "1,234,5");
        assert_eq!(normalize("(12,102)"), "(12,102)");
        assert_eq!(normalize("x = 1,000"), "x = 1000");
        assert_eq!(normalize("1 000"), "1000");
    }

    #[test]
    fn words() {
        assert_eq!(normalize("28 percent"), "28\\%");
        assert_eq!(normalize("28 pct"), "28\\%");
        assert_eq!(normalize("1 and 2"), "1, 2");
        assert_eq!(normalize("1 \\text{ or } 2"), "1, 2");
    }

    #[test]
    fn unicode_math() {
        assert_eq!(normalize("90°"), "90");
        assert_eq!(normalize("−5"), "-5");
        assert_eq!(normalize("x²+1"), "x^{2}+1");
        assert_eq!(normalize("x⁻¹"), "x^{-1}");
        assert_eq!(normalize("√17"), "\\sqrt{17}");
        assert_eq!(normalize("π/2"), "\\pi /2");
        assert_eq!(normalize("€5"), "€5");
    }
}
