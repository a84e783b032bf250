//! Byte-level BPE encoding, the ids of a Hugging Face `tokenizers` tokenizer.json, several times faster.
//!
//! Preparing Tülu 3's SFT mixture is dominated by tokenization, and `tokenizers` spends most of its time on
//! bookkeeping we do not need (a normalised string with per-byte alignments for every piece, char offsets for
//! every token). This encoder runs the same pipeline on plain byte ranges of the input:
//!
//!   added tokens   split off first, leftmost-longest (`AddedVocabulary`): unnormalised tokens on the text
//!   normalizer     NFC or none, on each piece between them (`normalize`: most text is NFC already and
//!                  passes as it is; a piece it changes is encoded normalized, its tokens' offsets mapped
//!                  back to the original through the normalization's alignments, as HF maps them)
//!   added tokens   the normalised ones, on each normalized piece
//!   pre-tokenizer  the `Split` (regex, isolated) and `Digits` steps in order, then `ByteLevel` (its GPT-2
//!                  regex when `use_regex`), each splitting the pieces the previous one left
//!   model          BPE over the piece's bytes (one symbol a byte, merges lowest rank first, leftmost among
//!                  equals, `ignore_merges`), with a per-thread cache of pieces already seen
//!
//! Each token carries the byte range of the original text it covers (for a normalized piece: HF's), its start
//! adjusted as the `ByteLevel` post-processor's `trim_offsets` adjusts HF's offsets, so "the token's first
//! character lies in a span" is decided exactly as on HF's offsets. Only the configurations this supports are
//! accepted ([`Encoder::from_json`] says which part is not); the caller falls back to `tokenizers` for any
//! other. Equality with `tokenizers` is tested on every bundled tokenizer shape (Qwen 2's NFC among them), on
//! text drawn from all of Unicode and on every code point (tests/test_native_bpe.py).

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use fancy_regex::Regex;
use serde_json::Value;

use normalize::Normalized;

/// `tokenizers`' ByteLevel pre-tokenizer regex (GPT-2's).
const GPT2_PATTERN: &str =
    r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";
/// Pieces at most this long are cached (as `tokenizers` does, below 256 bytes).
const CACHED_PIECE_BYTES: usize = 256;
/// Cached pieces per thread and encoder.
const CACHE_CAPACITY: usize = 200_000;

/// Why a tokenizer, or an input, is not handled here (the caller then uses `tokenizers` itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported(pub String);

impl std::fmt::Display for Unsupported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn unsupported<T>(message: impl Into<String>) -> Result<T, Unsupported> {
    Err(Unsupported(message.into()))
}

/// GPT-2's map of bytes to printable characters (`bytes_to_unicode`).
pub fn byte_chars() -> [char; 256] {
    let mut printable: Vec<u32> = (b'!'..=b'~').map(u32::from).collect();
    printable.extend((0xA1..=0xAC).chain(0xAE..=0xFF));
    let mut chars = ['\0'; 256];
    let mut extra = 0;
    for byte in 0..256u32 {
        let code = if printable.contains(&byte) {
            byte
        } else {
            extra += 1;
            255 + extra
        };
        chars[byte as usize] = char::from_u32(code).expect("codes below 0x200 are characters");
    }
    chars
}

enum Step {
    /// `Split` with `Isolated` behaviour, or `ByteLevel`'s own regex: matches and the text between them
    Isolate(Regex),
    /// `Digits`: every numeric character alone, or runs of them
    Digits { individual: bool },
}

struct AddedTokens {
    matcher: AhoCorasick,
    ids: Vec<u32>,
}

/// The `ByteLevel` post-processor's offset trimming (`trim_offsets`), with its `add_prefix_space`.
#[derive(Clone, Copy)]
struct Trim {
    add_prefix_space: bool,
}

