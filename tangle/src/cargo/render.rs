//! Rendering one diagnostic: spans in tangled files shown at their place in the chapters,
//! with the chapter's lines as the snippet, the way rustc lays them out.

use super::*;
use crate::paths::normalize;

/// Renders one diagnostic without colour. `message` is a cargo `compiler-message` (whose
/// `manifest_path` helps to find files) or rustc's diagnostic object itself.
pub fn render(message: &Value, outputs: &[Output], root: &Path) -> String {
    Mapper::new(root, outputs).render(message)
}

/// ANSI styles, as rustc uses them.
pub(super) const BOLD: &str = "\x1b[1m";
const ERROR: &str = "\x1b[1m\x1b[91m";
pub(super) const WARNING: &str = "\x1b[1m\x1b[93m";
const NOTE: &str = "\x1b[1m\x1b[92m";
const HELP: &str = "\x1b[1m\x1b[96m";
const BLUE: &str = "\x1b[1m\x1b[94m";
const RESET: &str = "\x1b[0m";

pub(super) fn paint(color: bool, style: &str, text: &str) -> String {
    if color {
        format!("{style}{text}{RESET}")
    } else {
        text.to_string()
    }
}

fn level_style(level: &str) -> &'static str {
    match level {
        "warning" => WARNING,
        "note" | "failure-note" => NOTE,
        "help" => HELP,
        _ => ERROR,
    }
}

/// Where a file named in a diagnostic stands with respect to the tangled outputs.
enum Found {
    /// Output `i`, and the line of the diagnostic matches what tangle produces.
    Output(usize),
    /// A tangled file whose contents on disk differ from what tangle produces.
    Stale(usize),
    NotTangled,
}

/// Maps diagnostics into the document: knows the outputs, where they live, and reads (and
/// caches) the chapters to show their lines.
pub struct Mapper<'a> {
    root: PathBuf,
    /// `root` made absolute: as written and with symbolic links resolved.
    abs_roots: Vec<PathBuf>,
    outputs: &'a [Output],
    by_path: HashMap<PathBuf, usize>,
    lines: Vec<Vec<String>>,
    docs: RefCell<HashMap<PathBuf, Option<Rc<Vec<String>>>>>,
    color: bool,
}

/// One end of a span, resolved.
#[derive(Debug, Clone)]
struct Loc {
    /// Which snippet the location belongs to: (file shown, fragment or a tag).
    key: (String, String),
    file: String,
    line: usize,
    col: usize,
    /// The source line shown in the snippet.
    text: Option<String>,
    /// What follows the location in a `-->` line: the tangled place and fragment.
    suffix: String,
    mapped: bool,
}

#[derive(Debug, Clone)]
struct Ann {
    line: usize,
    start: usize,
    /// Exclusive end column; `None`: to the end of the line.
    end: Option<usize>,
    primary: bool,
    label: Option<String>,
}

/// A run of source lines from one file (and one fragment), with annotations.
#[derive(Debug, Default)]
struct Snippet {
    key: (String, String),
    file: String,
    head: Option<(usize, usize, String, bool)>,
    texts: BTreeMap<usize, String>,
    anns: Vec<Ann>,
}

/// Snippets of one diagnostic or child, in order: the primary span's first.
#[derive(Debug, Default)]
struct Snippets(Vec<Snippet>);

impl Snippets {
    fn add(&mut self, loc: &Loc, ann: Option<Ann>) {
        let i = match self.0.iter().position(|s| s.key == loc.key) {
            Some(i) => i,
            None => {
                self.0.push(Snippet {
                    key: loc.key.clone(),
                    file: loc.file.clone(),
                    ..Snippet::default()
                });
                self.0.len() - 1
            }
        };
        let sn = &mut self.0[i];
        if let Some(t) = &loc.text {
            sn.texts.entry(loc.line).or_insert_with(|| t.clone());
        }
        if let Some(ann) = ann {
            let primary = ann.primary;
            if sn.head.as_ref().is_none_or(|h| primary && !h.3) {
                sn.head = Some((loc.line, loc.col, loc.suffix.clone(), primary));
            }
            if !sn.anns.iter().any(|a| {
                a.line == ann.line
                    && a.start == ann.start
                    && a.end == ann.end
                    && a.label == ann.label
            }) {
                sn.anns.push(ann);
            }
        }
    }

    fn order(&mut self) {
        // The snippet with the first primary span leads; the rest keep their order.
        if let Some(i) = self
            .0
            .iter()
            .position(|s| s.head.as_ref().is_some_and(|h| h.3))
        {
            let s = self.0.remove(i);
            self.0.insert(0, s);
        }
    }

