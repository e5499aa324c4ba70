//! Python blocks run for their value, as `ob-python` (Org 9.5.5) runs them: without a
//! session, the body shifted right into `def main():` and `str(main())` written to a file
//! (`org-babel-python-wrapper-method`); in a session, one Python process per session name
//! kept for the whole tangle, the body run in its `__main__` and the value of a final
//! expression statement written (`org-babel-python-format-session-value`). The text is
//! then read back as `org-babel-python-table-or-string` reads it.

use super::data::read_cell;
use super::eval::Obj;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

/// `org-babel-python--shift-right`: every line whose start is not inside a Python string
/// indented by `python-indent-offset` (4) columns with spaces as `indent-rigidly` does it
/// (tabs read as 8 columns; a line of blanks emptied).
pub(super) fn shift_right(body: &str) -> String {
    let mut out = Vec::new();
    let mut state = StringState::Code;
    for line in body.split('\n') {
        if state == StringState::Code {
            let rest = line.trim_start_matches([' ', '\t']);
            if rest.is_empty() {
                out.push(String::new());
            } else {
                let mut col = 0;
                for c in line[..line.len() - rest.len()].chars() {
                    col = if c == '\t' {
                        (col / 8 + 1) * 8
                    } else {
                        col + 1
                    };
                }
                out.push(format!("{}{rest}", " ".repeat(col + 4)));
            }
        } else {
            out.push(line.to_string());
        }
        state = state.after_line(line);
    }
    out.join("\n")
}

/// Where a line of Python starts: in code or inside a string (`python-syntax-context`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StringState {
    Code,
    /// Inside a string opened by `quote`, tripled or not.
    Str {
        quote: char,
        triple: bool,
    },
}

impl StringState {
    /// The state after `line` and its newline.
    fn after_line(self, line: &str) -> StringState {
        let cs: Vec<char> = line.chars().collect();
        let mut state = self;
        let mut i = 0;
        while i < cs.len() {
            let c = cs[i];
            match state {
                StringState::Code => {
                    if c == '#' {
                        return StringState::Code;
                    }
                    if c == '\'' || c == '"' {
                        let triple = cs.get(i + 1) == Some(&c) && cs.get(i + 2) == Some(&c);
                        state = StringState::Str { quote: c, triple };
                        i += if triple { 3 } else { 1 };
                        continue;
                    }
                    i += 1;
                }
                StringState::Str { quote, triple } => {
                    if c == '\\' {
                        i += 2;
                        continue;
                    }
                    if c == quote {
                        if !triple {
                            state = StringState::Code;
                            i += 1;
                            continue;
                        }
                        if cs.get(i + 1) == Some(&quote) && cs.get(i + 2) == Some(&quote) {
                            state = StringState::Code;
                            i += 3;
                            continue;
                        }
                    }
                    i += 1;
                }
            }
        }
        state
    }
}

/// `org-babel-python-wrapper-method` (or the `pp` one) around `body`, writing to `file`.
pub(super) fn wrapped(body: &str, file: &Path, pp: bool) -> String {
    let file = file.to_string_lossy();
    if pp {
        format!(
            "\nimport pprint\ndef main():\n{}\n\nopen('{file}', 'w').write( pprint.pformat(main()) )",
            shift_right(body)
        )
    } else {
        format!(
            "\ndef main():\n{}\n\nopen('{file}', 'w').write( str(main()) )",
            shift_right(body)
        )
    }
}

/// `org-babel-result-cond`'s scalar test: whether the text is the result as it is.
pub(super) fn scalar_results(results: &[String]) -> bool {
    let has = |w: &str| results.iter().any(|r| r == w);
    ["scalar", "verbatim", "html", "code", "pp", "file"]
        .iter()
        .any(|w| has(w))
        || ((has("output") || has("raw") || has("org") || has("drawer")) && !has("table"))
}

/// `org-babel-python-table-or-string` of `org-trim`med text: a plain text or number is read
/// as `org-babel-read` reads it; what Org would read as Lisp (a Python list, tuple or dict,
/// a quoted string, a text that starts like a Lisp form) is refused.
pub(super) fn table_or_string(text: &str) -> Result<Obj, String> {
    let t = super::call::org_trim_str(text);
    let bracketed = t.chars().count() > 2
        && [('[', ']'), ('{', '}'), ('(', ')')]
            .iter()
            .any(|&(a, b)| t.starts_with(a) && t.ends_with(b));
    if bracketed {
        return Err(
            "it returns a Python list, tuple or dict, which Org converts to a Lisp table; this \
             tangler does not (give the block `:results verbatim` to insert the text)"
                .into(),
        );
    }
    let quoted_line = t.split('\n').any(|l| {
        let l = l.trim_matches(|c: char| c.is_whitespace());
        l.len() >= 2 && l.starts_with('"') && l.ends_with('"')
    });
    if quoted_line || t.starts_with(['\'', '"', '(', '`']) {
        return Err(format!(
            "its value `{}` is read by Org as Lisp, which this tangler does not do (give the \
             block `:results verbatim` to insert the text)",
            super::abbreviate(t)
        ));
    }
    read_cell(t)
}

