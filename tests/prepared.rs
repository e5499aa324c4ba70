//! A search in the exact form the original client writes is answered from its bytes, without
//! decoding: that must give exactly the reply (and the log line) that decoding gives.

// The plain build (`--features plain-path`) has no shortcut to check.
#![cfg(not(feature = "plain-path"))]

use libmessage::request::Body;
use libmessage::{pyrepr, ContentType, Header, Limits, Service, Table};

fn service() -> Service {
    let table = Table::from_pairs([
        ("morpheus", "Follow the white rabbit. \u{1f430}"),
        ("\u{1f436}", "\u{1f43e} Playing ball! \u{1f3d0}"),
        ("it's \u{7f}", "odd but a key"),
    ]);
    Service::new(table, None, Limits::default())
}

/// The reply a request gets by being decoded, as before.
fn decoded_reply(service: &Service, header: &Header, content: &[u8], keep_alive: bool) -> Vec<u8> {
    let mut body = Body::new(header);
    assert_eq!(body.take(content), content.len());
    let request = body.finish(header).expect("a valid request");
    service
        .reply(&request, keep_alive)
        .expect("a reply within the budget")
        .to_vec()
}

#[test]
fn a_recognised_search_gets_the_reply_decoding_gives() {
    let service = service();
    for key in ["morpheus", "\u{1f436}", "it's \u{7f}"] {
        let content = format!(r#"{{"action": "search", "value": "{key}"}}"#);
        for encoding in ["utf-8", "UTF8", "Utf-8"] {
            let header = Header::new(ContentType::TextJson, encoding, content.len());
            let (found, frames) = service
                .prepared(&header, content.as_bytes())
                .unwrap_or_else(|| panic!("{content} is recognised"));
            assert_eq!(found, key);
            for keep_alive in [false, true] {
                assert_eq!(
                    frames[usize::from(keep_alive)].to_vec(),
                    decoded_reply(&service, &header, content.as_bytes(), keep_alive)
                );
            }
        }
        // The log line written for it is the decoded dictionary's.
        let object = serde_json::json!({"action": "search", "value": key});
        assert_eq!(
            format!("{{'action': 'search', 'value': {}}}", pyrepr::str_repr(key)),
            pyrepr::repr_of(&object)
        );
    }
}

#[test]
fn anything_else_is_left_to_decoding() {
    let service = service();
    let json = |content: &str| Header::new(ContentType::TextJson, "utf-8", content.len());
    for content in [
        r#"{"action": "search", "value": "neo"}"#,
        r#"{"action": "search", "value": "morph\u0065us"}"#,
        r#"{"action":"search","value":"morpheus"}"#,
        r#"{"value": "morpheus", "action": "search"}"#,
        r#"{"action": "search", "value": "morpheus", "x": 1}"#,
        r#"{"action": "search", "value": "morpheus\"}"#,
        r#"{"action": "Search", "value": "morpheus"}"#,
        r#" {"action": "search", "value": "morpheus"}"#,
        r#"{"action": "search", "value": "morpheus"} "#,
        "{\"action\": \"search\", \"value\": \"morpheus\n\"}",
    ] {
        assert!(
            service
                .prepared(&json(content), content.as_bytes())
                .is_none(),
            "{content}"
        );
    }
    let content = br#"{"action": "search", "value": "morpheus"}"#;
    let binary = Header::new(
        ContentType::Other("b/x".to_owned()),
        "binary",
        content.len(),
    );
    assert!(service.prepared(&binary, content).is_none());
    let latin = Header::new(ContentType::TextJson, "latin-1", content.len());
    assert!(service.prepared(&latin, content).is_none());
    let invalid = b"{\"action\": \"search\", \"value\": \"\xff\"}";
    assert!(service.prepared(&json("x"), invalid).is_none());
}
