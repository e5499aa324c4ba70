//! Tangling: `org-babel-tangle` groups the tangled blocks by target file
//! (`org-babel-effective-tangled-filename`), `org-babel-tangle-single-block` computes each
//! block's target, options and final body, and the files are assembled with their line maps.

use super::body::{has_c_main, label_format, org_trim, remove_coderefs, remove_indentation};
use super::header::{param, Val};
use super::header_eval::Evaluated;
use super::link::{comment_region, comment_syntax, CommentSyntax, LinkComments};
use super::noweb::Group;
use super::text::{Body, NormalLine};
use super::vars::VarCode;
use super::{on_big_stack, string_nw, PendingCall, Tangler};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use tangle_core::diag::{Diagnostic, Pos};
use tangle_core::mapped::MappedText;
use tangle_core::output::{Folders, Origin, Output, SourceMap};

/// The C wrapper's options (`org-babel-C-expand-C`).
struct COptions {
    includes: Option<String>,
    defines: Option<String>,
    namespaces: Option<String>,
    main: Option<String>,
}

/// What `org-babel-tangle-single-block` gives for one block: its target, options and body.
pub(super) struct TangledBlock {
    pub(super) tangle: Option<String>,
    pub(super) body: MappedText,
    pub(super) shebang: Option<String>,
    pub(super) padline: bool,
    pub(super) mkdirp: bool,
    pub(super) mode: Option<u32>,
    /// The texts of the comment lines before and after the body (`:comments link`).
    pub(super) comment: Option<LinkComments>,
    /// The Org text before the block (`:comments org` / `both`).
    pub(super) org_text: Option<String>,
    /// The line of the `:comments` argument.
    pub(super) comments_line: usize,
}

/// The comment prefix and suffix of the tangled file's major mode, or why it has none.
type Syntax = Result<(&'static str, &'static str), Option<String>>;

/// The buffer's comment `syntax` after a block of `lang`: the major mode changes with the
/// language, and a language without a mode keeps the previous one.
fn switch_major_mode(syntax: &mut Syntax, lang: &str) {
    match comment_syntax(lang) {
        Some(CommentSyntax::Comment(p, s)) => *syntax = Ok((p, s)),
        Some(CommentSyntax::NoComments) => {
            *syntax = Err(Some(format!(
                "the major mode of `{lang}` has no comment syntax"
            )))
        }
        Some(CommentSyntax::NoMode) => {
            if *syntax == Err(None) {
                *syntax = Err(Some(format!(
                    "Emacs 28 has no major mode for `{lang}`, so the file is in fundamental \
                     mode, which has no comment syntax"
                )));
            }
        }
        None => {
            *syntax = Err(Some(format!(
                "the comment syntax of `{lang}` is not known to this tangler"
            )))
        }
    }
}

/// The blocks tangled to one file (`org-babel-tangle` groups them by file name).
/// A file's text as its blocks make it, its mode and whether its folders are made.
struct FileText {
    m: MappedText,
    mode: Option<u32>,
    make_dir: bool,
}

struct FileGroup {
    file: String,
    /// Each block's index and what `org-babel-tangle-single-block` gave for it.
    blocks: Vec<(usize, TangledBlock)>,
}

/// `file-name-sans-extension`.
pub(super) fn file_name_sans_extension(name: &str) -> &str {
    match name.rfind('.') {
        Some(k) if k > 0 => &name[..k],
        _ => name,
    }
}

