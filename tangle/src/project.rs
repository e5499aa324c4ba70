//! A project: the documents the tangler reads, the folder its outputs are relative to, and the
//! one function that tangles it. Every command (`tangle`, `--check`, `locate`, `cargo`, `watch`)
//! goes through [`Project::tangle`]; the mdBook preprocessor calls the Markdown half of it,
//! [`crate::markdown::pipeline::tangle_markdown`], on the chapters mdBook hands it.
//!
//! A project is found from a folder by walking up to the nearest folder that has a `book.toml`
//! (a Markdown book) or a manifest (`.tangled`) listing org documents (written by an earlier
//! `tangle FILE.org` there), so an org project needs no configuration of its own.

pub mod site;

use crate::diag::{Diagnostic, Diagnostics, Pos};
use crate::markdown::book::{Book, DEFAULT_LABELS};
use crate::markdown::pipeline::{tangle_files_as, Maps};
use crate::org::tangle_org_in;
use crate::output::Output;
use crate::output::Tangled;
use crate::paths::{normalize, relative_to};
use crate::write::{Guard, Ledger, Manifest, Records, Target};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What a project reads.
#[derive(Debug, Clone)]
pub enum Documents {
    /// An mdBook book: `book.toml` in the root, chapters in `SUMMARY.md` order.
    Book(Book),
    /// Markdown files named on the command line, tangled together: a part of a book, or a
    /// one-off. No manifest is kept (a part must not remove the rest's outputs as stale).
    Markdown {
        chapters: Vec<PathBuf>,
        labels: String,
    },
    /// Org files in the root folder, each tangled on its own as Emacs tangles it, their targets
    /// relative to the root.
    Org { files: Vec<PathBuf> },
    /// An Entangled book: the Markdown files its `entangled.toml` selects, read in Entangled's
    /// dialect (see [`crate::entangled`]).
    Entangled(Box<EntangledBook>),
}

/// An Entangled book's settings and the documents they select (relative to the root).
#[derive(Debug, Clone)]
pub struct EntangledBook {
    pub config: crate::entangled::config::Config,
    pub files: Vec<PathBuf>,
}

impl EntangledBook {
    /// An mdBook book whose `book.toml` chooses Entangled's dialect: Entangled's default
    /// settings, the chapters as its documents (in Entangled's order, by path).
    pub fn of_book(book: &Book) -> EntangledBook {
        let mut files = book.chapters.clone();
        files.sort_by(|a, b| a.components().cmp(b.components()));
        let mut config = crate::entangled::config::Config::default();
        config.path = Some("book.toml".into());
        EntangledBook { config, files }
    }
}

/// The documents and the folder that their paths, and the outputs' paths, are relative to.
#[derive(Debug, Clone)]
pub struct Project {
    pub root: PathBuf,
    pub documents: Documents,
}

/// A dialect's own record (Entangled's database) that could not be updated.
#[derive(Debug, thiserror::Error)]
#[error("could not update {}: {source}", record.display())]
pub struct RecordError {
    /// The record, relative to the root.
    pub record: PathBuf,
    pub source: std::io::Error,
}

/// A project and the documents of it that a command line named (whose outputs are written).
#[derive(Debug, Clone)]
pub struct Named {
    pub project: Project,
    /// Documents relative to the root; `None` when the whole project was meant.
    pub only: Option<Vec<PathBuf>>,
}

fn is_org(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "org")
}

/// Lets org documents tangled from now on run the shell and Python blocks that noweb
/// references call (the command line's `--eval`).
pub fn allow_running_blocks(allow: bool) {
    crate::org::allow_running_blocks(allow);
}

impl Project {
    /// What the last tangle wrote, as the project records it: our manifest, and the
    /// dialect's own record when it keeps one (Entangled's database).
    pub fn records(&self) -> Records {
        let ledger = match &self.documents {
            Documents::Entangled(_) => crate::entangled::filedb::FileDb::read(&self.root)
                .map(|db| std::sync::Arc::new(db) as std::sync::Arc<dyn Ledger>),
            _ => None,
        };
        Records::read(&self.root, ledger)
    }

