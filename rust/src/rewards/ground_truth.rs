//! Ground truths as datasets store them: JSON, or a Python literal.
//!
//! open-instruct reads the newer IFEval labels with `ast.literal_eval`
//! (`"[{'instruction_id': ['punctuation:no_comma'], 'kwargs': [None]}]"`), the older Tülu 3 labels with
//! `json.loads`. [`parse_structured`] accepts both: JSON first, then a Python literal read by a small
//! parser ([`python_literal`]) that evaluates nothing: it knows only the literal syntax `ast.literal_eval`
//! accepts (strings, numbers, `None`/`True`/`False`, lists, tuples, sets, dicts, unary signs), and maps
//! it onto JSON values (tuples and sets become arrays, `None` becomes null).
//!
//! Nesting is bounded ([`MAX_DEPTH`]) so that a hostile label cannot overflow the stack (an overflow
//! aborts the process; it is not a panic that a row could catch).

use serde_json::{Map, Number, Value};

/// Deepest nesting of lists/dicts accepted (serde_json's own limit is 128).
pub const MAX_DEPTH: usize = 128;

/// A ground truth as a JSON value: JSON text, or else a Python literal.
pub fn parse_structured(text: &str) -> Result<Value, String> {
    match serde_json::from_str::<Value>(text) {
        Ok(value) => Ok(value),
        Err(json_error) => python_literal(text).map_err(|literal_error| {
            format!("ground truth is neither JSON ({json_error}) nor a Python literal ({literal_error})")
        }),
    }
}

/// The labels of a text verifier (`string_f1`, `exact_match`): a JSON list of strings (or numbers) is
/// several acceptable answers; anything else is one answer, the text itself.
pub fn labels(text: &str) -> Result<Vec<String>, String> {
    let trimmed = text.trim();
    if trimmed.starts_with('[') {
        if let Ok(Value::Array(items)) = parse_structured(trimmed) {
            if items.is_empty() {
                return Err("ground truth is an empty list of answers".to_string());
            }
            return items
                .into_iter()
                .map(|item| match item {
                    Value::String(s) => Ok(s),
                    Value::Number(n) => Ok(n.to_string()),
                    Value::Bool(b) => Ok(b.to_string()),
                    other => Err(format!(
                        "a list ground truth must hold strings, not {}",
                        kind(&other)
                    )),
                })
                .collect();
        }
    }
    if trimmed.is_empty() {
        return Err("ground truth is empty".to_string());
    }
    Ok(vec![text.to_string()])
}

/// The JSON kind of a value, for messages.
pub fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Read a Python literal (what `ast.literal_eval` accepts, without complex numbers) as a JSON value.
pub fn python_literal(text: &str) -> Result<Value, String> {
    let mut parser = Parser {
        chars: text.char_indices().peekable(),
        text,
    };
    let value = parser.value(0)?;
    parser.skip_space();
    match parser.chars.peek() {
        None => Ok(value),
        Some(&(at, c)) => Err(format!("unexpected {c:?} at byte {at}")),
    }
}

struct Parser<'a> {
    chars: std::iter::Peekable<std::str::CharIndices<'a>>,
    text: &'a str,
}

impl<'a> Parser<'a> {
    fn skip_space(&mut self) {
        while let Some(&(_, c)) = self.chars.peek() {
            if c == '\\' {
                // An explicit line joining: backslash then newline.
                let mut ahead = self.chars.clone();
                ahead.next();
                match ahead.peek() {
                    Some(&(_, '\n')) => {
                        self.chars = ahead;
                        self.chars.next();
                        continue;
                    }
                    Some(&(_, '\r')) => {
                        self.chars = ahead;
                        self.chars.next();
                        if let Some(&(_, '\n')) = self.chars.peek() {
                            self.chars.next();
                        }
                        continue;
                    }
                    _ => return,
                }
            }
            if c.is_whitespace() {
                self.chars.next();
            } else {
                return;
            }
        }
    }

    fn expect_more(&mut self) -> Result<(usize, char), String> {
        self.skip_space();
        self.chars
            .peek()
            .copied()
            .ok_or_else(|| "unexpected end of text".to_string())
    }