    fn max_line(&self) -> usize {
        self.0
            .iter()
            .flat_map(|s| s.anns.iter().map(|a| a.line).chain(s.texts.keys().copied()))
            .max()
            .unwrap_or(0)
    }
}

impl<'a> Mapper<'a> {
    /// `root` is the folder the outputs' paths are relative to (and where cargo runs).
    pub fn new(root: &Path, outputs: &'a [Output]) -> Mapper<'a> {
        let mut abs_roots = Vec::new();
        let abs = std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf());
        abs_roots.push(normalize(&abs));
        if let Ok(c) = root.canonicalize() {
            if !abs_roots.contains(&c) {
                abs_roots.push(c);
            }
        }
        let by_path = outputs
            .iter()
            .enumerate()
            .map(|(i, o)| (normalize(&o.path), i))
            .collect();
        let lines = outputs
            .iter()
            .map(|o| {
                String::from_utf8_lossy(&o.content)
                    .split('\n')
                    .map(|l| l.strip_suffix('\r').unwrap_or(l).to_string())
                    .collect()
            })
            .collect();
        Mapper {
            root: root.to_path_buf(),
            abs_roots,
            outputs,
            by_path,
            lines,
            docs: RefCell::new(HashMap::new()),
            color: false,
        }
    }

    /// Colours the output with ANSI escapes, as rustc does on a terminal.
    pub fn color(mut self, on: bool) -> Mapper<'a> {
        self.color = on;
        self
    }

    /// Gives the text of a chapter instead of reading it from `root` (for tests, or for a
    /// chapter that is not on disk).
    pub fn with_document(self, path: impl Into<PathBuf>, text: &str) -> Mapper<'a> {
        let lines = text
            .split('\n')
            .map(|l| l.strip_suffix('\r').unwrap_or(l).to_string())
            .collect();
        self.docs
            .borrow_mut()
            .insert(path.into(), Some(Rc::new(lines)));
        self
    }

    /// Renders one diagnostic (a cargo `compiler-message` or rustc's diagnostic object). If no
    /// span lies in a tangled file, this is rustc's own rendering, unchanged.
    pub fn render(&self, message: &Value) -> String {
        let (diag, manifest_dir) = split_message(message);
        let mut stale = BTreeSet::new();
        let mut generated = BTreeSet::new();
        let mut any = false;
        visit_spans(diag, &mut |span| {
            if let Some(file) = span.get("file_name").and_then(Value::as_str) {
                let line = uint(span, "line_start");
                let text = span_text(span, false);
                match self.find(file, manifest_dir.as_deref(), line, text.as_deref()) {
                    Found::Output(i) if self.outputs[i].map.locate(line, 1).is_some() => any = true,
                    Found::Output(i) => {
                        generated.insert((i, line));
                    }
                    Found::Stale(i) => {
                        stale.insert(i);
                    }
                    Found::NotTangled => {}
                }
            }
        });
        let mut out = match diag.get("rendered").and_then(Value::as_str) {
            Some(r) if !any => {
                // Nothing to map: rustc's own text, and a word on lines that tangle made up.
                let mut out = r.to_string();
                for (i, line) in generated {
                    let note = format!(
                        "{}: line {line} of {} is generated by tangle (not taken from the document)\n\n",
                        paint(self.color, NOTE, "note"),
                        self.outputs[i].path.display()
                    );
                    out.push_str(&note);
                }
                out
            }
            _ => self.render_diag(diag, manifest_dir.as_deref()),
        };
        for i in stale {
            let note = format!(
                "{}: {} differs from what tangle makes of the document, so its locations are not mapped; run `tangle` again\n\n",
                paint(self.color, NOTE, "note"),
                self.outputs[i].path.display()
            );
            out.push_str(&note);
        }
        out
    }

    /// One line per diagnostic: `path:line:col: level[code]: message`, mapped.
    pub fn render_short(&self, message: &Value) -> String {
        let (diag, manifest_dir) = split_message(message);
        let level = diag.get("level").and_then(Value::as_str).unwrap_or("error");
        let text = diag.get("message").and_then(Value::as_str).unwrap_or("");
        if level == "failure-note" {
            return format!("{text}\n");
        }
        let code = code_of(diag).map(|c| format!("[{c}]")).unwrap_or_default();
        let spans = diag
            .get("spans")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let primary = spans
            .iter()
            .find(|s| s.get("is_primary").and_then(Value::as_bool) == Some(true))
            .or(spans.first());
        match primary {
            Some(span) => {
                let loc = self.resolve(span, false, manifest_dir.as_deref());
                format!(
                    "{}:{}:{}: {level}{code}: {text}{}\n",
                    loc.file, loc.line, loc.col, loc.suffix
                )
            }
            None => format!("{level}{code}: {text}\n"),
        }
    }

    /// Which output a file named in a diagnostic is, trying it relative to the root, to the
    /// package's folder and to that folder's parents; the line's text (when rustc gives it)
    /// must match what tangle produces.
    fn find(
        &self,
        file: &str,
        manifest_dir: Option<&Path>,
        line: usize,
        text: Option<&str>,
    ) -> Found {
        let file = Path::new(file);
        let mut candidates = Vec::new();
        if file.is_absolute() {
            candidates.push(file.to_path_buf());
        } else {
            for r in &self.abs_roots {
                candidates.push(r.join(file));
            }
            if let Some(dir) = manifest_dir {
                candidates.extend(dir.ancestors().map(|d| d.join(file)));
            }
        }
        let mut stale = None;
        let mut tried = HashSet::new();
        for c in candidates {
            let c = normalize(&c);
            for r in &self.abs_roots {
                let Ok(rel) = c.strip_prefix(r) else { continue };
                let Some(&i) = self.by_path.get(rel) else {
                    continue;
                };
                if !tried.insert(i) {
                    continue;
                }
                let same = match text {
                    Some(t) => self.lines[i]
                        .get(line.wrapping_sub(1))
                        .is_some_and(|l| l == t),
                    None => true,
                };
                if same {
                    return Found::Output(i);
                }
                stale.get_or_insert(i);
            }
        }
        stale.map_or(Found::NotTangled, Found::Stale)
    }

    fn doc_line(&self, path: &Path, line: usize) -> Option<String> {
        let mut docs = self.docs.borrow_mut();
        let doc = docs.entry(path.to_path_buf()).or_insert_with(|| {
            let text = std::fs::read_to_string(self.root.join(path)).ok()?;
            Some(Rc::new(
                text.split('\n')
                    .map(|l| l.strip_suffix('\r').unwrap_or(l).to_string())
                    .collect(),
            ))
        });
        doc.as_ref()?.get(line.checked_sub(1)?).cloned()
    }

    /// One end of `span` (its start, or its end if `end`), mapped when it is in a tangled file.
    fn resolve(&self, span: &Value, end: bool, manifest_dir: Option<&Path>) -> Loc {
        let file = span
            .get("file_name")
            .and_then(Value::as_str)
            .unwrap_or("<unknown>");
        let (line, col) = if end {
            (uint(span, "line_end"), uint(span, "column_end"))
        } else {
            (uint(span, "line_start"), uint(span, "column_start"))
        };
        // The end is exclusive: locate the span's last character (which may come from another
        // piece of the line than the character after it), then step past it.
        let inner_end = end
            && col > 1
            && (uint(span, "line_start") != line || col > uint(span, "column_start"));
        let (probe, step) = if inner_end { (col - 1, 1) } else { (col, 0) };
        let text = span_text(span, end);
        let raw = |suffix: String, tag: &str| Loc {
            key: (file.to_string(), tag.to_string()),
            file: file.to_string(),
            line,
            col,
            text: text.clone(),
            suffix,
            mapped: false,
        };
        let check_line = uint(span, if end { "line_end" } else { "line_start" });
        let Found::Output(i) = self.find(file, manifest_dir, check_line, text.as_deref()) else {
            return raw(String::new(), "");
        };
        let out = &self.outputs[i];
        let out_path = out.path.display().to_string();
        match out.map.locate(line, probe) {
            Some(at) => {
                let doc = at.path.display().to_string().replace('\\', "/");
                let place = if at.fragment == out_path || at.fragment.is_empty() {
                    format!("in `file={out_path}`")
                } else {
                    format!("in «{}»", at.fragment)
                };
                Loc {
                    key: (doc.clone(), at.fragment.to_string()),
                    file: doc,
                    line: at.line,
                    col: at.col + step,
                    text: self.doc_line(at.path, at.line),
                    suffix: format!(" ({out_path}:{line}:{col}, {place})"),
                    mapped: true,
                }
            }
            None => raw(
                " (a line tangle generated: not in the document)".to_string(),
                "\0generated",
            ),
        }
    }

    /// Adds `span` (both ends) and the macro invocations it was expanded from to `snippets`.
    fn add_span(
        &self,
        snippets: &mut Snippets,
        span: &Value,
        siblings: &[Value],
        md: Option<&Path>,
    ) {
        let start = self.resolve(span, false, md);
        let end = self.resolve(span, true, md);
        let primary = span
            .get("is_primary")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let label = span
            .get("label")
            .and_then(Value::as_str)
            .filter(|l| !l.is_empty())
            .map(str::to_string);
        let one_line = uint(span, "line_start") == uint(span, "line_end");
        if one_line && start.key == end.key && start.line == end.line {
            let ann = Ann {
                line: start.line,
                start: start.col,
                end: Some(end.col.max(start.col)),
                primary,
                label,
            };
            snippets.add(&start, Some(ann));
        } else {
            snippets.add(
                &start,
                Some(Ann {
                    line: start.line,
                    start: start.col,
                    end: None,
                    primary,
                    label: None,
                }),
            );
            let from = end.text.as_deref().map_or(1, |t| {
                t.chars().take_while(|c| c.is_whitespace()).count() + 1
            });
            let from = from.min(end.col.saturating_sub(1)).max(1);
            snippets.add(
                &end,
                Some(Ann {
                    line: end.line,
                    start: from,
                    end: Some(end.col.max(from)),
                    primary,
                    label,
                }),
            );
        }
        // Macro expansions: show each invocation unless another span already lies in it.
        let mut inner = span;
        while let Some(exp) = inner.get("expansion").filter(|e| e.is_object()) {
            let Some(call) = exp.get("span").filter(|s| s.is_object()) else {
                break;
            };
            let shown = siblings
                .iter()
                .any(|s| !std::ptr::eq(s, span) && contains(call, s));
            if !shown && !contains(call, span) {
                let name = exp
                    .get("macro_decl_name")
                    .and_then(Value::as_str)
                    .unwrap_or("macro");
                let at = self.resolve(call, false, md);
                let to = self.resolve(call, true, md);
                let end = (at.key == to.key && at.line == to.line).then_some(to.col.max(at.col));
                let label = Some(format!("in this expansion of `{name}`"));
                snippets.add(
                    &at,
                    Some(Ann {
                        line: at.line,
                        start: at.col,
                        end,
                        primary: false,
                        label,
                    }),
                );
            }
            inner = call;
        }
    }

    fn snippets(&self, spans: &[Value], md: Option<&Path>) -> Snippets {
        let mut s = Snippets::default();
        for span in spans {
            self.add_span(&mut s, span, spans, md);
        }
        s.order();
        s
    }

    fn render_diag(&self, diag: &Value, md: Option<&Path>) -> String {
        let level = diag.get("level").and_then(Value::as_str).unwrap_or("error");
        let message = diag.get("message").and_then(Value::as_str).unwrap_or("");
        let spans = spans_of(diag);
        let main = self.snippets(spans, md);
        let children: Vec<&Value> = diag
            .get("children")
            .and_then(Value::as_array)
            .map(|c| c.iter().collect())
            .unwrap_or_default();
        let mut parts = Vec::new();
        let mut width = main.max_line();
        for child in &children {
            let cs = spans_of(child);
            let suggestion = cs
                .iter()
                .any(|s| s.get("suggested_replacement").is_some_and(Value::is_string));
            let part = if suggestion {
                let edits = self.suggestion(cs, md);
                width = width.max(
                    edits
                        .iter()
                        .flat_map(|e| e.lines.iter().map(|l| l.1))
                        .max()
                        .unwrap_or(0),
                );
                Part::Suggestion(edits)
            } else if cs.is_empty() {
                Part::Note
            } else {
                let s = self.snippets(cs, md);
                width = width.max(s.max_line());
                Part::Snippets(s)
            };
            parts.push(part);
        }
        let w = width.to_string().len();
        let mut out = String::new();
        let code = code_of(diag).map(|c| format!("[{c}]")).unwrap_or_default();
        let _ = writeln!(
            out,
            "{}{}",
            paint(self.color, level_style(level), &format!("{level}{code}")),
            self.bold(&format!(": {message}"))
        );
        if !main.0.is_empty() {
            self.write_snippets(&mut out, &main, w, level);
            if !children.is_empty() {
                let _ = writeln!(out, "{}", self.gutter(w, None));
            }
        }
        for (child, part) in children.iter().zip(parts) {
            let clevel = child.get("level").and_then(Value::as_str).unwrap_or("note");
            let cmsg = child.get("message").and_then(Value::as_str).unwrap_or("");
            match part {
                Part::Note => {
                    let indent = " ".repeat(w + 5 + clevel.len());
                    let cmsg = cmsg.replace('\n', &format!("\n{indent}"));
                    let _ = writeln!(
                        out,
                        "{}{} {}: {cmsg}",
                        " ".repeat(w + 1),
                        self.blue("="),
                        self.bold(clevel)
                    );
                }
                Part::Snippets(s) => {
                    let _ = writeln!(
                        out,
                        "{}{}",
                        paint(self.color, level_style(clevel), clevel),
                        self.bold(&format!(": {cmsg}"))
                    );
                    self.write_snippets(&mut out, &s, w, clevel);
                }
                Part::Suggestion(edits) => {
                    let _ = writeln!(
                        out,
                        "{}{}",
                        paint(self.color, level_style(clevel), clevel),
                        self.bold(&format!(": {cmsg}"))
                    );
                    self.write_suggestion(
                        &mut out,
                        &edits,
                        w,
                        main.0.first().map(|s| s.key.clone()),
                    );
                }
            }
        }
        out.push('\n');
        out
    }

    fn bold(&self, s: &str) -> String {
        paint(self.color, BOLD, s)
    }

    fn blue(&self, s: &str) -> String {
        paint(self.color, BLUE, s)
    }

    /// The gutter: `NNN | ` or `    | ` (no trailing space when nothing follows).
    fn gutter(&self, w: usize, line: Option<usize>) -> String {
        match line {
            Some(n) => self.blue(&format!("{n:>w$} |")),
            None => format!("{}{}", " ".repeat(w + 1), self.blue("|")),
        }
    }

    fn write_snippets(&self, out: &mut String, snippets: &Snippets, w: usize, level: &str) {
        for (i, sn) in snippets.0.iter().enumerate() {
            let (hl, hc, suffix) = sn
                .head
                .as_ref()
                .map_or((0, 0, ""), |h| (h.0, h.1, h.2.as_str()));
            if i == 0 {
                let _ = writeln!(
                    out,
                    "{}{} {}:{hl}:{hc}{suffix}",
                    " ".repeat(w),
                    self.blue("-->"),
                    sn.file
                );
            } else {
                let _ = writeln!(out, "{}", self.gutter(w, None));
                let _ = writeln!(
                    out,
                    "{}{} {}:{hl}:{hc}{suffix}",
                    " ".repeat(w),
                    self.blue(":::"),
                    sn.file
                );
            }
            let _ = writeln!(out, "{}", self.gutter(w, None));
            let lines: BTreeSet<usize> = sn.anns.iter().map(|a| a.line).collect();
            let mut prev: Option<usize> = None;
            for &line in &lines {
                if let Some(p) = prev {
                    if line == p + 2 && sn.texts.contains_key(&(p + 1)) {
                        self.write_source(out, w, p + 1, sn.texts.get(&(p + 1)));
                    } else if line > p + 1 {
                        let _ = writeln!(out, "{}", self.blue("..."));
                    }
                }
                let text = sn.texts.get(&line);
                self.write_source(out, w, line, text);
                let anns: Vec<&Ann> = sn.anns.iter().filter(|a| a.line == line).collect();
                for row in self.marker_rows(text.map_or("", String::as_str), &anns, level) {
                    let _ = writeln!(out, "{} {row}", self.gutter(w, None));
                }
                prev = Some(line);
            }
        }
    }

    fn write_source(&self, out: &mut String, w: usize, line: usize, text: Option<&String>) {
        let text = text.map(|t| t.replace('\t', "    ")).unwrap_or_default();
        if text.is_empty() {
            let _ = writeln!(out, "{}", self.gutter(w, Some(line)));
        } else {
            let _ = writeln!(out, "{} {text}", self.gutter(w, Some(line)));
        }
    }

    /// The rows under a source line: underlines, then labels, as rustc lays them out.
    fn marker_rows(&self, text: &str, anns: &[&Ann], level: &str) -> Vec<String> {
        let cols: Vec<char> = text.chars().collect();
        // Display offset (0-based) of 1-based char column `c`: tabs show as four spaces.
        let disp = |c: usize| -> usize {
            cols.iter()
                .take(c.saturating_sub(1))
                .map(|&ch| if ch == '\t' { 4 } else { 1 })
                .sum::<usize>()
                + c.saturating_sub(1).saturating_sub(cols.len())
        };
        let eol =
            disp(cols.len() - cols.iter().rev().take_while(|c| c.is_whitespace()).count() + 1);
        let mut spans: Vec<(usize, usize, &Ann)> = anns
            .iter()
            .map(|a| {
                let s = disp(a.start);
                let e = a.end.map_or(eol, disp).max(s + 1);
                (s, e, *a)
            })
            .collect();
        spans.sort_by_key(|&(s, e, a)| (s, e, !a.primary));
        let width = spans.iter().map(|s| s.1).max().unwrap_or(0);
        let primary_style = level_style(level);
        // Row 1: the underlines, primary over secondary.
        let mut row: Vec<(char, u8)> = vec![(' ', 0); width];
        for pass in [false, true] {
            for &(s, e, _) in spans.iter().filter(|x| x.2.primary == pass) {
                for cell in &mut row[s..e] {
                    *cell = if pass { ('^', 1) } else { ('-', 2) };
                }
            }
        }
        let style = |a: &Ann| if a.primary { primary_style } else { BLUE };
        let mut rows = Vec::new();
        let mut first = self.cells(&row, primary_style);
        let last = spans.last().copied();
        let inline = last.filter(|&(s, _, a)| {
            a.label.is_some() && spans.iter().all(|x| std::ptr::eq(x.2, a) || x.1 <= s)
        });
        if let Some((_, _, a)) = inline {
            let _ = write!(
                first,
                " {}",
                paint(self.color, style(a), a.label.as_deref().unwrap_or(""))
            );
        }
        rows.push(first);
        let hanging: Vec<(usize, &Ann)> = spans
            .iter()
            .filter(|x| x.2.label.is_some() && !inline.is_some_and(|i| std::ptr::eq(i.2, x.2)))
            .map(|x| (x.0, x.2))
            .collect();
        if !hanging.is_empty() {
            let bars = |upto: usize| {
                let mut r: Vec<(char, u8)> = vec![(' ', 0); width.max(1)];
                for &(s, a) in &hanging[..upto] {
                    r[s] = ('|', if a.primary { 1 } else { 2 });
                }
                r
            };
            rows.push(self.cells(&bars(hanging.len()), primary_style));
            for k in (0..hanging.len()).rev() {
                let (s, a) = hanging[k];
                let mut r = bars(k);
                r.truncate(s);
                let mut line = self.cells(&r, primary_style);
                let pad = s - line_len(&r);
                line.push_str(&" ".repeat(pad));
                line.push_str(&paint(
                    self.color,
                    style(a),
                    a.label.as_deref().unwrap_or(""),
                ));
                rows.push(line);
            }
        }
        rows
    }

    /// A row of cells as text: style 1 is the primary colour, 2 the secondary, trailing
    /// blanks trimmed.
    fn cells(&self, row: &[(char, u8)], primary: &str) -> String {
        let n = line_len(row);
        let mut s = String::new();
        let mut cur = 0u8;
        for &(c, st) in &row[..n] {
            if self.color && st != cur {
                if cur != 0 {
                    s.push_str(RESET);
                }
                if st != 0 {
                    s.push_str(if st == 1 { primary } else { BLUE });
                }
                cur = st;
            }
            s.push(c);
        }
        if self.color && cur != 0 {
            s.push_str(RESET);
        }
        s
    }

    /// The edits of a suggestion, gathered per file and line range.
    fn suggestion(&self, spans: &[Value], md: Option<&Path>) -> Vec<Edit> {
        struct One {
            start: Loc,
            end: Loc,
            with: String,
        }
        let mut ones: Vec<One> = Vec::new();
        let mut texts: HashMap<(String, String), BTreeMap<usize, String>> = HashMap::new();
        for span in spans {
            let Some(with) = span.get("suggested_replacement").and_then(Value::as_str) else {
                continue;
            };
            let start = self.resolve(span, false, md);
            let end = self.resolve(span, true, md);
            let t = texts.entry(start.key.clone()).or_default();
            if start.mapped {
                if start.key == end.key {
                    for l in start.line..=end.line.max(start.line) {
                        if let Some(text) = self.doc_line(Path::new(&start.file), l) {
                            t.insert(l, text);
                        }
                    }
                }
            } else if let Some(list) = span.get("text").and_then(Value::as_array) {
                for (k, e) in list.iter().enumerate() {
                    if let Some(text) = e.get("text").and_then(Value::as_str) {
                        t.insert(start.line + k, text.to_string());
                    }
                }
            }
            ones.push(One {
                start,
                end,
                with: with.to_string(),
            });
        }
        // Group edits by snippet, then merge those whose line ranges touch.
        let mut edits: Vec<Edit> = Vec::new();
        ones.sort_by(|a, b| {
            (&a.start.key, a.start.line, a.start.col).cmp(&(
                &b.start.key,
                b.start.line,
                b.start.col,
            ))
        });
        for one in ones {
            let lo = one.start.line;
            let hi = if one.end.key == one.start.key {
                one.end.line.max(lo)
            } else {
                lo
            };
            let e_col = if one.end.key == one.start.key && one.end.line == hi {
                one.end.col
            } else {
                usize::MAX
            };
            let piece = (lo, one.start.col, hi, e_col, one.with.clone());
            match edits
                .last_mut()
                .filter(|e| e.key == one.start.key && lo <= e.hi + 1)
            {
                Some(e) => {
                    e.hi = e.hi.max(hi);
                    e.pieces.push(piece);
                }
                None => edits.push(Edit {
                    key: one.start.key.clone(),
                    file: one.start.file.clone(),
                    head: (lo, one.start.col, one.start.suffix.clone()),
                    lo,
                    hi,
                    pieces: vec![piece],
                    lines: Vec::new(),
                }),
            }
        }
        for e in &mut edits {
            let t = texts.get(&e.key);
            let old: Option<Vec<String>> = (e.lo..=e.hi)
                .map(|l| t.and_then(|t| t.get(&l)).cloned())
                .collect();
            let Some(old) = old else {
                // Lines unknown: list the replacements instead.
                e.lines = e
                    .pieces
                    .iter()
                    .map(|p| {
                        (
                            '=',
                            p.0,
                            format!("at {}:{}:{}: replace with `{}`", e.file, p.0, p.1, p.4),
                        )
                    })
                    .collect();
                continue;
            };
            let mut chars: Vec<char> = old.join("\n").chars().collect();
            // Char offset of (line, 1-based col) in the joined text.
            let offset = |line: usize, col: usize| -> usize {
                let before: usize = old[..line - e.lo]
                    .iter()
                    .map(|l| l.chars().count() + 1)
                    .sum();
                let len = old[line - e.lo].chars().count();
                before + col.saturating_sub(1).min(len)
            };
            let mut pieces = e.pieces.clone();
            pieces.sort_by_key(|p| std::cmp::Reverse((p.0, p.1)));
            for (l0, c0, l1, c1, with) in pieces {
                let s = offset(l0, c0);
                let t = offset(l1, c1).max(s);
                chars.splice(s..t, with.chars());
            }
            let new: String = chars.into_iter().collect();
            for (k, l) in old.iter().enumerate() {
                e.lines.push(('-', e.lo + k, l.clone()));
            }
            for (k, l) in new.split('\n').enumerate() {
                e.lines.push(('+', e.lo + k, l.to_string()));
            }
        }
        edits
    }

    /// Writes the edits of a suggestion; a `-->` line names the place whenever it is not in the
    /// file (and fragment) shown last, starting from `shown`.
    fn write_suggestion(
        &self,
        out: &mut String,
        edits: &[Edit],
        w: usize,
        mut shown: Option<(String, String)>,
    ) {
        for e in edits {
            if shown.as_ref() != Some(&e.key) {
                let (l, c, suffix) = &e.head;
                let _ = writeln!(
                    out,
                    "{}{} {}:{l}:{c}{suffix}",
                    " ".repeat(w),
                    self.blue("-->"),
                    e.file
                );
                shown = Some(e.key.clone());
            }
            let _ = writeln!(out, "{}", self.gutter(w, None));
            for (mark, line, text) in &e.lines {
                let text = text.replace('\t', "    ");
                match mark {
                    '=' => {
                        let _ = writeln!(out, "{}{} {text}", " ".repeat(w + 1), self.blue("="));
                    }
                    '-' => {
                        let _ = writeln!(
                            out,
                            "{} {}",
                            self.blue(&format!("{line:>w$} -")),
                            paint(self.color, ERROR, &text)
                        );
                    }
                    _ => {
                        let _ = writeln!(
                            out,
                            "{} {}",
                            self.blue(&format!("{line:>w$} +")),
                            paint(self.color, "\x1b[92m", &text)
                        );
                    }
                }
            }
        }
        let _ = writeln!(out, "{}", self.gutter(w, None));
    }
}