/// The program that runs a session: it reads chunks (a length line, then a `P` or `S` for
/// pretty-printed or `str` values, then the code) and runs each as
/// `org-babel-python-format-session-value` does, in one `__main__` namespace; it answers
/// `V` and the value, `N` (no final expression: Org reads an empty file) or `E` and the
/// error, each as a length line and the text. What the code prints is dropped, as the
/// session's buffer keeps it.
const DRIVER: &str = r#"
import ast, io, pprint, sys, traceback
ns = {'__name__': '__main__', '__builtins__': __builtins__}
inp, out = sys.stdin.buffer, sys.stdout.buffer
def answer(kind, text):
    data = text.encode('utf-8')
    out.write(kind.encode() + str(len(data)).encode() + b'\n' + data)
    out.flush()
while True:
    n = inp.readline()
    if not n:
        break
    src = inp.read(int(n)).decode('utf-8')
    pp, src = src[0] == 'P', src[1:]
    saved = sys.stdout
    sys.stdout = io.StringIO()
    try:
        tree = ast.parse(src)
        final = tree.body[-1]
        if isinstance(final, ast.Expr):
            tree.body = tree.body[:-1]
            exec(compile(tree, '<string>', 'exec'), ns)
            value = eval(compile(ast.Expression(final.value), '<string>', 'eval'), ns)
            text = pprint.pformat(value) if pp else str(value)
            sys.stdout = saved
            answer('V', text)
        else:
            exec(compile(tree, '<string>', 'exec'), ns)
            sys.stdout = saved
            answer('N', '')
    except BaseException:
        sys.stdout = saved
        answer('E', traceback.format_exc(limit=-1))
"#;

/// A Python session: one process that keeps its variables from block to block.
pub(super) struct Session {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Session {
    /// Starts `python` in `dir`.
    pub(super) fn start(dir: &Path) -> Result<Session, String> {
        let mut child = Command::new("python")
            .arg("-c")
            .arg(DRIVER)
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start a Python session (`python`): {e}"))?;
        let stdin = child.stdin.take().expect("piped");
        let stdout = BufReader::new(child.stdout.take().expect("piped"));
        Ok(Session {
            child,
            stdin,
            stdout,
        })
    }

    /// Runs `code` in the session: the text Org would read from the results file.
    pub(super) fn run(&mut self, code: &str, pp: bool) -> Result<String, String> {
        let chunk = format!("{}{code}", if pp { 'P' } else { 'S' });
        let lost = |e: std::io::Error| format!("the Python session stopped: {e}");
        write!(self.stdin, "{}\n{chunk}", chunk.len()).map_err(lost)?;
        self.stdin.flush().map_err(lost)?;
        let mut head = String::new();
        self.stdout.read_line(&mut head).map_err(lost)?;
        let (kind, len) = head.split_at(head.len().min(1));
        let len: usize = len
            .trim_end()
            .parse()
            .map_err(|_| "the Python session stopped".to_string())?;
        let mut data = vec![0; len];
        self.stdout.read_exact(&mut data).map_err(lost)?;
        let text = String::from_utf8(data).map_err(|_| "a value that is not UTF-8".to_string())?;
        match kind {
            "V" => Ok(text),
            "N" => Ok(String::new()),
            _ => Err(format!(
                "it fails in the session: {}; Emacs would insert an empty result",
                text.trim_end()
            )),
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shifting_keeps_strings_and_empties_blank_lines() {
        assert_eq!(
            shift_right("x = 1\nif x:\n\ty = '''a\n  b'''\n   \nreturn y # '"),
            "    x = 1\n    if x:\n            y = '''a\n  b'''\n\n    return y # '"
        );
        assert_eq!(shift_right("s = \"a\\\"\"\nt"), "    s = \"a\\\"\"\n    t");
    }

    #[test]
    fn values_are_read_as_org_reads_them() {
        assert_eq!(table_or_string("42\n"), Ok(Obj::Int(42)));
        assert_eq!(
            table_or_string("#define A \\\nB"),
            Ok(Obj::Str("#define A \\\nB".into()))
        );
        assert!(table_or_string("[1, 2]").unwrap_err().contains("list"));
        assert!(table_or_string("'a'").unwrap_err().contains("as Lisp"));
    }
}