    fn value(&mut self, depth: usize) -> Result<Value, String> {
        if depth > MAX_DEPTH {
            return Err(format!("nested deeper than {MAX_DEPTH} levels"));
        }
        let (at, c) = self.expect_more()?;
        match c {
            '[' => {
                self.chars.next();
                Ok(Value::Array(self.sequence(']', depth)?))
            }
            '(' => {
                self.chars.next();
                self.parenthesised(depth)
            }
            '{' => {
                self.chars.next();
                self.dict_or_set(depth)
            }
            '+' | '-' => {
                self.chars.next();
                let (_, next) = self.expect_more()?;
                if !(next.is_ascii_digit() || next == '.') {
                    return Err(format!("a sign must precede a number (byte {at})"));
                }
                let number = self.number()?;
                Ok(if c == '-' { negate(number)? } else { number })
            }
            '0'..='9' | '.' => self.number(),
            '\'' | '"' => self.strings(),
            c if c.is_alphabetic() || c == '_' => {
                let word = self.word();
                let lower = word.to_ascii_lowercase();
                if is_string_prefix(&lower) {
                    if let Some(&(_, '\'' | '"')) = self.chars.peek() {
                        return self.strings_after_prefix(&lower);
                    }
                }
                match word {
                    "None" => Ok(Value::Null),
                    "True" => Ok(Value::Bool(true)),
                    "False" => Ok(Value::Bool(false)),
                    other => Err(format!("{other:?} is a name, not a literal (byte {at})")),
                }
            }
            other => Err(format!("unexpected {other:?} at byte {at}")),
        }
    }