    /// After `outputs` were written: the dialect's own record, if it keeps one, learns what
    /// they and the documents now hold (in an Entangled book that Entangled also tangles, its
    /// database; see [`crate::entangled::filedb::record`]).
    pub fn record_written(&self, outputs: &[Output]) -> Result<(), RecordError> {
        match &self.documents {
            Documents::Entangled(_) => {
                crate::entangled::filedb::record(&self.root, &self.documents(), outputs).map_err(
                    |source| RecordError {
                        record: ".entangled/filedb.json".into(),
                        source,
                    },
                )
            }
            _ => Ok(()),
        }
    }

    /// The rule outputs are written by in this project (see [`Guard`]); `force` discards
    /// edits that no tangle wrote.
    pub fn guard(&self, force: bool) -> Guard {
        Guard {
            records: self.records(),
            carried: Default::default(),
            force,
            same: match &self.documents {
                Documents::Entangled(_) => Some(crate::entangled::filedb::same),
                _ => None,
            },
        }
    }

    /// The project that folder `start` belongs to, if any: the nearest folder, going up, that
    /// holds a `book.toml` or a manifest listing org documents.
    pub fn find(start: &Path) -> Result<Option<Project>, Diagnostics> {
        for dir in start.ancestors() {
            if let Some(settings) = crate::entangled::config::settings_file(dir) {
                let config = crate::entangled::config::Config::load(dir, &settings)
                    .map_err(|d| Diagnostics(vec![d]))?;
                let files = crate::entangled::documents(dir, &config);
                return Ok(Some(Project {
                    root: dir.to_path_buf(),
                    documents: Documents::Entangled(Box::new(EntangledBook { config, files })),
                }));
            }
            if dir.join("book.toml").is_file() {
                let book = Book::load(dir)?;
                if book.entangled {
                    return Ok(Some(Project {
                        root: dir.to_path_buf(),
                        documents: Documents::Entangled(Box::new(EntangledBook::of_book(&book))),
                    }));
                }
                return Ok(Some(Project {
                    root: dir.to_path_buf(),
                    documents: Documents::Book(book),
                }));
            }
            let Some(manifest) = Manifest::read(dir) else {
                continue;
            };
            let (files, chapters): (Vec<PathBuf>, Vec<PathBuf>) = manifest
                .documents
                .into_iter()
                .filter(|d| dir.join(d).is_file())
                .partition(|d| is_org(d));
            if !files.is_empty() {
                return Ok(Some(Project {
                    root: dir.to_path_buf(),
                    documents: Documents::Org { files },
                }));
            }
            // Markdown files named outside a book (`tangle FILE.md`), as a single org file.
            if !chapters.is_empty() {
                return Ok(Some(Project {
                    root: dir.to_path_buf(),
                    documents: Documents::Markdown {
                        chapters,
                        labels: DEFAULT_LABELS.into(),
                    },
                }));
            }
        }
        Ok(None)
    }

