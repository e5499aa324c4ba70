//! The server's answers are Python's: for thousands of generated JSON values (seeded), the
//! reply to `{"action": "search", "value": V}` and to `{"action": V}` is compared, byte for
//! byte, with what Python itself makes of the same request as the original server did:
//! `json.loads` the content, `f"No match for '{query}'."` or `f"Error: invalid action
//! '{action}'."` (both `str()` of the value), and `json.dumps({"result": ...},
//! ensure_ascii=False)`. Python is spawned (`python3`, on the machine and in CI).

mod common;

use common::{json_request, read_reply, Server};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

/// A small seeded generator (xorshift64*), so that a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// Code points to draw string characters from: ASCII and Latin-1 (controls, DEL, the
/// no-break space, the soft hyphen), general punctuation (U+200B, U+2028, U+2029, U+2060..),
/// Cyrillic, CJK, private use, specials (U+FFF0..U+FFFF), emoji and plane-16 private use.
/// Every range is assigned the same way in every Unicode version since 14.0, so that the
/// comparison does not depend on which Python runs it.
const RANGES: &[(u32, u32)] = &[
    (0x20, 0x7e),
    (0x00, 0x1f),
    (0x7f, 0xff),
    (0x0400, 0x045f),
    (0x2000, 0x206f),
    (0x4e00, 0x4e40),
    (0xe000, 0xe010),
    (0xfff0, 0xffff),
    (0x1f600, 0x1f64f),
    (0x10fff0, 0x10fffd),
];

fn string(rng: &mut Rng) -> String {
    let len = rng.below(8);
    let mut out = String::from("\"");
    for _ in 0..len {
        let (first, last) = *rng.pick(RANGES);
        let c = char::from_u32(first + rng.below(u64::from(last - first + 1)) as u32).unwrap();
        match (c, rng.below(4)) {
            ('"', _) => out.push_str("\\\""),
            ('\\', _) => out.push_str("\\\\"),
            (c, _) if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            // Sometimes escaped in the JSON, as a surrogate pair beyond the BMP.
            (c, 0) => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04X}"));
                }
            }
            (c, _) => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Between 1 and `most` decimal digits, the first one not 0.
fn digits(rng: &mut Rng, most: u64) -> String {
    let len = 1 + rng.below(most);
    let mut s = (1 + rng.below(9)).to_string();
    for _ in 1..len {
        s.push(char::from(b'0' + rng.below(10) as u8));
    }
    s
}

fn number(rng: &mut Rng) -> String {
    let sign = if rng.below(3) == 0 { "-" } else { "" };
    let (a, b) = (digits(rng, 9), digits(rng, 16));
    let exponent = rng.below(580) as i64 - 290;
    match rng.below(8) {
        0 => format!("{sign}0"),
        1 => format!("{sign}{}", digits(rng, 40)),
        2 => format!("{sign}{}", digits(rng, 5)),
        3 => format!("{sign}0.{b}"),
        4 => format!("{sign}{a}.{b}"),
        5 => format!("{sign}{}e{}", digits(rng, 3), exponent / 15),
        6 => format!("{sign}{}.{b}E{exponent:+}", &a[..1]),
        _ => format!("{sign}{b}e{exponent}"),
    }
}

fn value(rng: &mut Rng, depth: u32) -> String {
    let kinds = if depth >= 3 { 5 } else { 7 };
    match rng.below(kinds) {
        0 => rng.pick(&["null", "true", "false"]).to_string(),
        1 | 2 => number(rng),
        3 | 4 => string(rng),
        5 => {
            let items: Vec<String> = (0..rng.below(4)).map(|_| value(rng, depth + 1)).collect();
            format!("[{}]", items.join(*rng.pick(&[",", ", ", " ,\n"])))
        }
        _ => {
            // Keys drawn from a few, so that a key is sometimes given twice.
            let keys = ["\"a\"", "\"b\"", "\"it's\"", "\"\\u0061\""];
            let members: Vec<String> = (0..rng.below(4))
                .map(|_| {
                    let key = if rng.below(2) == 0 {
                        rng.pick(&keys).to_string()
                    } else {
                        string(rng)
                    };
                    format!("{key}: {}", value(rng, depth + 1))
                })
                .collect();
            format!("{{{}}}", members.join(", "))
        }
    }
}

/// What the original server answers, for each content line, as computed by Python.
fn python_answers(contents: &[String]) -> Vec<String> {
    let script = r#"
import json, sys
for line in sys.stdin:
    request = json.loads(line)
    action = request.get("action")
    if action == "search":
        query = request.get("value")
        answer = f"No match for '{query}'."
    else:
        answer = f"Error: invalid action '{action}'."
    print(json.dumps({"result": answer}, ensure_ascii=False))
"#;
    let mut python = Command::new("python3")
        .args(["-c", script])
        .env("PYTHONIOENCODING", "utf-8")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let mut stdin = python.stdin.take().unwrap();
    let input: String = contents
        .iter()
        .map(|c| c.replace('\n', " ") + "\n")
        .collect();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()).unwrap());
    let answers: Vec<String> = BufReader::new(python.stdout.take().unwrap())
        .lines()
        .map(|line| line.unwrap())
        .collect();
    writer.join().unwrap();
    assert!(python.wait().unwrap().success(), "python3 failed");
    answers
}

#[test]
fn answers_are_pythons_for_generated_values() {
    let mut rng = Rng(0x5eed_1717_0008);
    let mut contents = Vec::new();
    for i in 0..3000 {
        let v = value(&mut rng, 0);
        contents.push(if i % 4 == 3 {
            format!("{{\"action\": {v}}}")
        } else {
            format!("{{\"action\": \"search\", \"value\": {v}}}")
        });
    }
    // The cases the issue named, whatever the generator drew.
    for v in [
        "928655.5933938595",
        "123456789012345678901234567890",
        "-0",
        "-0.0",
        "1e16",
        "1e-05",
        "\"\u{a0}\"",
        "[\"\u{a0}\u{200b}\u{2028}\u{e000}\u{ad}\u{7f}\"]",
        "{\"a\": 1, \"b\": 2, \"a\": 3}",
    ] {
        contents.push(format!("{{\"action\": \"search\", \"value\": {v}}}"));
    }
    let expected = python_answers(&contents);
    assert_eq!(expected.len(), contents.len());

    let server = Server::start(&["-q"]);
    let mut sock = server.connect();
    let mut differ = Vec::new();
    for (content, python) in contents.iter().zip(&expected) {
        sock.write_all(&json_request(content, ", \"keep-alive\": true"))
            .unwrap();
        let reply = read_reply(&mut sock);
        if reply.error_code().is_some() {
            // An error reply closes the connection: say so, and go on with a new one.
            sock = server.connect();
        }
        if reply.text() != python {
            differ.push(format!(
                "{content}\n  server: {}\n  python: {python}",
                reply.text()
            ));
        }
    }
    assert!(
        differ.is_empty(),
        "{} of {} answers differ from Python's, the first ones:\n{}",
        differ.len(),
        contents.len(),
        differ[..differ.len().min(10)].join("\n")
    );
}