pub struct Encoder {
    id: u64,
    /// the NFC normalizer (the only one supported)
    nfc: bool,
    steps: Vec<Step>,
    /// each byte's own token, or None (a byte with no token is dropped)
    byte_ids: [Option<u32>; 256],
    /// every vocabulary entry made of byte characters, by its bytes (`ignore_merges` looks pieces up here)
    vocab: HashMap<Vec<u8>, u32>,
    merges: Merges,
    ignore_merges: bool,
    added: Option<AddedTokens>,
    added_normalized: Option<AddedTokens>,
    /// each added token's leading characters that `trim_offsets` counts (Ġ or whitespace)
    added_lead: HashMap<u32, usize>,
    trim: Option<Trim>,
}

/// A token: its id, whether it is an added token matched in the text (else the model's), and the bytes of the
/// original text it covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Token {
    pub id: u32,
    pub added: bool,
    pub start: usize,
    pub end: usize,
}

impl Token {
    fn model(id: u32, start: usize, end: usize) -> Self {
        Self {
            id,
            added: false,
            start,
            end,
        }
    }

    fn added((start, end): (usize, usize), id: u32) -> Self {
        Self {
            id,
            added: true,
            start,
            end,
        }
    }
}

/// (left, right) -> (rank, merged id)
type Merges = HashMap<(u32, u32), (u32, u32)>;
/// pieces already encoded: the piece's bytes -> (id, start within the piece, end) of its tokens
type PieceCache = HashMap<Box<[u8]>, Vec<(u32, u16, u16)>>;

static NEXT_ENCODER: AtomicU64 = AtomicU64::new(0);
/// Encoders whose caches a thread keeps (a thread that meets another drops them all: old encoders' caches
/// never pile up).
const CACHED_ENCODERS: usize = 4;

thread_local! {
    static CACHE: RefCell<HashMap<u64, PieceCache>> = RefCell::new(HashMap::new());
}

fn field<'a>(value: &'a Value, key: &str) -> &'a Value {
    value.get(key).unwrap_or(&Value::Null)
}

fn is_off(value: &Value) -> bool {
    match value {
        Value::Null | Value::Bool(false) => true,
        Value::String(s) => s.is_empty(),
        Value::Number(n) => n.as_f64() == Some(0.0),
        _ => false,
    }
}

impl Encoder {
    /// The encoder of a serialized `tokenizers` tokenizer (`Tokenizer.to_str()`), or what it does not support.
    pub fn from_json(json: &str) -> Result<Self, Unsupported> {
        let root: Value =
            serde_json::from_str(json).map_err(|e| Unsupported(format!("not JSON: {e}")))?;
        let nfc = match field(&root, "normalizer") {
            Value::Null => false,
            normalizer if field(normalizer, "type").as_str() == Some("NFC") => true,
            _ => return unsupported("a normalizer"),
        };
        let steps = pre_tokenizer_steps(field(&root, "pre_tokenizer"))?;
        let model = field(&root, "model");
        if field(model, "type").as_str() != Some("BPE") {
            return unsupported("a model other than BPE");
        }
        for key in [
            "dropout",
            "continuing_subword_prefix",
            "end_of_word_suffix",
            "byte_fallback",
        ] {
            if !is_off(field(model, key)) {
                return unsupported(format!("BPE with {key}"));
            }
        }
        let chars = byte_chars();
        let char_bytes: HashMap<char, u8> = chars
            .iter()
            .enumerate()
            .map(|(b, &c)| (c, b as u8))
            .collect();
        let Some(vocab_json) = field(model, "vocab").as_object() else {
            return unsupported("a BPE model without a vocabulary");
        };
        let mut ids: HashMap<&str, u32> = HashMap::with_capacity(vocab_json.len());
        let mut vocab = HashMap::with_capacity(vocab_json.len());
        for (token, id) in vocab_json {
            let Some(id) = id.as_u64().and_then(|id| u32::try_from(id).ok()) else {
                return unsupported(format!("vocabulary id of {token:?}"));
            };
            ids.insert(token.as_str(), id);
            let bytes: Option<Vec<u8>> =
                token.chars().map(|c| char_bytes.get(&c).copied()).collect();
            if let Some(bytes) = bytes {
                vocab.insert(bytes, id);
            }
        }
        let mut byte_ids = [None; 256];
        for (byte, c) in chars.iter().enumerate() {
            byte_ids[byte] = ids.get(c.to_string().as_str()).copied();
        }
        let merges = parse_merges(field(model, "merges"), &ids)?;
        // a byte without a token is dropped, or becomes `unk_token` (not supported: byte-level vocabularies
        // hold every byte)
        if !field(model, "unk_token").is_null() && byte_ids.iter().any(Option::is_none) {
            return unsupported("an unk_token for bytes outside the vocabulary");
        }
        let (added, added_normalized, added_lead) =
            added_tokens(field(&root, "added_tokens"), nfc)?;
        Ok(Self {
            id: NEXT_ENCODER.fetch_add(1, Ordering::Relaxed),
            nfc,
            steps,
            byte_ids,
            vocab,
            merges,
            ignore_merges: field(model, "ignore_merges").as_bool().unwrap_or(false),
            added,
            added_normalized,
            added_lead,
            trim: offset_trim(field(&root, "post_processor"))?,
        })
    }