    /// The projects of documents named on the command line (relative to `cwd`): Markdown files
    /// together, relative to the book around `cwd` (else `cwd`); org files grouped by folder,
    /// each folder a project that also keeps the org documents its manifest lists already.
    pub fn for_files(cwd: &Path, files: &[PathBuf]) -> Result<Vec<Named>, Diagnostics> {
        let (org, md): (Vec<&PathBuf>, Vec<&PathBuf>) = files.iter().partition(|f| is_org(f));
        let mut named = Vec::new();
        // Markdown files of an Entangled book are read in its dialect, the whole book with them
        // (their names resolve across it); only their files are written.
        let entangled = match Project::find(cwd)? {
            Some(
                p @ Project {
                    documents: Documents::Entangled(_),
                    ..
                },
            ) if !md.is_empty() => Some(p),
            _ => None,
        };
        if let Some(project) = entangled {
            let only = md
                .iter()
                .map(|f| relative_to(&normalize(&cwd.join(f)), &normalize(&project.root)))
                .collect();
            named.push(Named {
                project,
                only: Some(only),
            });
        } else if !md.is_empty() {
            let root = Book::find_root(cwd).unwrap_or_else(|| cwd.to_path_buf());
            let labels = Book::load(&root)
                .map(|b| b.labels)
                .unwrap_or_else(|_| DEFAULT_LABELS.into());
            let chapters = md
                .iter()
                .map(|f| relative_to(&cwd.join(f), &root))
                .collect();
            named.push(Named {
                project: Project {
                    root,
                    documents: Documents::Markdown { chapters, labels },
                },
                only: None,
            });
        }
        let mut folders: Vec<(PathBuf, Vec<PathBuf>)> = Vec::new();
        for f in org {
            let full = normalize(&cwd.join(f));
            let folder = full.parent().unwrap_or(Path::new("/")).to_path_buf();
            let name = PathBuf::from(full.file_name().unwrap_or_default());
            match folders.iter_mut().find(|(d, _)| *d == folder) {
                Some((_, names)) if !names.contains(&name) => names.push(name),
                Some(_) => {}
                None => folders.push((folder, vec![name])),
            }
        }
        for (folder, names) in folders {
            let mut files = names.clone();
            if let Some(m) = Manifest::read(&folder) {
                for d in m.documents {
                    if is_org(&d) && !files.contains(&d) && folder.join(&d).is_file() {
                        files.push(d);
                    }
                }
            }
            named.push(Named {
                project: Project {
                    root: relative_to(&folder, cwd),
                    documents: Documents::Org { files },
                },
                only: Some(names),
            });
        }
        Ok(named)
    }

    /// The documents read, relative to the root.
    pub fn documents(&self) -> Vec<PathBuf> {
        match &self.documents {
            Documents::Book(book) => book.chapters.clone(),
            Documents::Markdown { chapters, .. } => chapters.clone(),
            Documents::Org { files } => files.clone(),
            Documents::Entangled(book) => book.files.clone(),
        }
    }

    /// Every file whose change changes the outputs (for `watch`), relative to the root.
    pub fn inputs(&self) -> Vec<PathBuf> {
        let mut inputs = self.documents();
        if let Documents::Book(book) = &self.documents {
            inputs.push("book.toml".into());
            inputs.push(book.src.join("SUMMARY.md"));
        }
        if let Documents::Entangled(book) = &self.documents {
            inputs.extend(book.config.path.clone());
        }
        inputs
    }

    /// Tangles every document of the project. Paths in the outputs' maps and in messages are
    /// relative to the root. Nothing is written.
    pub fn tangle(&self) -> Result<Tangled, Diagnostics> {
        self.tangle_as(Maps::Full)
    }

    /// [`Project::tangle`] for writing the outputs: Markdown outputs come without line maps
    /// (see [`Maps::Skip`]).
    pub fn tangle_to_write(&self) -> Result<Tangled, Diagnostics> {
        self.tangle_as(Maps::Skip)
    }

    fn tangle_as(&self, maps: Maps) -> Result<Tangled, Diagnostics> {
        match &self.documents {
            Documents::Book(book) => {
                tangle_files_as(&self.root, &book.chapters, &book.labels, maps)
                    .map(|t| headed(t, book))
            }
            Documents::Markdown { chapters, labels } => {
                tangle_files_as(&self.root, chapters, labels, maps)
            }
            Documents::Org { files } => self.tangle_org_texts(files, &BTreeMap::new()),
            Documents::Entangled(book) => {
                self.tangle_entangled(book, &BTreeMap::new(), matches!(maps, Maps::Full))
            }
        }
    }

