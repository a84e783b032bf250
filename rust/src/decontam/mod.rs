//! N-gram decontamination (Tülu 3's rule), embedded: no search server.
//!
//! - `normalize`: the versioned text normalizer and word tokenizer both sides share;
//! - `index`: the benchmark side, n-gram hashes per instance in an exact hash table, saved to a file;
//! - `matching`: coverage of a benchmark instance by the n-grams of one training document;
//! - `fields`: which text of a JSON record is matched (`messages[role=user].content`, ...);
//! - `scan`: streams JSONL (plain, .gz, .zst) training files in bounded chunks, matched in parallel;
//! - `python`: the bindings (`tulu_lightning._native`), facade `tulu_lightning.decontam`.

pub mod fields;
pub mod index;
pub mod matching;
pub mod normalize;
pub mod python;
pub mod scan;

use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub enum DecontamError {
    /// A file could not be read or written.
    Io(String),
    /// A bad argument or file content (index file, field path, option).
    Invalid(String),
    /// A configured field is missing from a record or holds the wrong type.
    Field(String),
    /// A line is not a JSON object (fatal only when malformed lines are not skipped).
    Malformed(String),
}

impl DecontamError {
    fn message(&self) -> &str {
        match self {
            Self::Io(m) | Self::Invalid(m) | Self::Field(m) | Self::Malformed(m) => m,
        }
    }

    /// The same error with `location` (such as `train.jsonl:12`) in front of its message.
    pub fn at(self, location: &str) -> Self {
        let message = format!("{location}: {}", self.message());
        match self {
            Self::Io(_) => Self::Io(message),
            Self::Invalid(_) => Self::Invalid(message),
            Self::Field(_) => Self::Field(message),
            Self::Malformed(_) => Self::Malformed(message),
        }
    }
}

impl fmt::Display for DecontamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for DecontamError {}
