use super::normalize::{self, Normalized};
use super::*;

/// A byte-level tokenizer.json: every byte, the given merges, the Tülu role markers as added tokens.
fn tokenizer(merges: &[(&str, &str)], pre_tokenizer: Value, post_processor: Value) -> String {
    let chars = byte_chars();
    let mut vocab = serde_json::Map::new();
    for c in chars {
        let id = vocab.len();
        vocab.insert(c.to_string(), id.into());
    }
    for (left, right) in merges {
        let id = vocab.len();
        vocab.insert(format!("{left}{right}"), id.into());
    }
    let added: Vec<Value> = ["<|user|>", "<|assistant|>", "</s>"]
        .iter()
        .enumerate()
        .map(|(i, content)| {
            serde_json::json!({"id": 1000 + i, "content": content, "single_word": false, "lstrip": false,
                "rstrip": false, "normalized": false, "special": true})
        })
        .collect();
    let merges: Vec<String> = merges.iter().map(|(l, r)| format!("{l} {r}")).collect();
    serde_json::json!({
        "normalizer": null,
        "pre_tokenizer": pre_tokenizer,
        "post_processor": post_processor,
        "added_tokens": added,
        "model": {"type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null,
            "end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
            "vocab": vocab, "merges": merges},
    })
    .to_string()
}