    /// An Entangled book, with the texts in `texts` instead of the disk's where given.
    fn tangle_entangled(
        &self,
        book: &EntangledBook,
        texts: &BTreeMap<PathBuf, String>,
        lines: bool,
    ) -> Result<Tangled, Diagnostics> {
        let docs = crate::source::read_all(&self.root, &book.files, texts)?;
        crate::entangled::tangle(&book.config, docs, lines)
    }

    /// Tangles the project as if the documents in `texts` (relative to the root) held those
    /// texts; the others are read from disk. Nothing is written.
    pub fn tangle_with(&self, texts: &BTreeMap<PathBuf, String>) -> Result<Tangled, Diagnostics> {
        let (chapters, labels) = match &self.documents {
            Documents::Book(book) => {
                let read = crate::source::read_all(&self.root, &book.chapters, texts)?;
                return crate::markdown::pipeline::tangle_chapters(&read, &book.labels)
                    .map(|t| headed(t, book));
            }
            Documents::Markdown { chapters, labels } => (chapters, labels),
            Documents::Org { files } => return self.tangle_org_texts(files, texts),
            Documents::Entangled(book) => return self.tangle_entangled(book, texts, true),
        };
        let read = crate::source::read_all(&self.root, chapters, texts)?;
        crate::markdown::pipeline::tangle_chapters(&read, labels)
    }

    /// Each org file on its own, as Emacs tangles it (with the texts in `texts` instead of
    /// the disk's where given); two files writing one target is an error.
    fn tangle_org_texts(
        &self,
        files: &[PathBuf],
        texts: &BTreeMap<PathBuf, String>,
    ) -> Result<Tangled, Diagnostics> {
        let mut all = Tangled::default();
        let mut errors = Vec::new();
        // Emacs reads each file from its own folder (`default-directory`), which matters for
        // Lisp header values and link comments: files are relative to the root.
        let cwd = std::env::current_dir().unwrap_or_default();
        let env = crate::org::OrgEnv::from_process().with_cwd(&normalize(&cwd.join(&self.root)));
        for file in files {
            let text = match crate::source::read_in(&self.root, file, texts) {
                Ok(text) => text,
                Err(d) => {
                    errors.push(d);
                    continue;
                }
            };
            match tangle_org_in(file, &text, &env) {
                Ok(t) => {
                    for o in t.outputs {
                        let path = normalize(&o.path);
                        if let Some(first) = all.outputs.iter().find(|p| normalize(&p.path) == path)
                        {
                            errors.push(
                                Diagnostic::error(
                                    o.block.clone(),
                                    format!(
                                        "`{}` is also written by another document",
                                        path.display()
                                    ),
                                )
                                .with_note(first.block.clone(), "written there first"),
                            );
                            continue;
                        }
                        all.outputs.push(o);
                    }
                    all.warnings.extend(t.warnings);
                }
                Err(mut ds) => errors.append(&mut ds.0),
            }
        }
        if errors.is_empty() {
            Ok(all)
        } else {
            Err(Diagnostics(errors))
        }
    }

    /// The manifest this project keeps, for a run that produced `outputs`: none for Markdown
    /// files named on the command line.
    pub fn manifest(&self, outputs: &[Output]) -> Option<Manifest> {
        match &self.documents {
            Documents::Markdown { .. } => None,
            Documents::Book(_) | Documents::Org { .. } | Documents::Entangled(_) => {
                Some(Manifest::new(&self.documents(), outputs))
            }
        }
    }

