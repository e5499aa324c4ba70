//! Every example the book and the README show is checked here: byte dumps against the frames
//! the real binaries send, console sessions by running them against a server this test starts,
//! commands by what they name. A block is checked when an HTML comment right before it says
//! how (`<!-- check: KIND ARGS -->`, see [Testing](../docs/testing.md#the-books-examples)); a
//! console session, or a block that looks like a frame or a hex dump, without one is an error
//! too. Every failure names the chapter file and line.

mod common;

use common::harness::Scratch;
use common::*;
use pulldown_cmark::{CodeBlockKind, Event, Options, Parser, Tag, TagEnd};
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread;
// The book writes bytes as Python prints them; the figure renderer reads them the same way.
use std::time::Duration;
use tangle::figure::unescape;

/// The port the book's sessions use; it stands for the port of the server the test starts.
const BOOK_PORT: &str = "2021";

/// A marker's kind and arguments.
type Marker = (String, Vec<String>);

/// One marked block (or table) of a Markdown file.
#[derive(Debug, Clone)]
struct Example {
    /// `docs/protocol.md`, as a failure names it.
    file: String,
    /// The line of the block's first line of content (1-based).
    line: usize,
    kind: String,
    args: Vec<String>,
    /// The block's lines.
    lines: Vec<String>,
}

impl Example {
    fn at(&self, offset: usize) -> String {
        format!("{}:{}", self.file, self.line + offset)
    }
}

/// The marked examples of a Markdown text, and the errors of its markers (an unmarked
/// example, a marker with no block after it).
fn scan(file: &str, text: &str) -> (Vec<Example>, Vec<String>) {
    let line_of = |offset: usize| text[..offset].matches('\n').count() + 1;
    let mut examples = Vec::new();
    let mut errors = Vec::new();
    let mut pending: Option<(usize, String, Vec<String>)> = None;
    let mut block: Option<(usize, String, Option<Marker>)> = None;
    let mut content = String::new();
    let mut table: Option<(usize, String, Vec<String>, Vec<String>)> = None;
    let mut cell = String::new();
    for (event, range) in Parser::new_ext(text, Options::ENABLE_TABLES).into_offset_iter() {
        match event {
            Event::Html(html) if html.trim_start().starts_with("<!-- check:") => {
                let inner = html.trim().trim_start_matches("<!-- check:");
                let inner = inner.trim_end_matches("-->").trim();
                let mut words = inner.split_whitespace().map(str::to_owned);
                let kind = words.next().unwrap_or_default();
                if let Some((line, _, _)) =
                    pending.replace((line_of(range.start), kind, words.collect()))
                {
                    errors.push(format!(
                        "{file}:{line}: a check marker with no block after it"
                    ));
                }
            }
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(info))) => {
                let fence = line_of(range.start);
                let marker = pending.take().map(|(_, kind, args)| (kind, args));
                block = Some((fence + 1, info.to_string(), marker));
                content.clear();
            }
            Event::Text(t) if block.is_some() => content.push_str(&t),
            Event::End(TagEnd::CodeBlock) => {
                let Some((line, info, marker)) = block.take() else {
                    continue;
                };
                let lines: Vec<String> = content.lines().map(str::to_owned).collect();
                match marker {
                    Some((kind, args)) => examples.push(Example {
                        file: file.to_owned(),
                        line,
                        kind,
                        args,
                        lines,
                    }),
                    None if looks_like_an_example(&info, &lines) => errors.push(format!(
                        "{file}:{line}: an example that no test checks: mark it with \
                         `<!-- check: KIND -->` (see docs/testing.md)"
                    )),
                    None => {}
                }
            }
            Event::Start(Tag::Table(_)) => {
                if let Some((_, kind, args)) = pending.take() {
                    table = Some((line_of(range.start), kind, args, Vec::new()));
                }
            }
            Event::Start(Tag::TableCell) => cell.clear(),
            Event::Text(t) | Event::Code(t) if table.is_some() => cell.push_str(&t),
            Event::End(TagEnd::TableCell) => {
                if let Some((_, _, _, cells)) = &mut table {
                    cells.push(std::mem::take(&mut cell));
                }
            }
            Event::End(TagEnd::TableRow | TagEnd::TableHead) => {
                if let Some((_, _, _, cells)) = &mut table {
                    cells.push("\n".to_owned());
                }
            }
            Event::End(TagEnd::Table) => {
                if let Some((start, kind, args, cells)) = table.take() {
                    // One line per row (the header row's line is start + 0), cells split by tabs.
                    let mut lines = vec![String::new()];
                    for c in cells {
                        if c == "\n" {
                            lines.push(String::new());
                        } else {
                            let last = lines.last_mut().unwrap();
                            if !last.is_empty() {
                                last.push('\t');
                            }
                            last.push_str(&c);
                        }
                    }
                    lines.retain(|l| !l.is_empty());
                    examples.push(Example {
                        file: file.to_owned(),
                        line: start,
                        kind,
                        args,
                        lines,
                    });
                }
            }
            Event::Start(Tag::Paragraph | Tag::List(_) | Tag::Heading { .. }) => {
                if let Some((line, _, _)) = pending.take() {
                    errors.push(format!(
                        "{file}:{line}: a check marker with no block after it"
                    ));
                }
            }
            _ => {}
        }
    }
    if let Some((line, _, _)) = pending {
        errors.push(format!(
            "{file}:{line}: a check marker with no block after it"
        ));
    }
    (examples, errors)
}