    /// The tokens of `text`, as `Tokenizer.encode(text, add_special_tokens=False)` gives them.
    pub fn encode(&self, text: &str) -> Result<Vec<Token>, Unsupported> {
        let mut tokens = Vec::with_capacity(text.len() / 3 + 1);
        for (start, end, added) in split_added(self.added.as_ref(), text, 0, text.len()) {
            match added {
                Some(id) => tokens.push(Token::added((start, end), id)),
                None if self.nfc && !normalize::is_nfc(&text[start..end]) => {
                    self.encode_normalized(text, start, end, &mut tokens)?
                }
                None => self.encode_piece_text(text, start, end, &mut tokens)?,
            }
        }
        Ok(tokens)
    }

    /// The tokens of `text[start..end]`, which NFC changes: those of its NFC, each mapped to the original range
    /// HF reports for it (from its first byte's alignment to its last byte's: a token made of part of a
    /// character's bytes covers the whole character).
    fn encode_normalized(
        &self,
        text: &str,
        start: usize,
        end: usize,
        tokens: &mut Vec<Token>,
    ) -> Result<(), Unsupported> {
        let Some(normalized) = Normalized::nfc(&text[start..end]) else {
            return unsupported("an NFC alignment past the text's end");
        };
        let first = tokens.len();
        self.encode_piece_text(&normalized.text, 0, normalized.text.len(), tokens)?;
        for token in &mut tokens[first..] {
            let (s, e) = normalized.original_range(token.start, token.end);
            (token.start, token.end) = (start + s, start + e);
        }
        Ok(())
    }

    /// The tokens of a (normalized) piece between unnormalised added tokens: its normalised added tokens, and
    /// the model's tokens of the text between them.
    fn encode_piece_text(
        &self,
        text: &str,
        start: usize,
        end: usize,
        tokens: &mut Vec<Token>,
    ) -> Result<(), Unsupported> {
        if self.added_normalized.is_none() {
            return self.encode_text(text, start, end, tokens);
        }
        for (s, e, added) in split_added(self.added_normalized.as_ref(), text, start, end) {
            match added {
                Some(id) => tokens.push(Token::added((s, e), id)),
                None => self.encode_text(text, s, e, tokens)?,
            }
        }
        Ok(())
    }

    /// The start HF reports for each token (byte offset) once the post-processor has trimmed its offsets: by
    /// as many characters as the token's string begins with Ġ or whitespace.
    pub fn reported_starts(&self, text: &str, tokens: &[Token]) -> Vec<usize> {
        let Some(trim) = self.trim else {
            return tokens.iter().map(|t| t.start).collect();
        };
        tokens
            .iter()
            .enumerate()
            .map(|(i, token)| {
                if !token.added {
                    // a byte-level token: its characters are the (normalized) text's bytes, mapped; only a
                    // space maps to a character `trim_offsets` counts (Ġ). NFC keeps every space as it is,
                    // aligned with itself (a starter that composes with nothing), so the spaces a token begins
                    // with are the original's at its start.
                    let spaces = text.as_bytes()[token.start..token.end]
                        .iter()
                        .take_while(|&&b| b == b' ')
                        .count();
                    return trimmed(token, spaces, spaces, i, trim);
                }
                // an added token: its content's leading characters, counted in the original text (HF adds
                // them to its char offsets)
                let lead = self.added_lead.get(&token.id).copied().unwrap_or(0);
                let bytes = text[token.start..token.end]
                    .char_indices()
                    .nth(lead)
                    .map_or(token.end - token.start, |(i, _)| i);
                trimmed(token, lead, bytes, i, trim)
            })
            .collect()
    }