fn gpt2() -> Value {
    serde_json::json!({"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true})
}

fn id_of(c: char) -> u32 {
    byte_chars().iter().position(|&b| b == c).unwrap() as u32
}

#[test]
fn merges_lowest_rank_first_and_leftmost_among_equals() {
    let json = tokenizer(&[("a", "a"), ("aa", "a")], gpt2(), Value::Null);
    let encoder = Encoder::from_json(&json).unwrap();
    let aa = 256;
    let aaa = 257;
    let ids: Vec<u32> = encoder
        .encode("aaaa")
        .unwrap()
        .iter()
        .map(|t| t.id)
        .collect();
    // (a a) merges first, leftmost: aa a a -> aa aa (the second a a pair) ; "aa a" is rank 1 but "a a" is 0
    assert_eq!(ids, vec![aa, aa]);
    let ids: Vec<u32> = encoder
        .encode("aaa")
        .unwrap()
        .iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(ids, vec![aaa]);
}

#[test]
fn splits_added_tokens_then_the_gpt2_regex_and_keeps_byte_offsets() {
    let json = tokenizer(&[("Ġ", "b")], gpt2(), Value::Null);
    let encoder = Encoder::from_json(&json).unwrap();
    let text = "<|user|>\na b</s>é";
    let tokens = encoder.encode(text).unwrap();
    let ids: Vec<u32> = tokens.iter().map(|t| t.id).collect();
    let e = "é".as_bytes();
    assert_eq!(
        ids,
        vec![
            1000,
            id_of('Ċ'),
            id_of('a'),
            256,
            1002,
            id_of(byte_chars()[e[0] as usize]),
            id_of(byte_chars()[e[1] as usize])
        ]
    );
    let starts: Vec<usize> = tokens.iter().map(|t| t.start).collect();
    assert_eq!(starts, vec![0, 8, 9, 10, 12, 16, 17]);
}

#[test]
fn trim_offsets_moves_a_leading_space_and_labels_follow_it() {
    let trim =
        serde_json::json!({"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true});
    let json = tokenizer(&[("Ġ", "b")], gpt2(), trim);
    let encoder = Encoder::from_json(&json).unwrap();
    // " b" starts at the space (1), reported at the b (2): labelled by a span that starts at the b
    let (ids, labels) = encode_labelled(&encoder, "a b", &[(2, 3)]).unwrap();
    assert_eq!(ids, vec![id_of('a'), 256]);
    assert_eq!(labels, vec![-100, 256]);
    let plain = Encoder::from_json(&tokenizer(&[("Ġ", "b")], gpt2(), Value::Null)).unwrap();
    let (_, labels) = encode_labelled(&plain, "a b", &[(2, 3)]).unwrap();
    assert_eq!(labels, vec![-100, -100]);
}

#[test]
fn digits_and_split_steps_run_in_order() {
    let sequence = serde_json::json!({"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": "\\p{N}{1,3}"}, "behavior": "Isolated", "invert": false},
        {"type": "Digits", "individual_digits": false},
        {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false},
    ]});
    let json = tokenizer(
        &[("1", "2"), ("12", "3"), ("123", "4")],
        sequence,
        Value::Null,
    );
    let encoder = Encoder::from_json(&json).unwrap();
    let ids: Vec<u32> = encoder
        .encode("1234")
        .unwrap()
        .iter()
        .map(|t| t.id)
        .collect();
    // the Split isolates "123" and "4": "1234" is never formed
    assert_eq!(ids, vec![257, id_of('4')]);
}

#[test]
fn spans_overlapping_touching_empty_or_reversed_label_as_their_union() {
    let encoder = Encoder::from_json(&tokenizer(&[], gpt2(), Value::Null)).unwrap();
    let text = "abcdefghij";
    let spans = [(6, 8), (1, 3), (2, 4), (4, 5), (9, 9), (9, 7), (12, 20)];
    let (ids, labels) = encode_labelled(&encoder, text, &spans).unwrap();
    let trained: Vec<bool> = labels.iter().map(|&l| l != -100).collect();
    let want: Vec<bool> = (0..text.len())
        .map(|i| spans.iter().any(|&(s, e)| s <= i && i < e))
        .collect();
    assert_eq!(trained, want);
    assert_eq!(ids.len(), text.len());
}

#[test]
fn byte_spans_convert_char_offsets() {
    assert_eq!(byte_spans("aé b", &[(1, 2), (3, 9)]), vec![(1, 3), (4, 10)]);
    assert_eq!(byte_spans("", &[(0, 0)]), vec![(0, 0)]);
}

#[test]
fn unsupported_configurations_say_what() {
    let mut json: Value = serde_json::from_str(&tokenizer(&[], gpt2(), Value::Null)).unwrap();
    for normalizer in [
        serde_json::json!({"type": "NFKC"}),
        serde_json::json!({"type": "NFD"}),
        serde_json::json!({"type": "Lowercase"}),
        serde_json::json!({"type": "Sequence", "normalizers": [{"type": "NFC"}]}),
    ] {
        json["normalizer"] = normalizer;
        let err = Encoder::from_json(&json.to_string()).err().unwrap();
        assert_eq!(err.0, "a normalizer");
    }
    // a normalised added token NFC changes: which pattern `tokenizers` matches depends on its version
    json["normalizer"] = serde_json::json!({"type": "NFC"});
    json["added_tokens"][0]["normalized"] = true.into();
    json["added_tokens"][0]["content"] = "e\u{301}".into();
    let err = Encoder::from_json(&json.to_string()).err().unwrap();
    assert_eq!(
        err.0,
        "a normalized added token that NFC changes (\"e\\u{301}\")"
    );
    json["added_tokens"][0]["content"] = "\u{e9}".into();
    assert!(Encoder::from_json(&json.to_string()).is_ok());
    assert!(Encoder::from_json("{").is_err());
}

/// Each char's byte range, for each of its bytes: the alignments of a text NFC leaves as it is.
fn identity(text: &str) -> Vec<(usize, usize)> {
    text.char_indices()
        .flat_map(|(i, c)| std::iter::repeat((i, i + c.len_utf8())).take(c.len_utf8()))
        .collect()
}

fn nfc(text: &str) -> (String, Vec<(usize, usize)>) {
    let normalized = Normalized::nfc(text).unwrap();
    (normalized.text, normalized.alignments)
}

#[test]
fn nfc_alignments_are_tokenizers() {
    // the offsets `tokenizers` 0.23 reports for these (as bytes): a composition is aligned with its first
    // original character only; an added character with the original character before the current one
    assert_eq!(nfc(""), (String::new(), vec![]));
    assert_eq!(nfc("e\u{301}"), ("\u{e9}".into(), vec![(0, 1); 2]));
    assert_eq!(nfc("\u{212B}"), ("\u{c5}".into(), vec![(0, 3); 2]));
    assert_eq!(
        nfc("\u{F900}x"),
        ("\u{8C48}x".into(), vec![(0, 3), (0, 3), (0, 3), (3, 4)])
    );
    assert_eq!(
        nfc("\u{1100}\u{1161}\u{11A8}"),
        ("\u{AC01}".into(), vec![(0, 3); 3])
    );
    // canonical reordering: U+0316 (class 220) goes before U+0301 (230), which composes with the a
    assert_eq!(
        nfc("a\u{301}\u{316}"),
        ("\u{e1}\u{316}".into(), vec![(0, 1), (0, 1), (3, 5), (3, 5)])
    );
    // U+1E0B (d, dot above) + U+0323: d + dot below composes first; the dot above is added after it
    let mut want = vec![(0, 3); 3];
    want.extend([(3, 5); 2]);
    assert_eq!(nfc("\u{1E0B}\u{323}"), ("\u{1E0D}\u{307}".into(), want));
    // U+0F73 decomposes into two marks that sort before the U+0301 standing first: positional alignments
    let mut want = vec![(0, 2); 6];
    want.extend([(2, 5); 2]);
    assert_eq!(
        nfc("\u{301}\u{F73}"),
        ("\u{F71}\u{F72}\u{301}".into(), want)
    );
    // Unicode 9's tables, as `tokenizers`': U+11938's decomposition (Unicode 13) is not composed back
    let dives_akuru = "\u{11935}\u{11930}";
    assert_eq!(
        nfc(dives_akuru),
        (dives_akuru.into(), identity(dives_akuru))
    );
    // a singleton decomposing into two marks, and a lone mark at the end
    assert_eq!(nfc("\u{344}"), ("\u{308}\u{301}".into(), vec![(0, 2); 4]));
    assert_eq!(nfc("x\u{301}"), ("x\u{301}".into(), identity("x\u{301}")));
    let normalized = Normalized::nfc("a\u{301}\u{316}").unwrap();
    assert_eq!(normalized.original_range(0, 2), (0, 1));
    assert_eq!(normalized.original_range(1, 4), (0, 5));
    assert_eq!(normalized.original_range(2, 2), (2, 2));
}

#[test]
fn the_quick_check_passes_only_text_nfc_leaves_as_it_is() {
    assert!(normalize::is_nfc("plain ASCII\n") && normalize::is_nfc("caf\u{e9} \u{AC01}"));
    assert!(!normalize::is_nfc("cafe\u{301}") && !normalize::is_nfc("\u{212B}"));
    // every scalar value alone, after a letter, and before a combining mark: wherever the fast path skips
    // the normalization, the normalization would have kept the text and its alignments as they are
    let mut skipped = 0;
    for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
        for text in [format!("{c}"), format!("a{c}"), format!("{c}\u{301}")] {
            if normalize::is_nfc(&text) {
                skipped += 1;
                let normalized = Normalized::nfc(&text).unwrap();
                assert_eq!(normalized.text, text);
                assert_eq!(normalized.alignments, identity(&text), "{text:?}");
            }
        }
    }
    assert!(skipped > 2_000_000, "{skipped}");
}

