//! The NFC normalizer as `tokenizers` applies it: `NormalizedString::nfc`, the normalized text with, for each of
//! its bytes, the range of the original text it is aligned with (the offsets HF reports come from these).
//!
//! The characters and their `changes` come from `unicode-normalization-alignments`, the crate `tokenizers` uses
//! (its Unicode 9 tables: `unicode-normalization`'s newer tables would normalize some text differently); the
//! alignments are computed as `NormalizedString::transform` computes them. The crate yields each output
//! character with a change: `1` a character added (it takes the alignment of the original character before the
//! current one), `0` one replacing the current original character, `-n` one replacing it and the `n` after it.
//! Which original characters a change consumes is positional, not semantic: where canonical reordering moves a
//! mark, `tokenizers` aligns it with whatever character stands at that position, and so does this.

use unicode_normalization_alignments::{is_nfc_quick, IsNormalized, UnicodeNormalization};

/// A text's NFC and, per byte of it, the original byte range it is aligned with.
#[derive(Debug, PartialEq, Eq)]
pub struct Normalized {
    pub text: String,
    pub alignments: Vec<(usize, usize)>,
}

/// Whether NFC leaves `text` as it is, alignments included (the quick check's "yes"; "maybe" says no). Most
/// text is: ASCII first, which every normalization form keeps.
pub fn is_nfc(text: &str) -> bool {
    text.is_ascii() || is_nfc_quick(text.chars()) == IsNormalized::Yes
}

impl Normalized {
    /// `original`'s NFC with its alignments, or None where the crate's changes consume more characters than
    /// the original has (where `tokenizers` would index past its alignments and panic; never seen).
    pub fn nfc(original: &str) -> Option<Self> {
        transform(original, original.nfc())
    }

    /// The original range of the normalized bytes `start..end` (`convert_offsets(Range::Normalized)`: from
    /// the first byte's alignment start to the last byte's alignment end).
    pub fn original_range(&self, start: usize, end: usize) -> (usize, usize) {
        if start >= end {
            return (start, end);
        }
        (self.alignments[start].0, self.alignments[end - 1].1)
    }
}

/// `NormalizedString::transform_range` over the whole of a fresh `NormalizedString` (each original byte
/// aligned with its own character): `offset` walks the original's characters as the changes consume them.
fn transform(original: &str, dest: impl Iterator<Item = (char, isize)>) -> Option<Normalized> {
    let chars: Vec<(usize, usize)> = original
        .char_indices()
        .map(|(i, c)| (i, i + c.len_utf8()))
        .collect();
    let mut text = String::with_capacity(original.len() + 8);
    let mut alignments = Vec::with_capacity(original.len() + 8);
    let mut consumed = 0; // original characters replaced or removed so far
    for (c, change) in dest {
        let align = if change > 0 {
            // a new character: the alignment of the one before (none at the very start)
            match consumed {
                0 => (0, 0),
                n => chars[n - 1],
            }
        } else {
            // (`tokenizers` would panic past the end: the caller falls back to it)
            let align = *chars.get(consumed)?;
            consumed = (consumed + 1 + change.unsigned_abs()).min(chars.len());
            align
        };
        text.push(c);
        alignments.resize(alignments.len() + c.len_utf8(), align);
    }
    Some(Normalized { text, alignments })
}
