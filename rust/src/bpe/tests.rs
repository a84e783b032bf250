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
fn byte_spans_convert_char_offsets() {
    assert_eq!(byte_spans("aé b", &[(1, 2), (3, 9)]), vec![(1, 3), (4, 10)]);
    assert_eq!(byte_spans("", &[(0, 0)]), vec![(0, 0)]);
}

#[test]
fn unsupported_configurations_say_what() {
    let mut json: Value = serde_json::from_str(&tokenizer(&[], gpt2(), Value::Null)).unwrap();
    json["normalizer"] = serde_json::json!({"type": "NFC"});
    let err = Encoder::from_json(&json.to_string()).err().unwrap();
    assert_eq!(err.0, "a normalizer");
    assert!(Encoder::from_json("{").is_err());
}

#[test]
fn empty_and_hostile_text() {
    let encoder = Encoder::from_json(&tokenizer(&[], gpt2(), Value::Null)).unwrap();
    assert!(encoder.encode("").unwrap().is_empty());
    let long = "x".repeat(10_000) + &"\u{10FFFF}\u{0}\r\n".repeat(100);
    let tokens = encoder.encode(&long).unwrap();
    assert_eq!(tokens.len(), long.len());
}