/// What one child of a diagnostic renders as.
enum Part {
    Note,
    Snippets(Snippets),
    Suggestion(Vec<Edit>),
}

/// Replacements in one range of lines of one file.
#[derive(Debug, Clone)]
struct Edit {
    key: (String, String),
    file: String,
    head: (usize, usize, String),
    lo: usize,
    hi: usize,
    /// (line, col, end line, end col, replacement)
    pieces: Vec<(usize, usize, usize, usize, String)>,
    /// Rendered: ('-' old | '+' new | '=' note, line, text).
    lines: Vec<(char, usize, String)>,
}

fn line_len(row: &[(char, u8)]) -> usize {
    row.len() - row.iter().rev().take_while(|c| c.0 == ' ').count()
}

/// The diagnostic of a cargo message (or the value itself) and the package's folder.
fn split_message(message: &Value) -> (&Value, Option<PathBuf>) {
    match message.get("message").filter(|m| m.is_object()) {
        Some(diag) => {
            let md = message
                .get("manifest_path")
                .and_then(Value::as_str)
                .and_then(|p| Path::new(p).parent())
                .map(Path::to_path_buf);
            (diag, md)
        }
        None => (message, None),
    }
}

fn spans_of(diag: &Value) -> &[Value] {
    diag.get("spans")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// The error code (`E0308`); lint names, which rustc also puts there, are not shown.
fn code_of(diag: &Value) -> Option<&str> {
    let code = diag
        .get("code")
        .and_then(|c| c.get("code"))
        .and_then(Value::as_str)?;
    let digits = code.strip_prefix('E')?;
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())).then_some(code)
}