/// The tokenizer of `tokenizer(merges, ..)` with the NFC normalizer.
fn with_nfc(json: String) -> Encoder {
    let mut json: Value = serde_json::from_str(&json).unwrap();
    json["normalizer"] = serde_json::json!({"type": "NFC"});
    Encoder::from_json(&json.to_string()).unwrap()
}

#[test]
fn nfc_pieces_between_added_tokens_are_normalized_alone() {
    let encoder = with_nfc(tokenizer(&[("Ã", "©")], gpt2(), Value::Null));
    let tokens = encoder.encode("e\u{301}x").unwrap();
    let got: Vec<(u32, usize, usize)> = tokens.iter().map(|t| (t.id, t.start, t.end)).collect();
    // é is one token, reported over the e alone, as `tokenizers` reports it
    assert_eq!(got, vec![(256, 0, 1), (id_of('x'), 3, 4)]);
    // an added token between the e and its mark: nothing to compose
    let tokens = encoder.encode("e<|user|>\u{301}").unwrap();
    let ids: Vec<u32> = tokens.iter().map(|t| t.id).collect();
    assert_eq!(ids, vec![id_of('e'), 1000, id_of('Ì'), id_of('ģ')]);
    assert!(tokens[1].added && !tokens[0].added);
    let starts: Vec<usize> = tokens.iter().map(|t| t.start).collect();
    assert_eq!(starts, vec![0, 1, 9, 9]);
}

#[test]
fn nfc_offsets_then_trim_offsets() {
    let trim =
        serde_json::json!({"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true});
    // "Ġ" + the first byte of Å (C3 85): one token, over the space and the angstrom sign it was normalized from
    let encoder = with_nfc(tokenizer(&[("Ġ", "Ã")], gpt2(), trim));
    let text = "a \u{212B}";
    let tokens = encoder.encode(text).unwrap();
    let got: Vec<(u32, usize, usize)> = tokens.iter().map(|t| (t.id, t.start, t.end)).collect();
    assert_eq!(
        got,
        vec![(id_of('a'), 0, 1), (256, 1, 5), (id_of('ħ'), 2, 5)]
    );
    assert_eq!(encoder.reported_starts(text, &tokens), vec![0, 2, 2]);
    let (_, labels) = encode_labelled(&encoder, text, &[(2, 3)]).unwrap();
    assert_eq!(labels, vec![-100, 256, id_of('ħ') as i32]);
}

#[test]
fn empty_and_hostile_text() {
    let encoder = Encoder::from_json(&tokenizer(&[], gpt2(), Value::Null)).unwrap();
    assert!(encoder.encode("").unwrap().is_empty());
    let long = "x".repeat(10_000) + &"\u{10FFFF}\u{0}\r\n".repeat(100);
    let tokens = encoder.encode(&long).unwrap();
    assert_eq!(tokens.len(), long.len());
}