/// Console sessions and shell commands, and text blocks that show bytes, are examples.
fn looks_like_an_example(info: &str, lines: &[String]) -> bool {
    let lang = info.split_whitespace().next().unwrap_or("");
    matches!(lang, "console" | "sh" | "shell" | "bash")
        || lang == "text"
            && lines
                .first()
                .is_some_and(|l| l.starts_with("\\x") || hex_line(l).is_some())
}

/// The bytes of a hex dump line (`00 13 7b ...`), if it is one.
fn hex_line(line: &str) -> Option<Vec<u8>> {
    let words: Vec<&str> = line.split_whitespace().collect();
    if words.is_empty() || words.iter().any(|w| w.len() != 2) {
        return None;
    }
    words
        .iter()
        .map(|w| u8::from_str_radix(w, 16).ok())
        .collect()
}

/// Bytes as the book writes them: printable ASCII and UTF-8 as themselves, the rest `\xHH`.
fn escape(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c.is_ascii_control() {
                out.push_str(&format!("\\x{:02x}", c as u32));
            } else if c == '\\' {
                out.push_str("\\\\");
            } else {
                out.push(c);
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A frame's content: what follows its protoheader and header.
fn content_of(frame: &[u8]) -> &[u8] {
    let len = u16::from_be_bytes([frame[0], frame[1]]) as usize;
    &frame[2 + len..]
}

/// A reply as it came on the wire.
fn raw(reply: &Reply) -> Vec<u8> {
    frame(&reply.header, &reply.content)
}

/// The bytes a scenario of the book produces, by name.
fn scenario(name: &str) -> Result<Vec<u8>, String> {
    Ok(match name {
        // The request the bundled client sends for `search morpheus`, as a listener receives it.
        "client-search-morpheus" => captured_request(&["search", "morpheus"]),
        "client-find-ring" => captured_request(&["find", "ring"]),
        "reply-search-morpheus" => raw(&exchange(&Server::start(&[]), &search("morpheus"))),
        "reply-find-ring" => raw(&exchange(
            &Server::start(&[]),
            &binary_request(b"findring", ""),
        )),
        "half-close" => {
            let server = Server::start(&[]);
            let mut sock = server.connect();
            sock.write_all(&search("morpheus")).unwrap();
            sock.shutdown(std::net::Shutdown::Write).unwrap();
            until_the_end(&mut sock)?
        }
        "pipelined" => {
            let server = Server::start(&[]);
            let mut sock = server.connect();
            let mut both = search("morpheus");
            both.extend(search("ring"));
            sock.write_all(&both).unwrap();
            until_the_end(&mut sock)?
        }
        "pipelined-keep-alive" => {
            let server = Server::start(&[]);
            let mut sock = server.connect();
            let content = "{\"action\": \"search\", \"value\": \"morpheus\"}";
            let mut both = json_request(content, ", \"keep-alive\": true");
            both.extend(search("ring"));
            sock.write_all(&both).unwrap();
            until_the_end(&mut sock)?
        }
        "bad-header-request" => frame("{byteorder: little}", b""),
        "bad-header-reply" => raw(&exchange(
            &Server::start(&[]),
            &frame("{byteorder: little}", b""),
        )),
        "bad-json-reply" => raw(&exchange(&Server::start(&[]), &json_request("hello", ""))),
        "server-full-reply" => server_full(),
        "timeout-reply" => {
            let server = Server::start(&[]);
            let mut sock = server.connect();
            sock.write_all(&search("morpheus")[..10]).unwrap();
            let reply = reply_within(&mut sock, Duration::from_secs(20)).ok_or("no reply")?;
            raw(&reply)
        }
        "shutting-down-reply" => {
            let server = Server::start(&[]);
            let mut sock = server.connect();
            let request = search("morpheus");
            let header_end = request.len() - 41;
            sock.write_all(&request[..header_end + 14]).unwrap();
            server.wait_all_read(1);
            server.signal(libc::SIGTERM);
            raw(&read_reply(&mut sock))
        }
        _ => {
            return Err(format!(
                "no scenario named '{name}' in tests/book_examples.rs"
            ))
        }
    })
}

/// Everything a client reads until the server ends the stream (with a close: a reset fails).
fn until_the_end(sock: &mut std::net::TcpStream) -> Result<Vec<u8>, String> {
    let mut all = Vec::new();
    sock.read_to_end(&mut all)
        .map_err(|e| format!("the stream ended with an error: {e}"))?;
    Ok(all)
}

/// The first request the client sends with these arguments, as a listener reads it.
fn captured_request(args: &[&str]) -> Vec<u8> {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let mut client = Command::new(env!("CARGO_BIN_EXE_client"))
        .args(["-q", "-t", "2", "127.0.0.1", &port])
        .args(args)
        .env_remove("SERVER_PASSWORD")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (mut sock, _) = listener.accept().unwrap();
    sock.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let mut proto = [0u8; 2];
    sock.read_exact(&mut proto).unwrap();
    let mut header = vec![0u8; u16::from_be_bytes(proto) as usize];
    sock.read_exact(&mut header).unwrap();
    let fields: serde_json::Value = serde_json::from_slice(&header).unwrap();
    let mut content = vec![0u8; fields["content-length"].as_u64().unwrap() as usize];
    sock.read_exact(&mut content).unwrap();
    drop(sock);
    let _ = client.wait();
    frame(std::str::from_utf8(&header).unwrap(), &content)
}

/// The 26th client of a server whose 25 slots hold requests under way (from three addresses,
/// since one address may hold only half of them).
fn server_full() -> Vec<u8> {
    let server = Server::start(&[]);
    let mut held = Vec::new();
    for i in 0..25u8 {
        let mut sock = server.connect_from([127, 0, 0, 2 + i % 3]);
        sock.write_all(&[0]).unwrap();
        held.push(sock);
    }
    server.wait_all_read(25);
    let mut sock = server.connect_from([127, 0, 0, 6]);
    raw(&read_reply(&mut sock))
}

/// Checks one example; the failures name its lines.
fn check(example: &Example) -> Vec<String> {
    let result = match example.kind.as_str() {
        "frame" | "content" => check_bytes(example),
        "console" => check_console(example),
        "commands" => check_commands(example),
        "log-table" => check_log_table(example),
        "log" => check_log_block(example),
        "command-table" => check_command_table(example),
        "none" => Ok(()),
        // Diffs to the chapters, applied, built and tested by tests/extending.rs.
        "change" => Ok(()),
        // The port chapter's compiler messages and experiments, and the guide's client against
        // the server: run by tests/port_book.rs, which finds each block by its marker.
        "app-client" | "rustc" | "experiment" => checked_by_port_book(example),
        other => Err(format!("{}: unknown check '{other}'", example.at(0))),
    };
    result.err().into_iter().collect()
}

/// A block that tests/port_book.rs checks: that test must name it (an experiment by its name,
/// any other by its whole marker), or the block would be checked by nobody.
fn checked_by_port_book(example: &Example) -> Result<(), String> {
    let source =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/port_book.rs"))
            .map_err(|e| format!("{}: cannot read tests/port_book.rs: {e}", example.at(0)))?;
    let name = match example.kind.as_str() {
        "experiment" => example.args.join(" "),
        kind => std::iter::once(kind.to_owned())
            .chain(example.args.iter().cloned())
            .collect::<Vec<_>>()
            .join(" "),
    };
    if source.contains(&format!("\"{name}\"")) {
        Ok(())
    } else {
        Err(format!(
            "{}: marked as checked by tests/port_book.rs, which never names \"{name}\"",
            example.at(0)
        ))
    }
}

/// A block of bytes: lines written as Python prints bytes (joined), and hex dump lines
/// (joined); each must be the scenario's bytes.
fn check_bytes(example: &Example) -> Result<(), String> {
    let name = example
        .args
        .first()
        .ok_or(format!("{}: which scenario?", example.at(0)))?;
    let all = scenario(name).map_err(|e| format!("{}: {e}", example.at(0)))?;
    let expected = if example.kind == "content" {
        content_of(&all)
    } else {
        &all[..]
    };
    let (mut escaped, mut dumped) = (None::<(usize, Vec<u8>)>, None::<(usize, Vec<u8>)>);
    for (i, line) in example.lines.iter().enumerate() {
        let (slot, bytes) = match hex_line(line) {
            Some(bytes) => (&mut dumped, bytes),
            None => (
                &mut escaped,
                unescape(line).map_err(|e| format!("{}: {e}", example.at(i)))?,
            ),
        };
        slot.get_or_insert((i, Vec::new())).1.extend(bytes);
    }
    if escaped.is_none() && dumped.is_none() {
        return Err(format!("{}: an empty block", example.at(0)));
    }
    for (shown, form) in [(escaped, "as escaped bytes"), (dumped, "as a hex dump")] {
        let Some((i, bytes)) = shown else { continue };
        if bytes != expected {
            let at = (0..bytes.len().min(expected.len()))
                .find(|&k| bytes[k] != expected[k])
                .unwrap_or(bytes.len().min(expected.len()));
            return Err(format!(
                "{}: the block shows {} bytes {form} for '{name}'; the real ones are {}, the \
                 first difference at byte {at}\n  shown:  {}\n  actual: {}\n  actual in hex: {}",
                example.at(i),
                bytes.len(),
                expected.len(),
                escape(&bytes),
                escape(expected),
                hex(expected)
            ));
        }
    }
    Ok(())
}

/// Splits a command line as a POSIX shell would, for the quoting the book uses.
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => word
                .get_or_insert_with(String::new)
                .extend(chars.by_ref().take_while(|&c| c != '\'')),
            '"' => word
                .get_or_insert_with(String::new)
                .extend(chars.by_ref().take_while(|&c| c != '"')),
            c if c.is_whitespace() => out.extend(word.take()),
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    out.extend(word);
    out
}

/// What a command of the book is: one of our binaries with its arguments, or a command this
/// test can only check the names of.
enum Run {
    Binary(&'static str, Vec<String>),
    Named(Vec<String>),
}

fn classify(line: &str) -> Run {
    let mut w = words(line);
    // Leading environment assignments (`LOAD_THREADS=8 cargo bench ...`) are kept for Named.
    let program_at = w.iter().position(|x| !x.contains('=')).unwrap_or(0);
    if w.get(program_at).map(String::as_str) == Some("client") {
        return Run::Binary("client", w.split_off(program_at + 1));
    }
    if w.get(program_at).map(String::as_str) == Some("cargo")
        && w.get(program_at + 1).map(String::as_str) == Some("run")
    {
        if let Some(bin) = w.iter().position(|x| x == "--bin") {
            let name = match w.get(bin + 1).map(String::as_str) {
                Some("client") => "client",
                Some("server") => "server",
                _ => return Run::Named(w),
            };
            let rest = w
                .iter()
                .position(|x| x == "--")
                .map_or(Vec::new(), |d| w[d + 1..].to_vec());
            return Run::Binary(name, rest);
        }
    }
    Run::Named(w)
}

/// A command that is not run: it must name a package, bench, test target, task or file that
/// exists.
fn check_named(at: &str, w: &[String]) -> Result<(), String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let w: Vec<&str> = w
        .iter()
        .map(String::as_str)
        .skip_while(|x| x.contains('='))
        .collect();
    let flag = |name: &str| {
        w.iter()
            .position(|x| *x == name)
            .and_then(|i| w.get(i + 1))
            .copied()
    };
    let fail = |why: String| Err(format!("{at}: `{}`: {why}", w.join(" ")));
    match w.as_slice() {
        ["cargo", "make", task, ..] => {
            let tasks = std::fs::read_to_string(root.join("Makefile.toml")).unwrap();
            if !tasks.contains(&format!("[tasks.{task}]")) {
                return fail(format!("Makefile.toml has no task '{task}'"));
            }
        }
        ["cargo", "test" | "bench" | "run" | "build", ..] => {
            if let Some(package) = flag("-p") {
                if !["selector-server", "tangle-cli"].contains(&package) {
                    return fail(format!("no package '{package}' in the workspace"));
                }
            }
            let dir = if flag("-p") == Some("tangle-cli") {
                root.join("tangle")
            } else {
                root.to_owned()
            };
            if let Some(features) = flag("--features") {
                let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
                let declared = manifest.split("[features]").nth(1).unwrap_or("");
                let declared = declared.split("\n[").next().unwrap_or("");
                for feature in features.split(',') {
                    if !declared
                        .lines()
                        .any(|l| l.starts_with(&format!("{feature} =")))
                    {
                        return fail(format!("Cargo.toml has no feature '{feature}'"));
                    }
                }
            }
            for (option, folder) in [("--bench", "benches"), ("--test", "tests")] {
                if let Some(target) = flag(option) {
                    if !dir.join(folder).join(format!("{target}.rs")).exists() {
                        return fail(format!("no {folder}/{target}.rs"));
                    }
                }
            }
        }
        ["cargo", "install", ..] => {
            // A path install of a package of the workspace, with a profile the manifest has.
            match flag("--path") {
                Some(path) if root.join(path).join("Cargo.toml").is_file() => {}
                Some(path) => return fail(format!("no package at {path}")),
                None => return fail("an install without `--path`".to_owned()),
            }
            if let Some(profile) = flag("--profile") {
                let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
                if !manifest.contains(&format!("[profile.{profile}]")) {
                    return fail(format!("Cargo.toml has no profile '{profile}'"));
                }
            }
        }
        ["bash", script, ..] => {
            if !root.join(script).exists() {
                return fail(format!("no file {script}"));
            }
        }
        _ => return fail("not a command this test knows how to check".to_owned()),
    }
    Ok(())
}

/// Runs a client command against `port`: its standard output and error, in order, and its
/// status.
fn run_client(args: &[String], port: &str) -> (String, i32) {
    let args: Vec<String> = args
        .iter()
        .map(|a| {
            if a == BOOK_PORT {
                port.to_owned()
            } else {
                a.clone()
            }
        })
        .collect();
    let out = Command::new("sh")
        .arg("-c")
        .arg("exec \"$0\" \"$@\" 2>&1")
        .arg(env!("CARGO_BIN_EXE_client"))
        .args(&args)
        .env_remove("SERVER_PASSWORD")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

/// A console session: `$ COMMAND` lines, each followed by what it prints. The client runs
/// against a server this test starts (with the marker's arguments, or the session's own
/// `server` command); `; echo "exit $?"` prints its status; `2021` stands for that server's
/// port. Other commands print nothing here and must name things that exist.
fn check_console(example: &Example) -> Result<(), String> {
    let mut server: Option<Server> = None;
    let mut i = 0;
    while i < example.lines.len() {
        let line = &example.lines[i];
        let Some(command) = line.strip_prefix("$ ") else {
            return Err(format!(
                "{}: output with no command before it: {line}",
                example.at(i)
            ));
        };
        let start = i;
        i += 1;
        while i < example.lines.len() && !example.lines[i].starts_with("$ ") {
            i += 1;
        }
        let shown: Vec<&str> = example.lines[start + 1..i]
            .iter()
            .map(String::as_str)
            .collect();
        let (command, echo_status) = match command.split_once("; echo \"exit $?\"") {
            Some((command, _)) => (command, true),
            None => (command, false),
        };
        let command = command.split(" #").next().unwrap().trim();
        let actual: Vec<String> = match classify(command.trim_end_matches('&').trim()) {
            Run::Binary("server", args) => {
                let args: Vec<String> = strip_port(&args);
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                let started = Server::start(&args);
                // The helper has read the server's first line, `listening on ADDRESS`.
                let line = format!("listening on {}", started.connect_addr());
                let line = line.replace(&started.port(), BOOK_PORT);
                server = Some(started);
                vec![line]
            }
            Run::Binary(_, args) => {
                let server = server.get_or_insert_with(|| {
                    let args: Vec<&str> = example.args.iter().map(String::as_str).collect();
                    Server::start(&args)
                });
                let (out, status) = run_client(&args, &server.port());
                let mut lines: Vec<String> = out
                    .replace(&server.port(), BOOK_PORT)
                    .lines()
                    .map(str::to_owned)
                    .collect();
                if echo_status {
                    lines.push(format!("exit {status}"));
                }
                lines
            }
            Run::Named(w) => {
                check_named(&example.at(start), &w)?;
                shown.iter().map(|s| s.to_string()).collect()
            }
        };
        if actual != shown {
            return Err(format!(
                "{}: `{command}` prints\n{}\nwhere the book shows\n{}",
                example.at(start),
                actual.join("\n"),
                shown.join("\n")
            ));
        }
    }
    Ok(())
}

/// `-P 2021` / `--port 2021` taken out: the test's server takes a free port.
fn strip_port(args: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "-P" || a == "--port" {
            it.next();
        } else {
            out.push(a.clone());
        }
    }
    out
}

/// A block of commands without output (`# comments` after them): a server command is run (it
/// must listen), a client command is run (it must succeed), the others must name things that
/// exist.
fn check_commands(example: &Example) -> Result<(), String> {
    let mut server: Option<Server> = None;
    for (i, line) in example.lines.iter().enumerate() {
        let command = line.split('#').next().unwrap().trim();
        if command.is_empty() {
            continue;
        }
        match classify(command) {
            Run::Binary("server", args) => {
                let args = strip_port(&args);
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                server = Some(Server::start(&args));
            }
            Run::Binary(_, args) => {
                let server = server.get_or_insert_with(|| Server::start(&[]));
                let (out, status) = run_client(&args, &server.port());
                if status != 0 {
                    return Err(format!(
                        "{}: `{command}` failed ({status}):\n{out}",
                        example.at(i)
                    ));
                }
            }
            Run::Named(w) => check_named(&example.at(i), &w)?,
        }
    }
    Ok(())
}

/// A table whose first column is a command: each must name things that exist (a task of
/// `Makefile.toml`, a package, a target, a file).
fn check_command_table(example: &Example) -> Result<(), String> {
    let mut errors = Vec::new();
    for (i, row) in example.lines.iter().enumerate().skip(1) {
        let command = row.split('\t').next().unwrap_or("");
        if let Err(e) = check_named(&example.at(i + 1), &words(command)) {
            errors.push(e);
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("\n"))
    }
}

/// The book's chapters and the README, with their paths as failures name them.
fn sources() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec!["README.md".to_owned()];
    let mut chapters: Vec<String> = std::fs::read_dir(root.join("docs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".md"))
        .map(|n| format!("docs/{n}"))
        .collect();
    chapters.sort();
    files.extend(chapters);
    files
        .into_iter()
        .map(|f| {
            let text = std::fs::read_to_string(root.join(&f)).unwrap();
            (f, text)
        })
        .collect()
}

/// A piece of a log line's pattern.
#[derive(Debug, PartialEq)]
enum Piece {
    Text(String),
    /// A run of digits: a port, the last number of a 127.0.0.N address, a count.
    Digits,
    /// `...` in the book: anything.
    Anything,
}

/// The pattern of a log line shown in the book: ports and loopback addresses match any, `...`
/// matches anything, a measured interval (`in the last 1.0 s`) matches any, and with `count`
/// the first number (a count that varies) matches any.
fn pattern(shown: &str, count: bool) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut rest = shown;
    let mut count = count;
    let flush = |text: &mut String, pieces: &mut Vec<Piece>, piece: Piece| {
        if !text.is_empty() {
            pieces.push(Piece::Text(std::mem::take(text)));
        }
        pieces.push(piece);
    };
    while let Some(c) = rest.chars().next() {
        let digits = |s: &str| s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        if let Some(after) = rest.strip_prefix("127.0.0.") {
            text.push_str("127.0.0.");
            flush(&mut text, &mut pieces, Piece::Digits);
            rest = &after[digits(after)..];
            if let Some(port) = rest.strip_prefix(':').filter(|p| digits(p) > 0) {
                text.push(':');
                flush(&mut text, &mut pieces, Piece::Digits);
                rest = &port[digits(port)..];
            }
        } else if let Some(after) = rest.strip_prefix("...") {
            flush(&mut text, &mut pieces, Piece::Anything);
            rest = after;
        } else if let Some(after) = rest
            .strip_prefix("in the last ")
            .filter(|a| digits(a) > 0 && a[digits(a)..].starts_with('.'))
        {
            // A measured interval (`in the last 1.0 s`): a loaded machine logs 1.1.
            text.push_str("in the last ");
            flush(&mut text, &mut pieces, Piece::Digits);
            text.push('.');
            let decimals = &after[digits(after) + 1..];
            flush(&mut text, &mut pieces, Piece::Digits);
            rest = &decimals[digits(decimals)..];
        } else if count && c.is_ascii_digit() {
            count = false;
            flush(&mut text, &mut pieces, Piece::Digits);
            rest = &rest[digits(rest)..];
        } else {
            text.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    pieces
}

fn matches(pieces: &[Piece], line: &str) -> bool {
    match pieces.first() {
        None => line.is_empty(),
        Some(Piece::Text(t)) => line
            .strip_prefix(t.as_str())
            .is_some_and(|r| matches(&pieces[1..], r)),
        Some(Piece::Digits) => {
            let n = line
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(line.len());
            n > 0 && matches(&pieces[1..], &line[n..])
        }
        Some(Piece::Anything) => (0..=line.len())
            .filter(|&i| line.is_char_boundary(i))
            .any(|i| matches(&pieces[1..], &line[i..])),
    }
}

/// A log line's level and message: `[TIME LEVEL TARGET] MESSAGE` as env_logger writes it;
/// a line without that prefix (the log thread's own) has the level `(none)`.
fn level_and_message(line: &str) -> (String, &str) {
    if let Some(rest) = line
        .strip_prefix('[')
        .filter(|r| r.starts_with(|c: char| c.is_ascii_digit()))
    {
        if let Some((prefix, message)) = rest.split_once("] ") {
            let level = prefix
                .split_whitespace()
                .nth(1)
                .unwrap_or("")
                .to_lowercase();
            return (level, message);
        }
    }
    ("(none)".to_owned(), line)
}

/// The log table: each row (event, level, example) must be a line the server writes when
/// the event happens, at that level.
fn check_log_table(example: &Example) -> Result<(), String> {
    let rows: Vec<(usize, Vec<&str>)> = example
        .lines
        .iter()
        .enumerate()
        .skip(1)
        .map(|(i, l)| (i + 1, l.split('\t').collect()))
        .collect();
    let handles: Vec<_> = rows
        .into_iter()
        .map(|(offset, cells)| {
            let at = example.at(offset);
            let cells: Vec<String> = cells.iter().map(|c| c.to_string()).collect();
            thread::spawn(move || -> Result<(), String> {
                let [event, level, shown] = &cells[..] else {
                    return Err(format!("{at}: a row of the log table needs three cells"));
                };
                let Some((log, count)) = log_scenario(event).map_err(|e| format!("{at}: {e}"))?
                else {
                    return Ok(());
                };
                let wanted = pattern(shown, count);
                let found = log.lines().any(|line| {
                    let (lvl, message) = level_and_message(line);
                    (lvl == *level || level == "stdout" && lvl == "(none)") && matches(&wanted, message)
                });
                if found {
                    Ok(())
                } else {
                    Err(format!(
                        "{at}: the server never logged `{shown}` at {level} for '{event}'; it logged:\n{log}"
                    ))
                }
            })
        })
        .collect();
    let errors: Vec<String> = handles
        .into_iter()
        .filter_map(|h| {
            h.join()
                .unwrap_or_else(|_| Err("a log scenario panicked".to_owned()))
                .err()
        })
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("\n\n"))
    }
}

/// A block of log lines, `LEVEL MESSAGE` each (as env_logger writes them, without the time
/// and the module): they must be lines of the scenario's log, in that order (others may come
/// between them).
fn check_log_block(example: &Example) -> Result<(), String> {
    let name = example
        .args
        .first()
        .ok_or(format!("{}: which scenario?", example.at(0)))?;
    let log = log_block_scenario(name).map_err(|e| format!("{}: {e}", example.at(0)))?;
    let mut lines = log.lines().map(level_and_message);
    for (i, shown) in example.lines.iter().enumerate() {
        let (level, message) = shown.split_once(char::is_whitespace).unwrap_or((shown, ""));
        let wanted = pattern(message.trim_start(), false);
        let level = level.to_lowercase();
        if !lines.any(|(l, m)| l == level && matches(&wanted, m)) {
            return Err(format!(
                "{}: the server's log for '{name}' has no line `{shown}` after the lines \
                 above it; it was:\n{log}",
                example.at(i)
            ));
        }
    }
    Ok(())
}

/// The server's log along an error path of the errors chapter.
fn log_block_scenario(name: &str) -> Result<String, String> {
    let within = Duration::from_secs(5);
    match name {
        "bad-header" => {
            let server = Server::start(&[]);
            exchange(&server, &frame("{byteorder: little}", b""));
            wait_for(&server, "closing connection to", within)
        }
        "server-full" => {
            let server = Server::start(&[]);
            let mut held = busy_clients(&server, 25, &[2, 3, 4]);
            let mut sock = server.connect_from([127, 0, 0, 6]);
            read_reply(&mut sock);
            wait_for(&server, "server full (25 clients)", within)?;
            drop(held.pop());
            wait_for(&server, "a client slot is free again", within)
        }
        "timeout" => {
            let server = Server::start(&[]);
            let mut sock = server.connect();
            sock.write_all(&search("morpheus")[..10]).unwrap();
            reply_within(&mut sock, Duration::from_secs(20)).ok_or("no timeout reply")?;
            wait_for(&server, "closing connection to", within)
        }
        "shutting-down" => {
            let mut server = Server::start(&["--threads", "1"]);
            let mut sock = server.connect();
            let request = search("morpheus");
            sock.write_all(&request[..request.len() - 41 + 14]).unwrap();
            server.wait_all_read(1);
            server.signal(libc::SIGTERM);
            read_reply(&mut sock);
            server.wait_exit(within);
            wait_for(&server, "shutdown complete", within)
        }
        _ => Err(format!(
            "no log scenario named '{name}' in tests/book_examples.rs"
        )),
    }
}

/// Waits (bounded by `within`) until the log shows `needle`; the whole log.
fn wait_for(server: &Server, needle: &str, within: Duration) -> Result<String, String> {
    let end = std::time::Instant::now() + within;
    loop {
        let log = server.stderr();
        if log.contains(needle) {
            return Ok(log);
        }
        if std::time::Instant::now() > end {
            return Err(format!("the log never showed {needle:?}:\n{log}"));
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// What the server writes (standard output, then its log) when the event of a row of the log
/// table happens, and whether the row's first number is a count that varies; `None` for a
/// row another test checks.
fn log_scenario(event: &str) -> Result<Option<(String, bool)>, String> {
    let within = Duration::from_secs(5);
    let log = match event {
        "listening" => {
            let server = Server::start(&[]);
            // The helper has read the first line of standard output, `listening on ADDRESS`.
            return Ok(Some((
                format!("listening on {}", server.connect_addr()),
                false,
            )));
        }
        "accepted" | "a request" | "closed" | "a reply" => {
            let server = Server::start(&["-v"]);
            exchange(&server, &search("ring"));
            wait_for(&server, "closing connection to", within)?
        }
        "refused" => {
            let server = Server::start(&[]);
            let header =
                r#"{"byteorder": "little", "content-encoding": "utf-8", "content-length": 2}"#;
            exchange(&server, &frame(header, b"{}"));
            wait_for(&server, "refused", within)?
        }
        "wrong password" => {
            // Wrong passwords are logged once a second: the first, then a count of the next
            // ones (by each loop: one loop, so that the second is counted); the third is sent
            // a second after the count, and logged with its rank.
            let server = Server::start(&["-p", "secret", "--threads", "1"]);
            let content = "{\"action\": \"search\", \"value\": \"ring\"}";
            let guess = || {
                let mut sock = server.connect_from([127, 0, 0, 2]);
                sock.write_all(&json_request(content, ", \"password\": \"wrong\""))
                    .unwrap();
                read_reply(&mut sock);
            };
            guess();
            guess();
            wait_for(&server, "more wrong passwords", within)?;
            // A refusal is logged in full a second after the last line of its kind.
            thread::sleep(Duration::from_millis(1200));
            guess();
            wait_for(&server, "3 in a row", within)?
        }
        "server full" => {
            let server = Server::start(&[]);
            let _held = busy_clients(&server, 25, &[2, 3, 4]);
            let mut sock = server.connect_from([127, 0, 0, 6]);
            read_reply(&mut sock);
            wait_for(&server, "server full (25 clients)", within)?
        }
        "address full" => {
            let server = Server::start(&[]);
            let _held = busy_clients(&server, 13, &[2]);
            let mut sock = server.connect_from([127, 0, 0, 2]);
            read_reply(&mut sock);
            wait_for(&server, "server full for your address", within)?
        }
        "refusals counted" => {
            // Each loop counts its own refusals: one loop, so that the second is counted.
            let server = Server::start(&["--threads", "1"]);
            let _held = busy_clients(&server, 25, &[2, 3, 4]);
            for _ in 0..3 {
                let mut sock = server.connect_from([127, 0, 0, 6]);
                read_reply(&mut sock);
            }
            return Ok(Some((
                wait_for(&server, "more connections turned away", within)?,
                true,
            )));
        }
        "room made" => {
            let server = Server::start(&["-c", "2"]);
            let _idle: Vec<_> = [3, 4]
                .map(|host| server.connect_from([127, 0, 0, host]))
                .into();
            let end = std::time::Instant::now() + within;
            while server.stderr().matches("accepted connection").count() < 2 {
                if std::time::Instant::now() > end {
                    return Err("the idle clients were never accepted".to_owned());
                }
                thread::sleep(Duration::from_millis(20));
            }
            let mut sock = server.connect_from([127, 0, 0, 5]);
            sock.write_all(&search("ring")).unwrap();
            read_reply(&mut sock);
            wait_for(&server, "to make room", within)?
        }
        "server busy" => {
            let server = Server::start(&["-c", "100"]);
            let header = header("text/json", "utf-8", 1 << 20, "");
            let mut held = Vec::new();
            for i in 0..65u8 {
                let mut sock = server.connect_from([127, 0, 0, 2 + i % 4]);
                sock.write_all(&frame(&header, b"")).unwrap();
                held.push(sock);
            }
            wait_for(&server, "server busy", within)?
        }
        "timeout" => {
            let server = Server::start(&[]);
            let mut sock = server.connect();
            sock.write_all(&search("ring")[..10]).unwrap();
            wait_for(&server, "timed out after 10 s", Duration::from_secs(20))?
        }
        "broken" => {
            let server = Server::start(&[]);
            let mut sock = server.connect();
            sock.write_all(&search("ring")[..10]).unwrap();
            drop(sock);
            wait_for(&server, "mid-request", within)?
        }
        "shutdown" => {
            let server = Server::start(&["--threads", "1"]);
            let _idle: Vec<_> = (0..3).map(|_| server.connect()).collect();
            let end = std::time::Instant::now() + within;
            while server.stderr().matches("accepted connection").count() < 3 {
                if std::time::Instant::now() > end {
                    return Err("the clients were never accepted".to_owned());
                }
                thread::sleep(Duration::from_millis(20));
            }
            server.signal(libc::SIGTERM);
            wait_for(&server, "shutting down", within)?
        }
        "out of descriptors" => out_of_descriptors()?,
        "fatal" => {
            let dir = Scratch::new("book-examples-fatal");
            let out = Command::new(env!("CARGO_BIN_EXE_server"))
                .args(["-P", "0", "--table", "t.json"])
                .current_dir(dir.path())
                .env_remove("RUST_LOG")
                .stdin(Stdio::null())
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stderr).into_owned()
        }
        // Filling the log queue takes 3,000 requests: tests/logging.rs does it, and checks
        // this line's shape (`a_stderr_nobody_reads_does_not_stop_the_server`).
        "lines dropped" => return Ok(None),
        other => return Err(format!("no log scenario for the event '{other}'")),
    };
    Ok(Some((log, false)))
}

/// `count` connections from the given hosts of 127.0.0.0/8, each with one byte of a request
/// sent (busy, not idle), all read by the server.
fn busy_clients(server: &Server, count: usize, hosts: &[u8]) -> Vec<std::net::TcpStream> {
    let held: Vec<_> = (0..count)
        .map(|i| {
            let mut sock = server.connect_from([127, 0, 0, hosts[i % hosts.len()]]);
            sock.write_all(&[0]).unwrap();
            sock
        })
        .collect();
    server.wait_all_read(count);
    held
}

/// The log of a server limited to 24 descriptors, with 30 clients connecting.
fn out_of_descriptors() -> Result<String, String> {
    let mut cmd = server_with_descriptors(24);
    let mut child = cmd.spawn().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let reader = {
        let log = log.clone();
        thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                log.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        })
    };
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let addr: std::net::SocketAddr = line
        .trim()
        .trim_start_matches("listening on ")
        .parse()
        .unwrap();
    let held: Vec<_> = (0..30)
        .filter_map(|_| std::net::TcpStream::connect(addr).ok())
        .collect();
    let end = std::time::Instant::now() + Duration::from_secs(5);
    while !log.lock().unwrap().contains("accept failed") && std::time::Instant::now() < end {
        thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    drop(held);
    let _ = reader.join();
    let log = log.lock().unwrap().clone();
    Ok(log)
}

/// Checks every example of the given texts, in parallel; the failures, in file order.
fn check_all(texts: &[(String, String)]) -> Vec<String> {
    let mut failures = Vec::new();
    let mut examples = Vec::new();
    for (file, text) in texts {
        let (found, errors) = scan(file, text);
        failures.extend(errors);
        examples.extend(found);
    }
    let handles: Vec<_> = examples
        .into_iter()
        .map(|e| {
            thread::spawn(move || {
                let at = e.at(0);
                std::panic::catch_unwind(|| check(&e))
                    .unwrap_or_else(|_| vec![format!("{at}: the check panicked (see above)")])
            })
        })
        .collect();
    for h in handles {
        failures.extend(h.join().unwrap());
    }
    failures
}

#[test]
fn every_example_of_the_book_and_the_readme_is_what_the_programs_do() {
    let texts = sources();
    let failures = check_all(&texts);
    assert!(
        failures.is_empty(),
        "{} example(s) wrong:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    let (examples, _) = texts
        .iter()
        .fold((0, ()), |(n, ()), (f, t)| (n + scan(f, t).0.len(), ()));
    assert!(
        examples >= 10,
        "only {examples} examples found: is the marker still read?"
    );
}

/// The checker itself: a wrong example in a scratch copy of the protocol chapter fails,
/// naming the chapter and the line.
#[test]
fn a_wrong_example_fails_naming_its_chapter_line() {
    let (_, text) = sources()
        .into_iter()
        .find(|(f, _)| f == "docs/protocol.md")
        .unwrap();
    let needle = "\"content-length\": 41}{\"action\": \"search\"";
    let offset = text
        .find(needle)
        .expect("the protocol chapter's request for search morpheus");
    let line = text[..offset].matches('\n').count() + 1;
    let wrong = text.replacen(needle, "\"content-length\": 42}{\"action\": \"search\"", 1);
    let failures = check_all(&[("docs/protocol.md".to_owned(), wrong)]);
    let named: Vec<&String> = failures
        .iter()
        .filter(|f| f.starts_with(&format!("docs/protocol.md:{line}: ")))
        .collect();
    assert_eq!(named.len(), 1, "line {line} not named once: {failures:#?}");
    assert_eq!(failures.len(), 1, "{failures:#?}");

    // The testing chapter shows this very failure's first line.
    let (_, testing) = sources()
        .into_iter()
        .find(|(f, _)| f == "docs/testing.md")
        .unwrap();
    let shown = testing.lines().find(|l| l.starts_with("docs/protocol.md:"));
    assert_eq!(
        shown,
        failures[0].lines().next(),
        "docs/testing.md shows another failure than the checker's"
    );

    // An unmarked frame and a marker with no block are located too.
    let text = "# t\n\n```text\n\\x00g{}\n```\n\n<!-- check: frame x -->\n\nprose\n";
    let (examples, errors) = scan("t.md", text);
    assert!(examples.is_empty());
    assert_eq!(
        errors
            .iter()
            .map(|e| e.split(": ").next().unwrap())
            .collect::<BTreeSet<_>>(),
        ["t.md:4", "t.md:7"].into_iter().collect()
    );
}

/// The escapes of the book's dumps read back as they were written.
#[test]
fn escaped_bytes_round_trip() {
    let bytes = b"\x00g{\"a\": \"\xf0\x9f\x90\xb0\"}\\\xff".to_vec();
    assert_eq!(unescape(&escape(&bytes)).unwrap(), bytes);
    assert_eq!(hex_line("00 13 7b"), Some(vec![0, 0x13, 0x7b]));
    assert_eq!(hex_line("findring"), None);

    // A log line's pattern: addresses, ports and `...` match any; other numbers do not, but
    // for a count.
    let shown = pattern("refusing 127.0.0.1:53420: server full (25 clients)", false);
    assert!(matches(
        &shown,
        "refusing 127.0.0.6:40112: server full (25 clients)"
    ));
    assert!(!matches(
        &shown,
        "refusing 127.0.0.6:40112: server full (26 clients)"
    ));
    assert!(matches(
        &pattern("sending b'\\x00g{...' to 127.0.0.1:1", false),
        "sending b'\\x00g{\"a\": 1}' to 127.0.0.1:2"
    ));
    assert!(matches(
        &pattern("21614 more in 1.0 s", true),
        "3 more in 1.0 s"
    ));
    assert!(!matches(
        &pattern("21614 more in 1.0 s", true),
        "3 more in 1.1 s"
    ));
    // ... but for a measured interval, which a loaded machine stretches.
    assert!(matches(
        &pattern("21614 more turned away in the last 1.0 s", true),
        "3 more turned away in the last 1.1 s"
    ));
    assert!(!matches(&pattern("held 0.4 s", false), "held 0.8 s"));
    assert_eq!(
        level_and_message("[2026-12-06T10:13:05Z INFO  server] accepted"),
        ("info".to_owned(), "accepted")
    );
    assert_eq!(
        level_and_message("[server] 3 log lines dropped").0,
        "(none)"
    );
    assert_eq!(
        words("client -q 127.0.0.1 2021 find \"it's\""),
        ["client", "-q", "127.0.0.1", "2021", "find", "it's"]
    );
}