    /// The manifest to write with `written` (the outputs of the documents in `only`, when
    /// given, else all of them), `all` being every output of the project: [`Project::manifest`],
    /// but for Markdown files named on the command line the manifest of the book they belong
    /// to or of their folder, and for a partial run what the last run recorded of the others.
    pub fn manifest_after(
        &self,
        all: &[Output],
        written: &[Output],
        only: Option<&[PathBuf]>,
    ) -> Option<Manifest> {
        let outputs = written;
        let mut manifest = self.manifest(all);
        if let (None, Documents::Markdown { chapters, .. }) = (&manifest, &self.documents) {
            // Markdown files named on the command line: the book's manifest, if they belong to
            // one, learns what was written to the files it lists; elsewhere the folder's
            // manifest records them along with what earlier runs recorded (it only grows, so
            // that no file of another run becomes stale).
            let hashes = Manifest::new(&[], outputs).hashes;
            let in_book = self.root.join("book.toml").is_file();
            let mut m = match Manifest::read(&self.root) {
                Some(m) => m,
                None if in_book => return None,
                None => Manifest::default(),
            };
            if !in_book {
                for c in chapters {
                    if !m.documents.contains(c) {
                        m.documents.push(c.clone());
                    }
                }
            }
            for (path, h) in hashes {
                if !in_book && !m.outputs.contains(&path) {
                    m.outputs.push(path.clone());
                }
                if m.outputs.contains(&path) {
                    m.hashes.insert(path, h);
                }
            }
            return Some(m);
        }
        if let (Some(m), Some(docs)) = (manifest.as_mut(), only) {
            // A partial run writes only the named documents' files: the others keep what the
            // last run recorded of them (they were not written now).
            let old = Manifest::read(&self.root).unwrap_or_default();
            for o in all.iter().filter(|o| !docs.contains(&o.block.path)) {
                let path = normalize(&o.path);
                match old.hashes.get(&path) {
                    Some(&h) => m.hashes.insert(path, h),
                    None => m.hashes.remove(&path),
                };
            }
        }
        manifest
    }

    /// What the user calls this project's documents, in messages.
    pub fn documents_noun(&self) -> &'static str {
        match self.documents {
            Documents::Org { .. } => "org files",
            Documents::Entangled(_) => "documents",
            Documents::Book(_) | Documents::Markdown { .. } => "chapters",
        }
    }

    /// An edit of an output (`new`, where the tangle wrote `old`), as this project's dialect
    /// reads it: Entangled indents blank lines, so an edit that only took that white space
    /// off changes nothing.
    pub fn normalise_edit(&self, old: &str, new: &str) -> String {
        match &self.documents {
            Documents::Entangled(_) => crate::entangled::keep_blank_prefixes(old, new),
            _ => new.to_string(),
        }
    }

    /// The documents' new texts that carry `edited` (new contents of outputs, by path) back,
    /// when this project's outputs say by markers which block each line belongs to
    /// (Entangled's standard annotation); `None` when the line maps are to say it.
    pub fn plan_by_markers(
        &self,
        edited: &BTreeMap<PathBuf, String>,
    ) -> Option<Result<BTreeMap<PathBuf, String>, Diagnostics>> {
        match &self.documents {
            Documents::Entangled(book)
                if book.config.annotation == crate::entangled::config::Annotation::Standard =>
            {
                Some((|| {
                    let docs = crate::source::read_all(&self.root, &book.files, &BTreeMap::new())?;
                    let (web, _) = crate::entangled::web(&book.config, docs.clone())?;
                    crate::entangled::stitch::plan(&web, &docs, edited)
                })())
            }
            _ => None,
        }
    }

    /// Where the outputs go: Markdown outputs must stay inside the root; org outputs go where
    /// Emacs would put them.
    pub fn target<'a>(&'a self, manifest: Option<&'a Manifest>) -> Target<'a> {
        Target {
            base: &self.root,
            confine: !matches!(self.documents, Documents::Org { .. }),
            manifest,
            guard: None,
        }
    }

    /// The output written to `path` (relative to `cwd`), if the project writes it.
    pub fn output<'t>(&self, tangled: &'t Tangled, cwd: &Path, path: &Path) -> Option<&'t Output> {
        let want = normalize(&cwd.join(path));
        let base = normalize(&cwd.join(&self.root));
        tangled
            .outputs
            .iter()
            .find(|o| normalize(&base.join(&o.path)) == want)
    }

    /// `pos` (relative to the root) as the user in `cwd` names it.
    pub fn shown_from(&self, pos: &Pos, cwd: &Path) -> Pos {
        if pos.path.is_absolute() {
            return pos.clone();
        }
        let full = normalize(&cwd.join(&self.root).join(&pos.path));
        Pos {
            path: relative_to(&full, &normalize(cwd)),
            ..pos.clone()
        }
    }
}