    fn encode_text(
        &self,
        text: &str,
        start: usize,
        end: usize,
        tokens: &mut Vec<Token>,
    ) -> Result<(), Unsupported> {
        let mut pieces = vec![(start, end)];
        for step in &self.steps {
            let mut next = Vec::with_capacity(pieces.len() * 2);
            for &(s, e) in &pieces {
                split_piece(step, text, s, e, &mut next)?;
            }
            pieces = next;
        }
        for (s, e) in pieces {
            self.encode_piece(&text.as_bytes()[s..e], s, tokens);
        }
        Ok(())
    }

    fn encode_piece(&self, piece: &[u8], offset: usize, tokens: &mut Vec<Token>) {
        if self.ignore_merges {
            if let Some(&id) = self.vocab.get(piece) {
                tokens.push(Token::model(id, offset, offset + piece.len()));
                return;
            }
        }
        if piece.len() > CACHED_PIECE_BYTES {
            for (id, s, e) in self.merge_piece(piece) {
                tokens.push(Token::model(id, offset + s, offset + e));
            }
            return;
        }
        CACHE.with(|cell| {
            let mut caches = cell.borrow_mut();
            if !caches.contains_key(&self.id) && caches.len() >= CACHED_ENCODERS {
                caches.clear();
            }
            let cache = caches.entry(self.id).or_default();
            let push =
                |found: &[(u32, u16, u16)], tokens: &mut Vec<Token>| {
                    tokens.extend(found.iter().map(|&(id, s, e)| {
                        Token::model(id, offset + s as usize, offset + e as usize)
                    }));
                };
            if let Some(found) = cache.get(piece) {
                push(found, tokens);
                return;
            }
            let merged: Vec<(u32, u16, u16)> = self
                .merge_piece(piece)
                .into_iter()
                .map(|(id, s, e)| (id, s as u16, e as u16))
                .collect();
            push(&merged, tokens);
            if cache.len() < CACHE_CAPACITY {
                cache.insert(piece.into(), merged);
            }
        });
    }

    /// BPE over one piece: (id, start, end) within it. `tokenizers`' `Word::merge_all`: the lowest-ranked
    /// adjacent pair merges first, the leftmost among equal ranks.
    fn merge_piece(&self, piece: &[u8]) -> Vec<(u32, usize, usize)> {
        struct Symbol {
            id: u32,
            start: usize,
            end: usize,
            prev: Option<usize>,
            next: Option<usize>,
            alive: bool,
        }
        let mut symbols: Vec<Symbol> = Vec::with_capacity(piece.len());
        for (i, &byte) in piece.iter().enumerate() {
            // a byte without a token is dropped, as `tokenizers` drops a character it has no token for
            let Some(id) = self.byte_ids[byte as usize] else {
                continue;
            };
            let index = symbols.len();
            if let Some(last) = symbols.last_mut() {
                last.next = Some(index);
            }
            symbols.push(Symbol {
                id,
                start: i,
                end: i + 1,
                prev: index.checked_sub(1),
                next: None,
                alive: true,
            });
        }
        let mut queue: BinaryHeap<Reverse<(u32, usize, u32)>> = symbols
            .windows(2)
            .enumerate()
            .filter_map(|(pos, pair)| {
                self.merges
                    .get(&(pair[0].id, pair[1].id))
                    .map(|&(rank, id)| Reverse((rank, pos, id)))
            })
            .collect();
        while let Some(Reverse((_, pos, new_id))) = queue.pop() {
            let Some(next) = symbols[pos].next.filter(|_| symbols[pos].alive) else {
                continue;
            };
            // an entry made stale by an earlier merge at either side
            if self
                .merges
                .get(&(symbols[pos].id, symbols[next].id))
                .map(|m| m.1)
                != Some(new_id)
            {
                continue;
            }
            let right_next = symbols[next].next;
            symbols[pos].id = new_id;
            symbols[pos].end = symbols[next].end;
            symbols[pos].next = right_next;
            symbols[next].alive = false;
            if let Some(after) = right_next {
                symbols[after].prev = Some(pos);
            }
            if let Some(before) = symbols[pos].prev {
                if let Some(&(rank, id)) = self.merges.get(&(symbols[before].id, new_id)) {
                    queue.push(Reverse((rank, before, id)));
                }
            }
            if let Some(after) = right_next {
                if let Some(&(rank, id)) = self.merges.get(&(new_id, symbols[after].id)) {
                    queue.push(Reverse((rank, pos, id)));
                }
            }
        }
        symbols
            .into_iter()
            .filter(|s| s.alive)
            .map(|s| (s.id, s.start, s.end))
            .collect()
    }
}