    fn word(&mut self) -> &'a str {
        let start = self.chars.peek().map_or(self.text.len(), |&(i, _)| i);
        let mut end = start;
        while let Some(&(i, c)) = self.chars.peek() {
            if c.is_alphanumeric() || c == '_' {
                end = i + c.len_utf8();
                self.chars.next();
            } else {
                break;
            }
        }
        &self.text[start..end]
    }

    /// Items up to `close`, separated by commas, a trailing comma allowed.
    fn sequence(&mut self, close: char, depth: usize) -> Result<Vec<Value>, String> {
        let mut items = Vec::new();
        loop {
            let (_, c) = self.expect_more()?;
            if c == close {
                self.chars.next();
                return Ok(items);
            }
            items.push(self.value(depth + 1)?);
            let (at, c) = self.expect_more()?;
            match c {
                ',' => {
                    self.chars.next();
                }
                c if c == close => {}
                other => {
                    return Err(format!(
                        "expected ',' or {close:?}, found {other:?} at byte {at}"
                    ))
                }
            }
        }
    }

    /// `()` and `(a, b)` are tuples; `(a)` is `a`.
    fn parenthesised(&mut self, depth: usize) -> Result<Value, String> {
        let (_, c) = self.expect_more()?;
        if c == ')' {
            self.chars.next();
            return Ok(Value::Array(Vec::new()));
        }
        let first = self.value(depth + 1)?;
        let (at, c) = self.expect_more()?;
        match c {
            ')' => {
                self.chars.next();
                Ok(first)
            }
            ',' => {
                self.chars.next();
                let mut items = vec![first];
                items.extend(self.sequence(')', depth)?);
                Ok(Value::Array(items))
            }
            other => Err(format!("expected ',' or ')', found {other:?} at byte {at}")),
        }
    }

    fn dict_or_set(&mut self, depth: usize) -> Result<Value, String> {
        let (_, c) = self.expect_more()?;
        if c == '}' {
            self.chars.next();
            return Ok(Value::Object(Map::new()));
        }
        let first = self.value(depth + 1)?;
        let (_, c) = self.expect_more()?;
        if c != ':' {
            // A set: its items, in the order written.
            let mut items = vec![first];
            if c == ',' {
                self.chars.next();
                items.extend(self.sequence('}', depth)?);
            } else {
                items.extend(self.sequence('}', depth)?);
            }
            return Ok(Value::Array(items));
        }
        let mut object = Map::new();
        let mut key = first;
        loop {
            let (at, c) = self.expect_more()?;
            if c != ':' {
                return Err(format!(
                    "expected ':' after a dict key, found {c:?} at byte {at}"
                ));
            }
            self.chars.next();
            let value = self.value(depth + 1)?;
            object.insert(key_text(key)?, value);
            let (at, c) = self.expect_more()?;
            match c {
                ',' => {
                    self.chars.next();
                }
                '}' => {
                    self.chars.next();
                    return Ok(Value::Object(object));
                }
                other => {
                    return Err(format!(
                        "expected ',' or '}}', found {other:?} at byte {at}"
                    ))
                }
            }
            let (_, c) = self.expect_more()?;
            if c == '}' {
                self.chars.next();
                return Ok(Value::Object(object));
            }
            key = self.value(depth + 1)?;
        }
    }

    fn number(&mut self) -> Result<Value, String> {
        let start = self.chars.peek().map_or(self.text.len(), |&(i, _)| i);
        let mut end = start;
        let mut previous = ' ';
        while let Some(&(i, c)) = self.chars.peek() {
            let exponent_sign = (c == '+' || c == '-') && matches!(previous, 'e' | 'E');
            if c.is_ascii_alphanumeric() || c == '.' || c == '_' || exponent_sign {
                end = i + 1;
                previous = c;
                self.chars.next();
            } else {
                break;
            }
        }
        parse_number(&self.text[start..end])
    }

    /// One or more adjacent string literals, concatenated (as Python does).
    fn strings(&mut self) -> Result<Value, String> {
        self.strings_after_prefix("")
    }

    fn strings_after_prefix(&mut self, prefix: &str) -> Result<Value, String> {
        let mut text = self.string_body(prefix)?;
        loop {
            self.skip_space();
            match self.chars.peek() {
                Some(&(_, '\'' | '"')) => text.push_str(&self.string_body("")?),
                Some(&(_, c)) if c.is_ascii_alphabetic() => {
                    let saved = self.chars.clone();
                    let word = self.word().to_ascii_lowercase();
                    if is_string_prefix(&word)
                        && matches!(self.chars.peek(), Some(&(_, '\'' | '"')))
                    {
                        text.push_str(&self.string_body(&word)?);
                    } else {
                        self.chars = saved;
                        return Ok(Value::String(text));
                    }
                }
                _ => return Ok(Value::String(text)),
            }
        }
    }

    /// The body of one quoted literal; the cursor is on its opening quote.
    fn string_body(&mut self, prefix: &str) -> Result<String, String> {
        if prefix.contains('f') {
            return Err("f-strings are not literals".to_string());
        }
        let raw = prefix.contains('r');
        let (start, quote) = self.chars.next().expect("caller saw a quote");
        let triple = {
            let mut ahead = self.chars.clone();
            matches!((ahead.next(), ahead.next()), (Some((_, a)), Some((_, b))) if a == quote && b == quote)
        };
        if triple {
            self.chars.next();
            self.chars.next();
        }
        let mut out = String::new();
        loop {
            let Some((_, c)) = self.chars.next() else {
                return Err(format!("string opened at byte {start} is not closed"));
            };
            if c == quote {
                if !triple {
                    return Ok(out);
                }
                let mut ahead = self.chars.clone();
                if matches!((ahead.next(), ahead.next()), (Some((_, a)), Some((_, b))) if a == quote && b == quote)
                {
                    self.chars = ahead;
                    return Ok(out);
                }
                out.push(c);
                continue;
            }
            if c == '\n' && !triple {
                return Err(format!("string opened at byte {start} runs past the line"));
            }
            if c != '\\' {
                out.push(c);
                continue;
            }
            let Some((_, escaped)) = self.chars.next() else {
                return Err(format!("string opened at byte {start} is not closed"));
            };
            if raw {
                out.push('\\');
                out.push(escaped);
                continue;
            }
            match escaped {
                '\n' => {}
                '\\' => out.push('\\'),
                '\'' => out.push('\''),
                '"' => out.push('"'),
                'a' => out.push('\u{7}'),
                'b' => out.push('\u{8}'),
                'f' => out.push('\u{c}'),
                'n' => out.push('\n'),
                'r' => out.push('\r'),
                't' => out.push('\t'),
                'v' => out.push('\u{b}'),
                'x' => out.push(self.hex_escape(2)?),
                'u' if !prefix.contains('b') => out.push(self.hex_escape(4)?),
                'U' if !prefix.contains('b') => out.push(self.hex_escape(8)?),
                '0'..='7' => {
                    let mut code = escaped.to_digit(8).expect("octal digit");
                    for _ in 0..2 {
                        match self.chars.peek() {
                            Some(&(_, d @ '0'..='7')) => {
                                code = code * 8 + d.to_digit(8).expect("octal digit");
                                self.chars.next();
                            }
                            _ => break,
                        }
                    }
                    out.push(char::from_u32(code).ok_or("invalid octal escape")?);
                }
                'N' => return Err("\\N{...} escapes are not supported".to_string()),
                // Python keeps an unknown escape as written.
                other => {
                    out.push('\\');
                    out.push(other);
                }
            }
        }
    }

    fn hex_escape(&mut self, digits: usize) -> Result<char, String> {
        let mut code = 0u32;
        for _ in 0..digits {
            let digit = self
                .chars
                .next()
                .and_then(|(_, d)| d.to_digit(16))
                .ok_or("truncated \\x, \\u or \\U escape")?;
            code = code * 16 + digit;
        }
        // Lone surrogates (valid in Python strings) have no UTF-8 form: U+FFFD stands in.
        Ok(char::from_u32(code).unwrap_or('\u{fffd}'))
    }
}