fn uint(v: &Value, key: &str) -> usize {
    v.get(key).and_then(Value::as_u64).unwrap_or(0) as usize
}

/// The source text rustc gives for the first (or last) line of a span.
fn span_text(span: &Value, last: bool) -> Option<String> {
    let list = span.get("text")?.as_array()?;
    let e = if last { list.last()? } else { list.first()? };
    e.get("text")?.as_str().map(str::to_string)
}

/// Whether span `outer` covers span `inner` (same file, byte range inside).
fn contains(outer: &Value, inner: &Value) -> bool {
    let file = |s: &Value| {
        s.get("file_name")
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    file(outer).is_some()
        && file(outer) == file(inner)
        && uint(outer, "byte_start") <= uint(inner, "byte_start")
        && uint(inner, "byte_end") <= uint(outer, "byte_end")
}

/// Calls `f` on every span of `diag` and its children, and on the spans they were expanded from.
fn visit_spans(diag: &Value, f: &mut impl FnMut(&Value)) {
    fn span(s: &Value, f: &mut impl FnMut(&Value)) {
        f(s);
        if let Some(call) = s
            .get("expansion")
            .and_then(|e| e.get("span"))
            .filter(|c| c.is_object())
        {
            span(call, f);
        }
    }
    for s in spans_of(diag) {
        span(s, f);
    }
    if let Some(children) = diag.get("children").and_then(Value::as_array) {
        for c in children {
            visit_spans(c, f);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &[&str]) -> Vec<OsString> {
        s.iter().map(OsString::from).collect()
    }

    fn planned(s: &[&str], color: bool) -> Vec<String> {
        plan(&args(s), || color)
            .unwrap()
            .args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn message_format_goes_before_the_separator() {
        assert_eq!(
            planned(&["build"], false),
            ["build", "--message-format=json"]
        );
        assert_eq!(
            planned(&["test", "-p", "x", "--", "--nocapture"], true),
            [
                "test",
                "-p",
                "x",
                "--message-format=json-diagnostic-rendered-ansi",
                "--",
                "--nocapture"
            ]
        );
        assert_eq!(
            planned(&["+nightly", "-Z", "x", "clippy", "--color=never"], true),
            [
                "+nightly",
                "-Z",
                "x",
                "clippy",
                "--color=never",
                "--message-format=json"
            ]
        );
        assert_eq!(
            planned(&["fmt", "--", "--check"], false),
            ["fmt", "--", "--check"]
        );
        let p = plan(&args(&["build", "--message-format", "short"]), || false).unwrap();
        assert!(p.short && p.json);
        assert_eq!(p.args, args(&["build", "--message-format=json"]));
        assert!(plan(&args(&["build", "--message-format=json"]), || false).is_err());
        // After `--`, nothing is touched.
        assert_eq!(
            planned(&["run", "--", "--message-format=json"], false),
            [
                "run",
                "--message-format=json",
                "--",
                "--message-format=json"
            ]
        );
    }

    #[test]
    fn pump_separates_json_lines() {
        let input = b"{\"reason\":\"x\"}\nplain {\nmore\n{not json\n{\"reason\":\"y\"}".to_vec();
        let mut out = Vec::new();
        let mut seen = Vec::new();
        pump(&input[..], &mut out, |l| {
            seen.push(String::from_utf8_lossy(l).into_owned());
            serde_json::from_slice::<Value>(l).is_ok()
        })
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "plain {\nmore\n{not json\n"
        );
        assert_eq!(
            seen,
            ["{\"reason\":\"x\"}", "{not json", "{\"reason\":\"y\"}"]
        );
    }

    #[test]
    fn package_names() {
        let m = |id: &str| serde_json::json!({"package_id": id, "target": {"kind": ["bin"], "name": "server"}});
        assert_eq!(
            target_key(&m("path+file:///w/sel#0.1.0")),
            ("sel".into(), "bin \"server\"".into())
        );
        assert_eq!(target_key(&m("path+file:///w/dir#name@0.1.0")).0, "name");
        assert_eq!(target_key(&m("name 0.1.0 (path+file:///w)")).0, "name");
    }
}
