//! Which text of a JSON record is matched: field paths such as `question`, `turns[*]` or
//! `messages[role=user].content` (only the user turns of a chat, what Tülu 3 matched).
//!
//! A path is dot-separated keys, each optionally followed by one selector: `[*]` (every element),
//! `[3]` (one element) or `[key=value]` (elements whose `key` equals the string `value`). The text found is
//! a list of segments: strings as they are, numbers and booleans as their JSON text, lists flattened, nulls
//! skipped. A key absent from an object is an error naming the path.

use serde_json::Value;

use super::DecontamError;

#[derive(Debug, Clone, PartialEq)]
enum Selector {
    All,
    Index(usize),
    Equals(String, String),
}

#[derive(Debug, Clone, PartialEq)]
struct Step {
    key: String,
    selector: Option<Selector>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FieldPath {
    pub text: String,
    steps: Vec<Step>,
}

impl FieldPath {
    pub fn parse(text: &str) -> Result<Self, DecontamError> {
        let bad = |why: &str| DecontamError::Invalid(format!("bad field path {text:?}: {why}"));
        let mut steps = Vec::new();
        for part in text.split('.') {
            let (key, selector) = match part.find('[') {
                None => (part, None),
                Some(open) => {
                    let inner = part[open + 1..]
                        .strip_suffix(']')
                        .ok_or_else(|| bad("missing ']'"))?;
                    let selector = if inner == "*" {
                        Selector::All
                    } else if let Ok(i) = inner.parse::<usize>() {
                        Selector::Index(i)
                    } else if let Some((k, v)) = inner.split_once('=') {
                        Selector::Equals(k.trim().to_owned(), v.trim().to_owned())
                    } else {
                        return Err(bad("a selector is [*], [N] or [key=value]"));
                    };
                    (&part[..open], Some(selector))
                }
            };
            if key.is_empty() {
                return Err(bad("empty key"));
            }
            steps.push(Step {
                key: key.to_owned(),
                selector,
            });
        }
        Ok(Self {
            text: text.to_owned(),
            steps,
        })
    }

    /// Appends the text segments this path selects in `record` to `out`.
    pub fn extract(&self, record: &Value, out: &mut Vec<String>) -> Result<(), DecontamError> {
        self.walk(record, &self.steps, out)
    }

    fn walk(
        &self,
        value: &Value,
        steps: &[Step],
        out: &mut Vec<String>,
    ) -> Result<(), DecontamError> {
        let Some((step, rest)) = steps.split_first() else {
            return self.collect_text(value, out);
        };
        let child = match value {
            Value::Object(map) => map.get(&step.key).ok_or_else(|| self.missing(&step.key))?,
            Value::Null => return Ok(()),
            _ => return Err(self.wrong_type(&step.key, "an object")),
        };
        match &step.selector {
            None => self.walk(child, rest, out),
            Some(selector) => {
                let Value::Array(items) = child else {
                    return match child {
                        Value::Null => Ok(()),
                        _ => Err(self.wrong_type(&step.key, "a list")),
                    };
                };
                for (i, item) in items.iter().enumerate() {
                    let selected = match selector {
                        Selector::All => true,
                        Selector::Index(want) => i == *want,
                        Selector::Equals(key, want) => {
                            item.get(key).and_then(Value::as_str) == Some(want)
                        }
                    };
                    if selected {
                        self.walk(item, rest, out)?;
                    }
                }
                Ok(())
            }
        }
    }

    fn collect_text(&self, value: &Value, out: &mut Vec<String>) -> Result<(), DecontamError> {
        match value {
            Value::String(text) => out.push(text.clone()),
            Value::Number(number) => out.push(number.to_string()),
            Value::Bool(flag) => out.push(flag.to_string()),
            Value::Null => {}
            Value::Array(items) => {
                for item in items {
                    self.collect_text(item, out)?;
                }
            }
            Value::Object(_) => {
                return Err(DecontamError::Field(format!(
                    "field {:?} is an object, not text (select one of its keys)",
                    self.text
                )))
            }
        }
        Ok(())
    }

    fn missing(&self, key: &str) -> DecontamError {
        DecontamError::Field(format!("field {:?} not found (no key {key:?})", self.text))
    }

    fn wrong_type(&self, key: &str, expected: &str) -> DecontamError {
        DecontamError::Field(format!(
            "field {:?}: the value under {key:?} is not {expected}",
            self.text
        ))
    }
}

/// The text segments of `record` selected by each of `fields`, in order.
pub fn extract_all(record: &Value, fields: &[FieldPath]) -> Result<Vec<String>, DecontamError> {
    let mut segments = Vec::new();
    for field in fields {
        field.extract(record, &mut segments)?;
    }
    Ok(segments)
}

/// The record's id as text, when `id_field` is present and a string or number.
pub fn record_id(record: &Value, id_field: Option<&str>) -> Option<String> {
    match record.get(id_field?)? {
        Value::String(id) => Some(id.clone()),
        Value::Number(id) => Some(id.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn extract(path: &str, record: Value) -> Result<Vec<String>, DecontamError> {
        extract_all(&record, &[FieldPath::parse(path)?])
    }

    #[test]
    fn user_turns_of_a_chat() {
        let record = json!({"messages": [
            {"role": "system", "content": "be nice"},
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "answer"},
            {"role": "user", "content": "second"}
        ]});
        assert_eq!(
            extract("messages[role=user].content", record.clone()).unwrap(),
            ["first", "second"]
        );
        assert_eq!(
            extract("messages[*].content", record.clone())
                .unwrap()
                .len(),
            4
        );
        assert_eq!(extract("messages[2].content", record).unwrap(), ["answer"]);
    }

    #[test]
    fn scalars_lists_and_nulls() {
        let record = json!({"q": "what", "choices": ["a", 1, null, true], "none": null});
        assert_eq!(
            extract("choices", record.clone()).unwrap(),
            ["a", "1", "true"]
        );
        assert!(extract("none", record.clone()).unwrap().is_empty());
        assert!(extract("none.deeper", record).unwrap().is_empty());
    }

    #[test]
    fn missing_and_wrong_fields_are_named() {
        let err = extract("question", json!({"problem": "x"}))
            .unwrap_err()
            .to_string();
        assert!(err.contains("\"question\" not found"), "{err}");
        let err = extract("meta", json!({"meta": {"a": 1}}))
            .unwrap_err()
            .to_string();
        assert!(err.contains("object"), "{err}");
        let err = extract("q[*]", json!({"q": "text"}))
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a list"), "{err}");
    }

    #[test]
    fn bad_paths_are_refused() {
        for path in ["", "a..b", "a[", "a[x]", "[*]"] {
            assert!(FieldPath::parse(path).is_err(), "{path}");
        }
    }

    #[test]
    fn ids() {
        assert_eq!(
            record_id(&json!({"id": 7}), Some("id")).as_deref(),
            Some("7")
        );
        assert_eq!(
            record_id(&json!({"id": "a"}), Some("id")).as_deref(),
            Some("a")
        );
        assert_eq!(record_id(&json!({"x": "a"}), Some("id")), None);
        assert_eq!(record_id(&json!({"id": "a"}), None), None);
    }
}