fn is_string_prefix(word: &str) -> bool {
    matches!(word, "r" | "u" | "b" | "br" | "rb" | "f" | "fr" | "rf")
}

fn parse_number(token: &str) -> Result<Value, String> {
    let bad = || format!("{token:?} is not a number");
    if token.starts_with('_') || token.ends_with('_') || token.contains("__") {
        return Err(bad());
    }
    let digits = token.replace('_', "");
    let lower = digits.to_ascii_lowercase();
    let radix = match lower.get(..2) {
        Some("0x") => Some(16),
        Some("0o") => Some(8),
        Some("0b") => Some(2),
        _ => None,
    };
    if let Some(radix) = radix {
        let body = &lower[2..];
        if body.is_empty() {
            return Err(bad());
        }
        return match u64::from_str_radix(body, radix) {
            Ok(n) => Ok(Value::Number(n.into())),
            // Larger than u64: keep its magnitude as a float, as JSON would.
            Err(_) if body.chars().all(|c| c.is_digit(radix)) => {
                float_value(body.chars().fold(0.0, |acc, c| {
                    acc * f64::from(radix) + f64::from(c.to_digit(radix).unwrap_or(0))
                }))
            }
            Err(_) => Err(bad()),
        };
    }
    let is_integer = lower.bytes().all(|b| b.is_ascii_digit());
    if is_integer {
        // Python 3 rejects leading zeros in a non-zero decimal integer.
        if lower.len() > 1 && lower.starts_with('0') && lower.bytes().any(|b| b != b'0') {
            return Err(bad());
        }
        return match lower.parse::<u64>() {
            Ok(n) => Ok(Value::Number(n.into())),
            Err(_) => float_value(lower.parse::<f64>().map_err(|_| bad())?),
        };
    }
    let float_like = lower
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'+' | b'-'))
        && lower.bytes().any(|b| b.is_ascii_digit())
        && !lower.starts_with('e');
    if !float_like {
        return Err(bad());
    }
    float_value(lower.parse::<f64>().map_err(|_| bad())?)
}

fn float_value(f: f64) -> Result<Value, String> {
    Number::from_f64(f)
        .map(Value::Number)
        .ok_or_else(|| "a number too large for a ground truth".to_string())
}

fn negate(value: Value) -> Result<Value, String> {
    let Value::Number(n) = value else {
        return Err("a sign must precede a number".to_string());
    };
    if let Some(u) = n.as_u64() {
        if u <= i64::MAX as u64 {
            return Ok(Value::Number((-(u as i64)).into()));
        }
        if u == i64::MAX as u64 + 1 {
            return Ok(Value::Number(i64::MIN.into()));
        }
    }
    float_value(-n.as_f64().unwrap_or(0.0))
}