impl Tangler<'_> {
    pub(super) fn tangle(&mut self) {
        let groups = self.collect_files();
        if !self.diags.errors.is_empty() {
            return;
        }
        // The folders that files written earlier make (`:mkdirp`): Emacs writes the files one
        // after the other, so a later file finds them.
        let mut made: HashSet<PathBuf> = HashSet::new();
        for FileGroup { file, blocks } in groups {
            let first = &self.doc.blocks[blocks[0].0];
            let block_pos = self.pos(first.line, first.col);
            let Some(FileText { m, mode, make_dir }) = self.file_text(&file, blocks) else {
                continue;
            };
            let (content, mut map) = m.into_parts();
            self.name_fragments(&mut map);
            let Some(path) = self.output_path(&file, &block_pos) else {
                continue;
            };
            let parent = path.parent().map(Path::to_path_buf).unwrap_or_default();
            if make_dir {
                made.extend(parent.ancestors().map(Path::to_path_buf));
            }
            let out = Output {
                path: path.clone(),
                content: content.into_bytes(),
                mode: mode.map_or(0o644, |m| m & 0o7777),
                folders: if make_dir || made.contains(&parent) {
                    Folders::Make
                } else {
                    Folders::Existing {
                        hint: "add `:mkdirp yes`",
                    }
                },
                block: block_pos,
                map,
            };
            // Emacs writes files with the same name as often as they appear; the last wins.
            if let Some(k) = self
                .outputs
                .iter()
                .position(|o| tangle_core::paths::same(&o.path, &path))
            {
                self.warn(
                    1,
                    1,
                    format!(
                        "`{}` and `{}` are the same file; Emacs writes it twice and the second \
                         wins",
                        self.outputs[k].path.display(),
                        path.display()
                    ),
                );
                self.outputs.remove(k);
            }
            self.outputs.push(out);
        }
    }

    /// Names the map's fragments: the expander's are blocks (or call results).
    fn name_fragments(&self, map: &mut SourceMap) {
        // The expander's fragments are blocks: name them.
        let mut fragments: Vec<String> = Vec::new();
        let mut frag_index: HashMap<u32, u32> = HashMap::new();
        let mut name = |o: &mut Origin| {
            o.fragment = *frag_index.entry(o.fragment).or_insert_with(|| {
                fragments.push(self.fragment_name(o.fragment as usize));
                (fragments.len() - 1) as u32
            });
        };
        for o in map.lines.iter_mut().flatten() {
            name(o);
        }
        for s in &mut map.segments {
            name(&mut s.origin);
        }
        map.files = vec![self.doc.path.to_path_buf()];
        map.fragments = fragments;
    }

    /// Where `file` is written, as `write-region` expands it; `None` (reported) for a
    /// remote or sudo name or a home folder that cannot be found.
    fn output_path(&mut self, file: &str, block_pos: &Pos) -> Option<PathBuf> {
        // `write-region` expands the name: `~` and `~user` are home folders, `.` and `..`
        // components are resolved lexically.
        // TRAMP file names: `/sudo::/etc/x`, `/ssh:host:/x`.
        let first = file
            .strip_prefix('/')
            .map(|r| r.split('/').next().unwrap_or(""));
        if first.is_some_and(|c| c.contains(':')) {
            let d = Diagnostic::error(
                block_pos.clone(),
                format!(
                    "cannot write `{file}`: it is a remote or sudo (TRAMP) file name; Emacs \
                     would write it through TRAMP, and this tangler does not write remote \
                     or sudo targets"
                ),
            );
            self.report(d);
            return None;
        }
        let path = match self.doc.env.expand_tilde(file) {
            Ok(f) => tangle_core::paths::normalize(Path::new(&f)),
            Err(why) => {
                let d =
                    Diagnostic::error(block_pos.clone(), format!("cannot write `{file}`: {why}"));
                self.report(d);
                return None;
            }
        };
        Some(path)
    }

    /// The files to write and the blocks of each, in order of first appearance, as
    /// `org-babel-tangle-collect-blocks` and `org-babel-tangle-single-block` make them.
    fn collect_files(&mut self) -> Vec<FileGroup> {
        // The blocks of each file, in order of first appearance.
        let mut groups: Vec<FileGroup> = Vec::new();
        let org_name = self
            .doc
            .path
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        // Each block's body is normalized once, for every root that includes it.
        let mut bodies: Vec<Body> = (0..self.doc.blocks.len())
            .map(|b| {
                if self.babel_visible(b) {
                    self.normalized_body(b)
                } else {
                    Body::default()
                }
            })
            .collect();
        for b in 0..self.doc.blocks.len() {
            if !self.babel_visible(b) || self.doc.blocks[b].commented || self.doc.blocks[b].archived
            {
                continue;
            }
            if self.light_val(b, ":tangle") == Val::Str("no".to_string()) {
                continue;
            }
            // A call that ran a Python session is evaluated again for every block, as Org
            // evaluates every call it meets: the session may have changed since.
            let stateful = std::mem::take(&mut self.stateful_calls);
            self.call_groups.retain(|id, _| !stateful.contains(id));
            // The calls an expansion meets are evaluated, and the block expanded again.
            let tb = loop {
                let r = self.tangle_block(b, &bodies);
                if self.pending_calls.is_empty() {
                    break Some(r);
                }
                if !self.evaluate_pending(&mut bodies) {
                    break None;
                }
            };
            let tb = match tb {
                Some(Ok(tb)) => tb,
                Some(Err(d)) => {
                    self.report(d);
                    continue;
                }
                None => continue,
            };
            let lang = self.doc.blocks[b].lang.clone().unwrap_or_default();
            // org-babel-effective-tangled-filename.
            let file = match &tb.tangle {
                Some(t) if t == "yes" => {
                    let ext = match lang.as_str() {
                        "python" => "py",
                        "emacs-lisp" | "elisp" => "el",
                        "C++" => "cpp",
                        "D" => "d",
                        other => other,
                    };
                    Some(format!("{}.{ext}", file_name_sans_extension(&org_name)))
                }
                Some(t) if t == "no" || t.is_empty() => None,
                Some(t) => Some(t.clone()),
                None => None,
            };
            let Some(file) = file else { continue };
            match groups.iter_mut().find(|g| g.file == file) {
                Some(g) => g.blocks.push((b, tb)),
                None => groups.push(FileGroup {
                    file,
                    blocks: vec![(b, tb)],
                }),
            }
        }
        groups
    }

    /// The text of one file: its blocks with padding lines, the shebang and `:comments`
    /// text, and the file's mode and whether its folders are made; `None` when a comment
    /// cannot be written (reported).
    fn file_text(&mut self, file: &str, blocks: Vec<(usize, TangledBlock)>) -> Option<FileText> {
        let mut m = MappedText::new();
        let mut empty = true;
        let mut she_banged = false;
        let mut mode: Option<u32> = None;
        let mut make_dir = false;
        let has_dir = file.contains('/');
        // The comment syntax of the buffer's major mode (fundamental mode at first).
        let mut syntax: Syntax = Err(None);
        for (b, tb) in blocks {
            let tmode = tb.mode.or(if tb.shebang.is_some() {
                Some(0o755)
            } else {
                None
            });
            if mode.is_none() {
                mode = tmode;
            }
            if tb.mkdirp && has_dir {
                make_dir = true;
            }
            if tb.padline && !empty {
                m.push_str("\n");
            }
            if let Some(sb) = &tb.shebang {
                if !she_banged {
                    m.push_str(sb);
                    m.push_str("\n");
                    she_banged = true;
                }
            }
            let lang = self.doc.blocks[b].lang.clone().unwrap_or_default();
            switch_major_mode(&mut syntax, &lang);
            let (before, end) = match self.block_comments(&tb, &syntax) {
                Ok(comments) => comments,
                Err(d) => {
                    self.report(d);
                    return None;
                }
            };
            for c in before {
                m.push_str(&c);
            }
            m.append(tb.body);
            m.push_str("\n");
            if let Some(end) = end {
                m.push_str(&end);
            }
            empty = false;
        }
        Some(FileText { m, mode, make_dir })
    }

    /// The comments around a block's body, as `comment-region` writes them in the buffer's
    /// `syntax`: those before it (the Org text above the block, the `:comments link` line
    /// that opens it; empty for blank text) and the closing one after it.
    fn block_comments(
        &self,
        tb: &TangledBlock,
        syntax: &Syntax,
    ) -> Result<(Vec<String>, Option<String>), Diagnostic> {
        let texts = [
            tb.org_text.as_deref(),
            tb.comment.as_ref().map(|c| c.begin.as_str()),
        ];
        let end = tb.comment.as_ref().map(|c| c.end.as_str());
        let mut commented = Vec::new();
        for text in texts.into_iter().chain([end]).flatten() {
            if !string_nw(text) {
                commented.push(String::new());
                continue;
            }
            commented.push(self.commented(text, syntax, tb.comments_line)?);
        }
        let end = if tb.comment.is_some() {
            commented.pop()
        } else {
            None
        };
        Ok((commented, end))
    }

    /// `text` commented as `comment-region` does in the buffer's major mode.
    fn commented(&self, text: &str, syntax: &Syntax, line: usize) -> Result<String, Diagnostic> {
        match syntax {
            Ok((p, s)) => comment_region(text, p, s).ok_or_else(|| {
                self.diag(
                    line,
                    1,
                    "`:comments`: the text to comment is indented as a whole; Emacs' \
                     `comment-region` would indent its comments, which is not reproduced",
                )
            }),
            Err(why) => Err(self.diag(
                line,
                1,
                format!(
                    "`:comments` needs a comment syntax, and {}: Emacs would ask for one on \
                     standard input and fail",
                    why.as_deref()
                        .unwrap_or("the file has no major mode with comments")
                ),
            )),
        }
    }

    /// Evaluates the calls the expander met, each into a unit of `bodies` holding its
    /// result; false (with the errors reported) when one cannot be evaluated.
    fn evaluate_pending(&mut self, bodies: &mut Vec<Body>) -> bool {
        let mut ok = true;
        let runs_before = self.session_runs;
        for PendingCall { id, line, col } in std::mem::take(&mut self.pending_calls) {
            if self.call_groups.contains_key(&id) {
                if self.stateful_calls.contains(&id) && self.session_runs != runs_before {
                    self.error(
                        line,
                        col,
                        format!(
                            "cannot evaluate `<<{id}>>` again in this block: Org evaluates \
                             each call it meets, and this one runs a Python session whose \
                             state other calls of the block change; this tangler evaluates a \
                             session call once per block"
                        ),
                    );
                    ok = false;
                }
                continue;
            }
            let runs = self.session_runs;
            let result = on_big_stack(|| self.call_text(&id, 0));
            if self.session_runs != runs {
                self.stateful_calls.insert(id.clone());
            }
            match result {
                Ok(text) => {
                    let lines = text
                        .split(['\n', '\r'])
                        .map(|l| NormalLine {
                            text: l.to_string(),
                            line: line as u32,
                            shift: 0,
                        })
                        .collect();
                    bodies.push(Body { lines });
                    self.call_ids.push(id.clone());
                    self.groups.push(Group {
                        blocks: vec![bodies.len() - 1],
                        seps: Vec::new(),
                    });
                    self.call_groups.insert(id, self.groups.len() - 1);
                }
                Err(why) => {
                    self.error(line, col, format!("cannot evaluate `<<{id}>>`: {why}"));
                    ok = false;
                }
            }
        }
        ok
    }

    pub(super) fn fragment_name(&self, b: usize) -> String {
        if b >= self.doc.blocks.len() {
            return format!("<<{}>>", self.call_ids[b - self.doc.blocks.len()]);
        }
        let block = &self.doc.blocks[b];
        match block.names.first() {
            Some(n) => n.clone(),
            None => format!("{}:{}", self.doc.path.display(), block.line),
        }
    }

    /// `org-babel-tangle-single-block`: the target and the final body of a tangled block.
    pub(super) fn tangle_block(
        &mut self,
        b: usize,
        bodies: &[Body],
    ) -> Result<TangledBlock, Diagnostic> {
        let params = self.doc.params_of(b);
        self.eval_block = Some(b);
        let block_line = self.doc.blocks[b].line;
        let lang = self.doc.blocks[b].lang.clone().unwrap_or_default();
        // The variables, read as Org reads them, go into the body as its language assigns
        // them; an error is reported at the `:var` argument.
        let var_code = match param(&params, ":var").cloned() {
            Some(var) => {
                let line = if var.line == 0 { block_line } else { var.line };
                match on_big_stack(|| self.tangle_vars(b, &params)) {
                    Ok(code) => code,
                    Err(why) => {
                        return Err(self.diag(line, 1, format!("cannot write `:var`: {why}")))
                    }
                }
            }
            None => None,
        };
        if matches!(lang.as_str(), "C++" | "cpp" | "D") {
            return Err(self.diag(
                block_line,
                1,
                format!("tangling `{lang}` blocks is not supported (Org wraps them specially)"),
            ));
        }
        let comments = self.str_param(&params, ":comments")?;
        let comments_line = param(&params, ":comments").map_or(block_line, |c| c.line.max(1));
        let (link_comments, org_comments) = match comments.as_deref() {
            Some("link" | "yes") => (true, false),
            Some("both") => (true, true),
            Some("org") => (false, true),
            Some("noweb") => {
                return Err(self.diag(
                    comments_line,
                    1,
                    "`:comments noweb` is unsupported (Org writes absolute paths into it)",
                ));
            }
            _ => (false, false),
        };
        if let Some(c) = param(&params, ":noweb-prefix") {
            let line = c.line.max(1);
            self.warn(
                line,
                1,
                "`:noweb-prefix` is ignored by Org 9.5.5 (it is an Org 9.6 feature); the \
                 prefix is repeated",
            );
        }
        let tangle = self.str_param(&params, ":tangle")?;
        let noweb = self.str_param(&params, ":noweb")?.unwrap_or_default();
        let expand = noweb
            .split_whitespace()
            .any(|v| matches!(v, "yes" | "tangle" | "no-export" | "strip-export"));
        let shebang = self
            .str_param(&params, ":shebang")?
            .filter(|s| !s.is_empty());
        let padline = self.str_param(&params, ":padline")?.as_deref() != Some("no");
        let mkdirp = match self.eval_param(&params, ":mkdirp")? {
            None | Some(Evaluated { val: Val::Nil, .. }) => false,
            Some(Evaluated {
                val: Val::Str(s), ..
            }) => s != "no",
            Some(Evaluated { line, .. }) => {
                return Err(self.diag(line, 1, "`:mkdirp` must be `yes` or `no`"))
            }
        };
        let mode = self.tangle_mode(&params)?;
        let no_expand = param(&params, ":no-expand").is_some();
        let prologue = self.str_param(&params, ":prologue")?;
        let epilogue = self.str_param(&params, ":epilogue")?;
        let c_opts = if lang == "C" && !no_expand {
            Some(COptions {
                includes: self.str_param(&params, ":includes")?,
                defines: self.str_param(&params, ":defines")?,
                namespaces: self.str_param(&params, ":namespaces")?,
                main: self.str_param(&params, ":main")?,
            })
        } else {
            None
        };
        let body = self.expand_root(b, expand, bodies)?;
        // Language-specific expansion.
        let body = if no_expand {
            body
        } else if let Some(COptions {
            includes,
            defines,
            namespaces,
            main,
        }) = c_opts
        {
            let inc: Vec<String> = includes
                .unwrap_or_default()
                .split_whitespace()
                .map(|i| {
                    if i.starts_with('<') {
                        format!("#include {i}")
                    } else {
                        format!("#include \"{i}\"")
                    }
                })
                .collect();
            let mut defs = Vec::new();
            let d = defines.unwrap_or_default();
            let words: Vec<&str> = d.split_whitespace().collect();
            for pair in words.chunks(2) {
                if pair.len() == 2 {
                    defs.push(format!("#define {} {}", pair[0], pair[1]));
                }
            }
            let ns: Vec<String> = namespaces
                .unwrap_or_default()
                .split_whitespace()
                .map(|n| format!("using namespace {n};"))
                .collect();
            let mut m = MappedText::generated(&inc.join("\n"));
            m.push_str("\n");
            m.push_str(&defs.join("\n"));
            m.push_str("\n");
            m.push_str(&ns.join("\n"));
            m.push_str("\n\n\n\n\n");
            if main.as_deref() != Some("no") && !has_c_main(&body.text) {
                m.push_str("int main() {\n");
                m.append(body);
                m.push_str("\nreturn 0;\n}\n");
            } else {
                m.append(body);
            }
            m.push_str("\n\n");
            m
        } else if lang == "emacs-lisp" || lang == "elisp" {
            // `elisp` is an alias (`org-babel-make-language-alias`) of `emacs-lisp`.
            match var_code {
                Some(VarCode::Let(bindings)) => {
                    let mut m = MappedText::generated(&format!("(let ({bindings})\n"));
                    m.append(body);
                    m.push_str("\n)");
                    m
                }
                _ => {
                    let mut body = body;
                    body.push_str("\n");
                    body
                }
            }
        } else {
            let mut m = MappedText::new();
            let mut pieces: Vec<String> = prologue.into_iter().collect();
            if let Some(VarCode::Lines(lines)) = var_code {
                pieces.extend(lines);
            }
            for p in pieces {
                m.push_str(&p);
                m.push_str("\n");
            }
            m.append(body);
            if let Some(e) = epilogue {
                m.push_str("\n");
                m.push_str(&e);
            }
            m
        };
        let mut lines = body.into_lines();
        let switches = &self.doc.blocks[b].switches;
        if switches.contains("-r") {
            let fmt = label_format(switches).unwrap_or_else(|| "(ref:%s)".to_string());
            remove_coderefs(&mut lines, &fmt);
        }
        remove_indentation(&mut lines);
        org_trim(&mut lines);
        let body = MappedText::from_lines(lines, Vec::new(), Vec::new());
        let comment = if link_comments {
            Some(self.link_comments(b, tangle.as_deref().unwrap_or(""), comments_line)?)
        } else {
            None
        };
        let org_text = org_comments.then(|| self.org_comment_text(b));
        Ok(TangledBlock {
            tangle,
            body,
            shebang,
            padline,
            mkdirp,
            mode,
            comment,
            org_text,
            comments_line,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::{tangle_org, OrgTangle};

    fn tangled(text: &str) -> OrgTangle {
        tangle_org(Path::new("doc.org"), text).unwrap()
    }

    #[test]
    fn files_gather_their_blocks_in_order_of_first_appearance() {
        let t = tangled(
            "#+begin_src sh :tangle b.sh\necho b1\n#+end_src\n\
             #+begin_src sh :tangle a.sh\necho a\n#+end_src\n\
             #+begin_src sh :tangle b.sh :padline no\necho b2\n#+end_src\n",
        );
        let files: Vec<_> = t.outputs.iter().map(|o| o.path.clone()).collect();
        assert_eq!(files, [Path::new("b.sh"), Path::new("a.sh")]);
        assert_eq!(t.outputs[0].content, b"echo b1\necho b2\n");
    }

    #[test]
    fn the_first_shebang_and_the_first_mode_win() {
        let t = tangled(
            "#+begin_src sh :tangle x :shebang \"#!/bin/sh\"\necho 1\n#+end_src\n\
             #+begin_src sh :tangle x :shebang \"#!/bin/bash\" :tangle-mode (identity #o700)\n\
             echo 2\n#+end_src\n",
        );
        assert_eq!(t.outputs[0].content, b"#!/bin/sh\necho 1\n\necho 2\n");
        assert_eq!(t.outputs[0].mode, 0o755);
    }

    #[test]
    fn tangle_yes_names_the_file_after_the_document_and_the_language() {
        let t = tangled("#+begin_src python :tangle yes\nx = 1\n#+end_src\n");
        assert_eq!(t.outputs[0].path, Path::new("doc.py"));
        assert!(tangled("#+begin_src python :tangle no\nx\n#+end_src\n")
            .outputs
            .is_empty());
    }

    #[test]
    fn remote_targets_are_refused_at_the_block() {
        let e = tangle_org(
            Path::new("doc.org"),
            "text\n#+begin_src sh :tangle /ssh:host:/x\nx\n#+end_src\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("doc.org:2:1: error: cannot write `/ssh:host:/x`"),
            "{e}"
        );
    }
}
