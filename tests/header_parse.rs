//! `Header::parse` reads only the six keys it uses, straight off the parser. This checks it
//! against the straightforward reading it replaced (the whole header parsed into a
//! `serde_json::Value`, keys looked up in its map) on ordinary and awkward headers: the same
//! header, or the same error, every time.

use libmessage::{ContentType, Header, ProtocolError, Secret};
use serde_json::Value;

fn reference(bytes: &[u8]) -> Result<Header, ProtocolError> {
    let value: Value =
        serde_json::from_slice(bytes).map_err(|e| ProtocolError::BadHeader(e.to_string()))?;
    let Value::Object(map) = value else {
        return Err(ProtocolError::BadHeader("not a JSON object".to_owned()));
    };
    let required = |key: &'static str| map.get(key).ok_or(ProtocolError::MissingHeader(key));
    let bad = |key, expected| ProtocolError::BadHeaderValue { key, expected };
    let string = |v: &Value, key| v.as_str().map(str::to_owned).ok_or(bad(key, "a string"));
    let byteorder = match required("byteorder")? {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let content_length = required("content-length")?
        .as_u64()
        .ok_or(bad("content-length", "a non-negative integer"))?;
    let content_type = string(required("content-type")?, "content-type")?;
    let content_encoding = string(required("content-encoding")?, "content-encoding")?;
    let keep_alive = match map.get("keep-alive") {
        None => false,
        Some(v) => v.as_bool().ok_or(bad("keep-alive", "true or false"))?,
    };
    let password = match map.get("password") {
        None => None,
        Some(v) => Some(Secret::new(string(v, "password")?)),
    };
    Ok(Header {
        byteorder,
        content_type: ContentType::from(content_type.as_str()),
        content_encoding,
        content_length,
        keep_alive,
        password,
    })
}

#[test]
fn parsing_a_header_is_what_parsing_it_into_a_value_was() {
    let ok = r#"{"byteorder": "little", "content-type": "text/json", "content-encoding": "utf-8", "content-length": 41"#;
    let cases: Vec<Vec<u8>> = [
        format!("{ok}}}"),
        format!("{ok}, \"keep-alive\": true}}"),
        format!("{ok}, \"keep-alive\": 1}}"),
        format!("{ok}, \"keep-alive\": false, \"password\": \"pw\"}}"),
        format!("{ok}, \"password\": 7}}"),
        format!("{ok}, \"password\": \"p\\u00e9\\\"w\"}}"),
        format!("{ok}, \"extra\": [1, {{\"a\": [null, 2.5e3, -4]}}, \"x\"]}}"),
        format!("{ok}, \"extra\": [1, }}"),
        format!("{ok}, \"extra\": \"\\ud800\"}}"),
        format!("{ok}, \"content-length\": 7}}"),
        format!("{ok}, \"content-length\": \"7\"}}"),
        format!("{ok}}} x"),
        format!("{ok}}}   "),
        format!("{ok},}}"),
        ok.to_owned(),
        r#"{"byteorder": ["big"], "content-type": "b/x", "content-encoding": "binary", "content-length": 0}"#.to_owned(),
        r#"{"byteorder": 1.5, "content-type": "b/x", "content-encoding": "binary", "content-length": -1}"#.to_owned(),
        r#"{"byteorder": null, "content-type": 3, "content-encoding": {}, "content-length": 1.0}"#.to_owned(),
        r#"{"byte\u006frder": "big", "content\u002dtype": "text/json", "content-encoding": "UTF8", "content-length": 18446744073709551615}"#.to_owned(),
        r#"{"content-type": "text/json"}"#.to_owned(),
        r#"{"byteorder": "little"}"#.to_owned(),
        r#"{}"#.to_owned(),
        r#"[1, 2]"#.to_owned(),
        r#"[1, 2] x"#.to_owned(),
        r#"[1, 2,]"#.to_owned(),
        r#""a string""#.to_owned(),
        r#"null"#.to_owned(),
        r#"true"#.to_owned(),
        r#"-3"#.to_owned(),
        r#"12"#.to_owned(),
        r#"0.5"#.to_owned(),
        r#""#.to_owned(),
        r#"{"a": 1 "b": 2}"#.to_owned(),
        r#"{1: 2}"#.to_owned(),
        "[".repeat(200),
        format!("{ok}, \"deep\": {}}}", "[".repeat(200)),
    ]
    .into_iter()
    .map(String::into_bytes)
    .chain([
        b"{\"byteorder\": \"\xff\"}".to_vec(),
        b"{\"\xff\": 1}".to_vec(),
        b"{\"extra\": \"\xc3\"}".to_vec(),
        b"{\"extra\": \"a\x01b\"}".to_vec(),
    ])
    .collect();
    for case in &cases {
        assert_eq!(
            Header::parse(case),
            reference(case),
            "{}",
            String::from_utf8_lossy(case)
        );
    }
}