/// `text[start..end]` split at the leftmost-longest matches of `tokens`: (start, end, the token's id or None).
fn split_added(
    tokens: Option<&AddedTokens>,
    text: &str,
    start: usize,
    end: usize,
) -> Vec<(usize, usize, Option<u32>)> {
    let Some(tokens) = tokens else {
        return vec![(start, end, None)];
    };
    let mut splits = Vec::new();
    let mut position = start;
    for found in tokens.matcher.find_iter(&text[start..end]) {
        if start + found.start() > position {
            splits.push((position, start + found.start(), None));
        }
        let id = tokens.ids[found.pattern().as_usize()];
        splits.push((start + found.start(), start + found.end(), Some(id)));
        position = start + found.end();
    }
    if position < end {
        splits.push((position, end, None));
    }
    splits
}

fn trimmed(
    token: &Token,
    leading_chars: usize,
    leading_bytes: usize,
    index: usize,
    trim: Trim,
) -> usize {
    if leading_chars == 0 {
        return token.start;
    }
    let is_first = index == 0 || token.start == 0;
    if is_first && trim.add_prefix_space && leading_chars == 1 {
        return token.start;
    }
    (token.start + leading_bytes).min(token.end)
}

fn split_piece(
    step: &Step,
    text: &str,
    start: usize,
    end: usize,
    out: &mut Vec<(usize, usize)>,
) -> Result<(), Unsupported> {
    let piece = &text[start..end];
    match step {
        Step::Isolate(regex) => {
            let mut position = 0;
            for found in regex.find_iter(piece) {
                let found = found.map_err(|e| Unsupported(format!("regex: {e}")))?;
                if found.start() == found.end() {
                    return unsupported("a pre-tokenizer regex matched the empty string");
                }
                if found.start() > position {
                    out.push((start + position, start + found.start()));
                }
                out.push((start + found.start(), start + found.end()));
                position = found.end();
            }
            if position < piece.len() {
                out.push((start + position, end));
            }
        }
        Step::Digits { individual } => {
            // numeric characters alone (`individual`) or in runs; the others in runs
            let mut run: Option<(usize, bool)> = None; // where the current piece starts, and its kind
            for (i, c) in piece.char_indices() {
                let numeric = c.is_numeric();
                if let Some((s, kind)) = run {
                    if kind == numeric && !(numeric && *individual) {
                        continue;
                    }
                    out.push((start + s, start + i));
                }
                run = Some((i, numeric));
            }
            if let Some((s, _)) = run {
                out.push((start + s, end));
            }
        }
    }
    Ok(())
}