/// A book's outputs with or without their header, as `[preprocessor.tangle] header` says.
fn headed(mut tangled: Tangled, book: &Book) -> Tangled {
    if !book.header {
        tangled
            .outputs
            .iter_mut()
            .for_each(crate::markdown::pipeline::drop_header);
    }
    tangled
}

#[cfg(test)]
mod tests {
    use super::*;

    fn org() -> Project {
        Project {
            root: PathBuf::from("no-such-folder"),
            documents: Documents::Org {
                files: vec!["lit.org".into()],
            },
        }
    }

    fn entangled() -> Project {
        Project {
            root: PathBuf::from("no-such-folder"),
            documents: Documents::Entangled(Box::new(EntangledBook {
                config: crate::entangled::config::Config::default(),
                files: vec!["index.md".into()],
            })),
        }
    }

    #[test]
    fn an_edit_is_read_as_its_dialect_reads_it() {
        // Entangled indents a blank line inside an indented block; an editor takes it off.
        let (old, new) = ("    a\n    \n    b\n", "    a\n\n    b\n");
        assert_eq!(entangled().normalise_edit(old, new), old);
        assert_eq!(org().normalise_edit(old, new), new);
    }

    #[test]
    fn only_entangled_has_its_own_sameness_and_markers() {
        let same = entangled()
            .guard(false)
            .same
            .expect("Entangled's test of sameness");
        assert!(same(b"a\r\nb  \n", b"a\nb\n"));
        assert!(!same(b"a\n", b"b\n"));
        let guard = org().guard(true);
        assert!(guard.same.is_none() && guard.force);
        assert!(org().plan_by_markers(&BTreeMap::new()).is_none());
    }

    #[test]
    fn documents_are_named_as_their_users_call_them() {
        assert_eq!(org().documents_noun(), "org files");
        assert_eq!(entangled().documents_noun(), "documents");
        let markdown = Project {
            root: PathBuf::from("."),
            documents: Documents::Markdown {
                chapters: vec!["a.md".into()],
                labels: DEFAULT_LABELS.into(),
            },
        };
        assert_eq!(markdown.documents_noun(), "chapters");
    }

    #[test]
    fn without_records_nothing_is_known() {
        let records = entangled().records();
        assert!(records.hashes.is_empty() && records.ledger.is_none());
        assert!(!records.knows(Path::new("a.py")));
    }