/// Dict keys become JSON object keys: strings as they are, numbers and constants as Python prints them.
fn key_text(key: Value) -> Result<String, String> {
    match key {
        Value::String(s) => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(true) => Ok("True".to_string()),
        Value::Bool(false) => Ok("False".to_string()),
        Value::Null => Ok("None".to_string()),
        other => Err(format!("a dict key must be a string, not {}", kind(&other))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn open_instruct_ifeval_label() {
        let label = "[{'instruction_id': ['punctuation:no_comma', 'detectable_format:title'], 'kwargs': [None, {'N': 3, 'x': -1.5e2}]}]";
        assert_eq!(
            parse_structured(label).unwrap(),
            json!([{"instruction_id": ["punctuation:no_comma", "detectable_format:title"],
                    "kwargs": [null, {"N": 3, "x": -150.0}]}])
        );
    }

    #[test]
    fn strings_escapes_and_prefixes() {
        assert_eq!(python_literal(r#"'it\'s'"#).unwrap(), json!("it's"));
        assert_eq!(python_literal(r#""a\tb\x41\u00e9\N""#).ok(), None);
        assert_eq!(
            python_literal(r#""a\tb\x41\u00e9""#).unwrap(),
            json!("a\tbAé")
        );
        assert_eq!(python_literal(r#"r'\d+'"#).unwrap(), json!("\\d+"));
        assert_eq!(python_literal("'a' \"b\" r'c'").unwrap(), json!("abc"));
        assert_eq!(python_literal("'''x\n'y'\n'''").unwrap(), json!("x\n'y'\n"));
        assert_eq!(python_literal("'日本 😀'").unwrap(), json!("日本 😀"));
        assert_eq!(python_literal(r"'\101'").unwrap(), json!("A"));
        assert!(python_literal("'open").is_err());
        assert!(python_literal("'a\nb'").is_err());
        assert!(python_literal("f'{x}'").is_err());
    }

    #[test]
    fn containers_and_numbers() {
        assert_eq!(python_literal("(1,)").unwrap(), json!([1]));
        assert_eq!(python_literal("(1)").unwrap(), json!(1));
        assert_eq!(python_literal("()").unwrap(), json!([]));
        assert_eq!(python_literal("{1, 2,}").unwrap(), json!([1, 2]));
        assert_eq!(python_literal("{}").unwrap(), json!({}));
        assert_eq!(
            python_literal("{1: True, None: False}").unwrap(),
            json!({"1": true, "None": false})
        );
        assert_eq!(
            python_literal("[0x1f, 0o17, 0b11, 1_000, .5, 5., 1e3]").unwrap(),
            json!([31, 15, 3, 1000, 0.5, 5.0, 1000.0])
        );
        assert_eq!(
            python_literal("-9223372036854775808").unwrap(),
            json!(i64::MIN)
        );
        assert!(python_literal("007").is_err());
        assert!(python_literal("1e999").is_err());
        assert!(python_literal("nan").is_err());
        assert!(python_literal("[1, 2").is_err());
        assert!(python_literal("[1 2]").is_err());
        assert!(python_literal("x").is_err());
        assert!(python_literal("- 'a'").is_err());
        assert!(python_literal("").is_err());
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = "[".repeat(100_000);
        assert!(python_literal(&deep).is_err());
        assert!(parse_structured(&"{'a': ".repeat(50_000)).is_err());
        assert!(python_literal(&format!("{}{}", "[".repeat(100), "]".repeat(100))).is_ok());
    }

    #[test]
    fn text_labels() {
        assert_eq!(labels("Paris").unwrap(), ["Paris"]);
        assert_eq!(
            labels(r#"["Paris", "paris, France"]"#).unwrap(),
            ["Paris", "paris, France"]
        );
        assert_eq!(labels("['a', 1]").unwrap(), ["a", "1"]);
        assert_eq!(labels("[not a list").unwrap(), ["[not a list"]);
        assert!(labels("[]").is_err());
        assert!(labels("  ").is_err());
        assert!(labels("[[1]]").is_err());
    }
}