fn pre_tokenizer_steps(value: &Value) -> Result<Vec<Step>, Unsupported> {
    let list: Vec<&Value> = match field(value, "type").as_str() {
        Some("Sequence") => match field(value, "pretokenizers").as_array() {
            Some(items) => items.iter().collect(),
            None => return unsupported("a pre-tokenizer Sequence without pretokenizers"),
        },
        Some(_) => vec![value],
        None => return unsupported("no ByteLevel pre-tokenizer"),
    };
    let Some((last, first)) = list.split_last() else {
        return unsupported("an empty pre-tokenizer Sequence");
    };
    let mut steps = Vec::with_capacity(list.len());
    for step in first {
        steps.push(match field(step, "type").as_str() {
            Some("Split") => split_step(step)?,
            Some("Digits") => Step::Digits {
                individual: field(step, "individual_digits").as_bool().unwrap_or(false),
            },
            Some(other) => return unsupported(format!("the {other} pre-tokenizer")),
            None => return unsupported("a pre-tokenizer without a type"),
        });
    }
    // the bytes are mapped to characters last: a step after it would see the mapped text
    if field(last, "type").as_str() != Some("ByteLevel") {
        return unsupported("a pre-tokenizer that does not end with ByteLevel");
    }
    if field(last, "add_prefix_space").as_bool().unwrap_or(false) {
        return unsupported("ByteLevel with add_prefix_space");
    }
    if field(last, "use_regex").as_bool().unwrap_or(true) {
        steps.push(Step::Isolate(compile(GPT2_PATTERN)?));
    }
    Ok(steps)
}

fn split_step(step: &Value) -> Result<Step, Unsupported> {
    if field(step, "behavior").as_str() != Some("Isolated") || !is_off(field(step, "invert")) {
        return unsupported("a Split pre-tokenizer other than Isolated");
    }
    let pattern = field(step, "pattern");
    let regex = match (
        field(pattern, "Regex").as_str(),
        field(pattern, "String").as_str(),
    ) {
        (Some(regex), _) => regex.to_owned(),
        (None, Some(literal)) => fancy_regex::escape(literal).into_owned(),
        _ => return unsupported("a Split pattern"),
    };
    Ok(Step::Isolate(compile(&regex)?))
}

fn compile(pattern: &str) -> Result<Regex, Unsupported> {
    Regex::new(pattern).map_err(|e| Unsupported(format!("the regex {pattern:?}: {e}")))
}

fn parse_merges(value: &Value, ids: &HashMap<&str, u32>) -> Result<Merges, Unsupported> {
    let Some(list) = value.as_array() else {
        return unsupported("BPE merges");
    };
    let mut merges = HashMap::with_capacity(list.len());
    for (rank, merge) in list.iter().enumerate() {
        let (left, right) = match merge {
            Value::String(pair) => match pair.split_once(' ') {
                Some(pair) => pair,
                None => return unsupported(format!("the merge {pair:?}")),
            },
            Value::Array(pair) if pair.len() == 2 => match (pair[0].as_str(), pair[1].as_str()) {
                (Some(l), Some(r)) => (l, r),
                _ => return unsupported("a merge"),
            },
            _ => return unsupported("a merge"),
        };
        let merged = format!("{left}{right}");
        match (ids.get(left), ids.get(right), ids.get(merged.as_str())) {
            (Some(&l), Some(&r), Some(&m)) => {
                merges.insert((l, r), (rank as u32, m));
            }
            _ => {
                return unsupported(format!(
                    "the merge {left:?} {right:?} outside the vocabulary"
                ))
            }
        }
    }
    Ok(merges)
}

/// (unnormalised added tokens, normalised ones, each one's leading characters `trim_offsets` counts)
type Added = (
    Option<AddedTokens>,
    Option<AddedTokens>,
    HashMap<u32, usize>,
);