    /// A folder in the system's temporary folder (no project above it), removed when dropped.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(tag: &str, files: &[(&str, &str)]) -> Scratch {
            let dir =
                std::env::temp_dir().join(format!("tangle-project-{}-{tag}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            for (rel, text) in files {
                let path = dir.join(rel);
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(path, text).unwrap();
            }
            std::fs::create_dir_all(&dir).unwrap();
            Scratch(dir)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn a_project_is_the_nearest_folder_up_that_says_which_dialect() {
        let book = Scratch::new(
            "book",
            &[
                ("book.toml", "[book]\nsrc = \"docs\"\n"),
                ("docs/SUMMARY.md", "- [A](a.md)\n"),
                ("docs/a.md", "# A\n"),
                ("docs/inner/entangled.toml", "version = \"2.4\"\n"),
            ],
        );
        let p = Project::find(&book.0.join("docs"))
            .unwrap()
            .expect("the book");
        assert_eq!(p.root, book.0);
        assert!(matches!(p.documents, Documents::Book(_)));
        assert_eq!(p.documents(), [PathBuf::from("docs/a.md")]);
        assert_eq!(
            p.inputs(),
            ["docs/a.md", "book.toml", "docs/SUMMARY.md"].map(PathBuf::from)
        );
        // A nearer Entangled settings file makes its folder an Entangled book.
        let inner = Project::find(&book.0.join("docs/inner")).unwrap().unwrap();
        assert_eq!(inner.root, book.0.join("docs/inner"));
        assert!(matches!(inner.documents, Documents::Entangled(_)));
        let none = Scratch::new("none", &[]);
        assert!(Project::find(&none.0).unwrap().is_none());
    }

    #[test]
    fn a_broken_book_toml_is_an_error_at_its_place() {
        let book = Scratch::new("broken", &[("book.toml", "[book]\nsrc = 3\n")]);
        let e = Project::find(&book.0).unwrap_err();
        let pos = e.0[0].pos.as_ref().expect("located");
        assert!(pos.path.ends_with("book.toml"), "{e}");
        assert_eq!(pos.line, 2, "{e}");
    }

    #[test]
    fn named_files_are_grouped_by_dialect_and_org_folder() {
        let dir = Scratch::new(
            "named",
            &[
                ("a.md", "```sh file=a.sh\necho a\n```\n"),
                ("x/b.org", ""),
                ("x/c.org", ""),
                ("d.org", ""),
            ],
        );
        let files = ["a.md", "x/b.org", "d.org", "x/c.org"].map(PathBuf::from);
        let named = Project::for_files(&dir.0, &files).unwrap();
        let shape: Vec<(PathBuf, Vec<PathBuf>, Option<Vec<PathBuf>>)> = named
            .iter()
            .map(|n| {
                (
                    n.project.root.clone(),
                    n.project.documents(),
                    n.only.clone(),
                )
            })
            .collect();
        let paths = |ps: &[&str]| ps.iter().map(PathBuf::from).collect::<Vec<_>>();
        assert_eq!(
            shape,
            [
                (dir.0.clone(), paths(&["a.md"]), None),
                (
                    PathBuf::from("x"),
                    paths(&["b.org", "c.org"]),
                    Some(paths(&["b.org", "c.org"]))
                ),
                (
                    PathBuf::from("."),
                    paths(&["d.org"]),
                    Some(paths(&["d.org"]))
                ),
            ]
        );
    }

    #[test]
    fn tangling_with_texts_reads_them_instead_of_the_disk() {
        let p = Project {
            root: PathBuf::from("no-such-folder"),
            documents: Documents::Markdown {
                chapters: vec!["a.md".into()],
                labels: DEFAULT_LABELS.into(),
            },
        };
        let texts = BTreeMap::from([(
            PathBuf::from("a.md"),
            "```sh file=out.sh\necho given\n```\n".to_string(),
        )]);
        let t = p.tangle_with(&texts).unwrap();
        assert_eq!(t.outputs.len(), 1);
        assert!(String::from_utf8_lossy(&t.outputs[0].content).ends_with("echo given\n"));
        // Without them, the disk is read: here, there is none.
        let e = p.tangle().unwrap_err();
        assert!(e.to_string().starts_with("a.md:"), "{e}");
    }

    #[test]
    fn places_are_shown_as_the_user_in_their_folder_names_them() {
        let p = Project {
            root: PathBuf::from("book"),
            documents: Documents::Org { files: Vec::new() },
        };
        let at = |path: &str| Pos::new(path, 3, 4);
        assert_eq!(
            p.shown_from(&at("docs/a.md"), Path::new("/w")),
            at("book/docs/a.md")
        );
        // A project found from the current folder has its root as found: absolute.
        let found = Project {
            root: PathBuf::from("/w/book"),
            ..p.clone()
        };
        assert_eq!(
            found.shown_from(&at("docs/a.md"), Path::new("/w/book/docs")),
            at("a.md")
        );
        assert_eq!(
            found.shown_from(&at("docs/a.md"), Path::new("/w/other")),
            at("../book/docs/a.md")
        );
        assert_eq!(
            p.shown_from(&at("/abs/a.md"), Path::new("/w")),
            at("/abs/a.md")
        );
    }
}