fn added_tokens(value: &Value, nfc: bool) -> Result<Added, Unsupported> {
    let mut plain: (Vec<String>, Vec<u32>) = Default::default();
    let mut normalized: (Vec<String>, Vec<u32>) = Default::default();
    let mut leads = HashMap::new();
    for token in value.as_array().map(Vec::as_slice).unwrap_or_default() {
        for key in ["single_word", "lstrip", "rstrip"] {
            if field(token, key).as_bool().unwrap_or(false) {
                return unsupported(format!("an added token with {key}"));
            }
        }
        let (Some(content), Some(id)) = (
            field(token, "content").as_str(),
            field(token, "id")
                .as_u64()
                .and_then(|id| u32::try_from(id).ok()),
        ) else {
            return unsupported("an added token");
        };
        if content.is_empty() {
            continue;
        }
        let target = if field(token, "normalized").as_bool().unwrap_or(false) {
            // matched in the normalized text by its normalized content; which content that is depends on
            // `tokenizers`' version (the normalizer's, or the content as written where it was not applied)
            if nfc && !matches!(Normalized::nfc(content), Some(n) if n.text == content) {
                return unsupported(format!(
                    "a normalized added token that NFC changes ({content:?})"
                ));
            }
            &mut normalized
        } else {
            &mut plain
        };
        target.0.push(content.to_owned());
        target.1.push(id);
        let lead = content
            .chars()
            .take_while(|c| *c == 'Ġ' || c.is_whitespace())
            .count();
        leads.insert(id, lead);
    }
    let build =
        |(patterns, ids): (Vec<String>, Vec<u32>)| -> Result<Option<AddedTokens>, Unsupported> {
            if patterns.is_empty() {
                return Ok(None);
            }
            let matcher = AhoCorasickBuilder::new()
                .match_kind(MatchKind::LeftmostLongest)
                .build(&patterns)
                .map_err(|e| Unsupported(format!("added tokens: {e}")))?;
            Ok(Some(AddedTokens { matcher, ids }))
        };
    Ok((build(plain)?, build(normalized)?, leads))
}

fn offset_trim(value: &Value) -> Result<Option<Trim>, Unsupported> {
    let processors: Vec<&Value> = match field(value, "type").as_str() {
        Some("Sequence") => field(value, "processors")
            .as_array()
            .map(|items| items.iter().collect())
            .unwrap_or_default(),
        _ => vec![value],
    };
    let mut trim = None;
    for processor in processors {
        match field(processor, "type").as_str() {
            Some("ByteLevel") if field(processor, "trim_offsets").as_bool().unwrap_or(true) => {
                trim = Some(Trim {
                    add_prefix_space: field(processor, "add_prefix_space")
                        .as_bool()
                        .unwrap_or(true),
                });
            }
            Some("ByteLevel") | Some("TemplateProcessing") | None => {}
            Some(other) => return unsupported(format!("the {other} post-processor")),
        }
    }
    Ok(trim)
}

/// Byte offsets of the char offsets `spans` in `text`; past the end, a char counts one byte (a trimmed token
/// can report its start at the very end, and must compare with a span's end there as HF's char offsets do).
pub fn byte_spans(text: &str, spans: &[(usize, usize)]) -> Vec<(usize, usize)> {
    let boundaries: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
    let at = |c: usize| {
        boundaries
            .get(c)
            .copied()
            .unwrap_or(text.len() + c - boundaries.len())
    };
    spans.iter().map(|&(s, e)| (at(s), at(e))).collect()
}

/// (ids, labels) of `text`: a token is labelled (its id, else -100) when its reported first character lies in
/// one of the char `spans`.
pub fn encode_labelled(
    encoder: &Encoder,
    text: &str,
    spans: &[(usize, usize)],
) -> Result<(Vec<u32>, Vec<i32>), Unsupported> {
    let tokens = encoder.encode(text)?;
    let starts = encoder.reported_starts(text, &tokens);
    let spans = disjoint(byte_spans(text, spans));
    let ids: Vec<u32> = tokens.iter().map(|t| t.id).collect();
    let labels = ids
        .iter()
        .zip(starts)
        .map(|(&id, start)| {
            // the one span that can hold `start`: the last one starting at or before it
            let i = spans.partition_point(|&(s, _)| s <= start);
            if i > 0 && start < spans[i - 1].1 {
                id as i32
            } else {
                -100
            }
        })
        .collect();
    Ok((ids, labels))
}

/// The union of `spans` as disjoint spans in order (a token is looked up in them by bisection: any number of
/// spans costs a row little).
fn disjoint(mut spans: Vec<(usize, usize)>) -> Vec<(usize, usize)> {
    spans.retain(|(s, e)| s < e);
    spans.sort_unstable();
    let mut union: Vec<(usize, usize)> = Vec::with_capacity(spans.len());
    for (s, e) in spans {
        match union.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => union.push((s, e)),
        }
    }
    union
}

pub mod normalize;
pub mod python;

#[cfg(test)]
mod tests;
