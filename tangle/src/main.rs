//! `tangle`: the command-line front end of the tangler.

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use tangle::diag::{Diagnostic, Diagnostics};
use tangle::output::Output;
use tangle::project::Project;
use tangle::write;
use tangle::Pos;
use tangle::Tangled;

/// Tangle literate documents into source files: Markdown books (mdBook), org-mode files (as
/// Emacs' org-babel-tangle writes them) and Entangled books.
///
/// Without FILES, finds the project in this folder or a parent and tangles it: a `book.toml`
/// (our Markdown book, chapters in `SUMMARY.md` order; Entangled's with `dialect =
/// "entangled"`), an `entangled.toml` or `[tool.entangled]` in `pyproject.toml` (an Entangled
/// book), or the manifest `.tangled` an earlier `tangle FILE` wrote. With FILES, tangles those
/// `.md` or `.org` files. An output holding edits is never overwritten: `tangle sync` carries
/// them back into the documents.
#[derive(Parser)]
#[command(
    name = "tangle",
    version,
    args_conflicts_with_subcommands = true,
    after_help = "Exit status: 0 when done; 1 on an error, or when --check or fmt --check \
                  finds a difference; 2 on a usage error; `tangle cargo` exits with cargo's \
                  status. The manual: tangle/manual/ in the tangler's repository."
)]
struct Cli {
    /// Markdown or org files to tangle (default: the book's chapters).
    files: Vec<PathBuf>,
    /// Write nothing; exit 1 with a unified diff when any output differs from the disk.
    #[arg(long)]
    check: bool,
    /// Print nothing but errors.
    #[arg(short, long, global = true)]
    quiet: bool,
    /// Write over outputs that hold edits not carried back into the documents, discarding
    /// them (each is named, with how many lines it loses). Without it, `tangle` refuses.
    #[arg(long)]
    force: bool,
    /// Run the shell and Python blocks that org noweb references call (`<<name(args)>>`).
    #[arg(long, global = true)]
    eval: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Print the chapter, line, column and fragment a tangled line comes from.
    Locate {
        /// A place in a tangled file: PATH:LINE[:COL].
        place: String,
    },
    /// Run cargo with rustc's diagnostics mapped back into the chapters.
    Cargo {
        /// cargo's command and its arguments (`build`, `test -p NAME`, `clippy --fix`, ...);
        /// `--fix` applies the fixes in the documents.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<OsString>,
    },
    /// Run as mdBook's preprocessor (the same as the `mdbook-tangle` binary)
    ///
    /// `tangle mdbook` reads mdBook's JSON on standard input and writes the rendered book;
    /// `tangle mdbook supports RENDERER` answers mdBook's question. A book wired by
    /// `mdbook-tangle install` needs no `command` in book.toml.
    Mdbook { args: Vec<String> },
    /// Carry edits made to the tangled files back into the documents.
    ///
    /// Each changed line goes to the document line it came from, an inserted line joins the
    /// fragment of the line above it, a deleted line is deleted. Nothing is written unless the
    /// edited documents tangle to exactly the edited files.
    Sync,
    /// Format the Rust outputs with rustfmt and carry the result into the documents.
    ///
    /// Uses the project's `rustfmt.toml` and the edition of its `Cargo.toml`. With `--check`,
    /// writes nothing and reports each unformatted place at its document line.
    Fmt {
        /// Write nothing; exit 1 and show rustfmt's changes at their document lines.
        #[arg(long)]
        check: bool,
    },
    /// Re-tangle whenever a chapter changes (until interrupted).
    Watch {
        /// Seconds between checks for changes.
        #[arg(long, default_value_t = 0.2)]
        interval: f64,
        /// Seconds a changed file must stay unchanged before it is read (an editor may save
        /// in several writes).
        #[arg(long, default_value_t = 0.3)]
        settle: f64,
        /// Both ways: also carry saved edits of the tangled files back into the documents
        /// (`tangle sync`). The tangled files are kept writable for their owner while watching;
        /// the next plain `tangle` makes them read-only again.
        #[arg(long)]
        sync: bool,
    },
    /// Print a completion script for SHELL to standard output.
    ///
    /// bash: `tangle completions bash > ~/.local/share/bash-completion/completions/tangle`;
    /// zsh: into a folder of `$fpath` as `_tangle`; fish: into
    /// `~/.config/fish/completions/tangle.fish`.
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff) to standard output: `tangle man | man -l -`.
    Man,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            match e.downcast_ref::<Diagnostics>() {
                Some(ds) => eprintln!("{ds}"),
                None => eprintln!("tangle: error: {e:#}"),
            }
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    tangle::project::allow_running_blocks(cli.eval);
    let cwd = std::env::current_dir()?;
    match cli.command {
        Some(Command::Locate { place }) => locate(&cwd, &place),
        Some(Command::Cargo { args }) if tangle::cargo::fix::is_fix(&args) => {
            cargo_fix(&cwd, &args, cli.quiet)
        }
        Some(Command::Cargo { args }) => {
            let project = find_project(&cwd)?;
            recover(&project, &cwd);
            let tangled = tangle(&project, &cwd)?;
            print_warnings(&project, &cwd, &tangled.warnings, true);
            let code = tangle::cargo::run(&project.root, &tangled.outputs, &args)?;
            Ok(ExitCode::from(code.clamp(0, 255) as u8))
        }
        Some(Command::Watch {
            interval,
            settle,
            sync,
        }) => watch(&cwd, interval, settle, cli.quiet, sync),
        Some(Command::Sync) => sync(&cwd, cli.quiet),
        Some(Command::Fmt { check }) => fmt(&cwd, check, cli.quiet),
        Some(Command::Mdbook { args }) => mdbook(&args),
        Some(Command::Completions { shell }) => {
            use clap::CommandFactory;
            clap_complete::generate(shell, &mut Cli::command(), "tangle", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Man) => {
            use clap::CommandFactory;
            clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout())?;
            Ok(ExitCode::SUCCESS)
        }
        None if cli.files.is_empty() => {
            let project = find_project(&cwd)?;
            recover(&project, &cwd);
            let how = How {
                check: cli.check,
                quiet: cli.quiet,
                force: cli.force,
            };
            finish(&project, &cwd, None, how)
        }
        None => {
            let mut code = ExitCode::SUCCESS;
            not_a_command(&cwd, &cli.files)?;
            let projects = Project::for_files(&cwd, &cli.files).map_err(|ds| from_cwd(&cwd, ds))?;
            for named in projects {
                recover(&named.project, &cwd);
                if let tangle::project::Documents::Markdown { chapters, .. } =
                    &named.project.documents
                {
                    let empty = nothing_to_tangle(&named.project.root, chapters);
                    print_warnings(&named.project, &cwd, &empty, !cli.quiet);
                }
                let how = How {
                    check: cli.check,
                    quiet: cli.quiet,
                    force: cli.force,
                };
                let c = finish(&named.project, &cwd, named.only.as_deref(), how)?;
                if c != ExitCode::SUCCESS {
                    code = c;
                }
            }
            Ok(code)
        }
    }
}

/// An error for a FILES argument that is no file and reads as a mistyped command (`tangle
/// synk`): a bare word, with no extension and no folder, naming nothing on disk.
fn not_a_command(cwd: &Path, files: &[PathBuf]) -> Result<()> {
    use clap::CommandFactory;
    for file in files {
        let Some(word) = file.to_str() else { continue };
        if word.contains(['.', '/', '\\']) || cwd.join(file).exists() {
            continue;
        }
        let cli = Cli::command();
        let commands: Vec<&str> = cli.get_subcommands().map(|c| c.get_name()).collect();
        match tangle::suggest::nearest(word, commands.iter().copied()) {
            Some(command) => bail!(
                "`{word}` is not a command, nor a file here; did you mean `tangle {command}`?"
            ),
            None => bail!(
                "`{word}` is not a command, nor a file here (commands: {})",
                commands.join(", ")
            ),
        }
    }
    Ok(())
}

/// A warning for each Markdown document named on the command line (`chapters`, relative to
/// `root`) that holds no tangled code block (none with `file=` or `name=`): naming it tangles
/// nothing. Unreadable or malformed files are left to the tangle, which reports them.
fn nothing_to_tangle(root: &Path, chapters: &[PathBuf]) -> Vec<Diagnostic> {
    use tangle::markdown::parse::BlockKind;
    let mut warnings = Vec::new();
    for file in chapters {
        let Ok(text) = std::fs::read_to_string(root.join(file)) else {
            continue;
        };
        let Ok(chapter) = tangle::markdown::parse::parse(file, &text) else {
            continue;
        };
        if chapter
            .blocks
            .iter()
            .all(|b| b.kind == BlockKind::Illustration)
        {
            let what = if chapter.blocks.is_empty() {
                "no code block"
            } else {
                "no tangled code block (none has `file=` or `name=`)"
            };
            warnings.push(Diagnostic::warning(
                Pos::new(file, 1, 1),
                format!("{what}: nothing to tangle from this file"),
            ));
        }
    }
    warnings
}

/// The project the current folder belongs to.
fn find_project(cwd: &Path) -> Result<Project> {
    Project::find(cwd)
        .map_err(|ds| from_cwd(cwd, ds))?
        .context(
        "no project here: no book.toml or entangled.toml in this folder or a parent, and no manifest (.tangled) \
         of an earlier `tangle FILE.org` or `tangle FILE.md` (name the files to tangle instead)",
    )
}

/// Diagnostics met while finding a project (in its book.toml, say), with their paths as seen
/// from `cwd`.
fn from_cwd(cwd: &Path, ds: Diagnostics) -> Diagnostics {
    // Relative paths are the book's (SUMMARY.md and its chapters).
    let root = tangle::markdown::book::Book::find_root(cwd).unwrap_or_else(|| cwd.to_path_buf());
    let shown = |p: &mut PathBuf| {
        let full = if p.is_absolute() {
            p.clone()
        } else {
            root.join(&*p)
        };
        *p = tangle::paths::relative_to(&full, cwd);
    };
    Diagnostics(
        ds.0.into_iter()
            .map(|mut d| {
                if let Some(pos) = &mut d.pos {
                    shown(&mut pos.path);
                }
                for note in &mut d.notes {
                    shown(&mut note.pos.path);
                }
                d
            })
            .collect(),
    )
}

/// Finishes or undoes what a run killed half-way was writing in the project (its journal), and
/// removes the temporary files killed runs left beside the documents and outputs; says what
/// it did.
fn recover(project: &Project, cwd: &Path) {
    let manifest = write::Manifest::read(&project.root).unwrap_or_default();
    let folders: Vec<PathBuf> = project
        .documents()
        .iter()
        .chain(&manifest.outputs)
        .filter_map(|p| project.root.join(p).parent().map(Path::to_path_buf))
        .collect();
    let root = project.shown_from(&Pos::new(".", 1, 1), cwd).path;
    let place = match tangle::paths::normalize(&root) {
        r if r.as_os_str().is_empty() || r == Path::new(".") => String::new(),
        r => format!("in {}: ", r.display()),
    };
    for said in tangle::commit::recover(&project.root, &folders) {
        eprintln!("tangle: {place}{said}");
    }
}

/// How `tangle` itself runs: checking or writing, quietly, discarding edits.
#[derive(Clone, Copy, Default)]
struct How {
    check: bool,
    quiet: bool,
    force: bool,
}

/// The rule outputs are written by in `project` (see [`write::Guard`]).
fn guard(project: &Project, force: bool) -> write::Guard {
    project.guard(force)
}

/// Tangles the project, with every message's path as seen from `cwd`.
fn tangle(project: &Project, cwd: &Path) -> Result<Tangled, Diagnostics> {
    project.tangle().map_err(|ds| shown(project, cwd, ds))
}

/// Diagnostics with their paths as the user in `cwd` names them.
fn shown(project: &Project, cwd: &Path, ds: Diagnostics) -> Diagnostics {
    Diagnostics(
        ds.0.into_iter()
            .map(|d| shown_one(project, cwd, d))
            .collect(),
    )
}

fn shown_one(project: &Project, cwd: &Path, mut d: Diagnostic) -> Diagnostic {
    if let Some(pos) = &mut d.pos {
        *pos = project.shown_from(pos, cwd);
    }
    for note in &mut d.notes {
        note.pos = project.shown_from(&note.pos, cwd);
    }
    d
}

fn print_warnings(project: &Project, cwd: &Path, warnings: &[Diagnostic], show: bool) {
    if show {
        for w in warnings {
            eprintln!("{}", shown_one(project, cwd, w.clone()));
        }
    }
}

/// Tangles a project, then checks or writes its outputs (only those of the documents in
/// `only`, when given; the manifest always lists the whole project).
fn finish(project: &Project, cwd: &Path, only: Option<&[PathBuf]>, how: How) -> Result<ExitCode> {
    let How {
        check,
        quiet,
        force,
    } = how;
    // Writing and checking need the outputs' contents, not their line maps.
    let tangled = project
        .tangle_to_write()
        .map_err(|ds| shown(project, cwd, ds))?;
    print_warnings(project, cwd, &tangled.warnings, !quiet);
    let selected: Vec<Output>;
    let outputs: &[Output] = match only {
        Some(docs) => {
            selected = tangled
                .outputs
                .iter()
                .filter(|o| docs.contains(&o.block.path))
                .cloned()
                .collect();
            &selected
        }
        None => &tangled.outputs,
    };
    if check {
        // A partial run (named documents) checks only their outputs.
        let manifest = match only {
            Some(_) => None,
            None => project.manifest(&tangled.outputs),
        };
        let target = project.target(manifest.as_ref());
        return Ok(report_check(project, write::check_all(target, outputs)));
    }
    let guard = guard(project, force);
    let mut target = project.target(None);
    target.guard = Some(&guard);
    // The manifest lists the whole project; its hashes are made while the outputs are staged.
    let report = write::write_all_with(target, outputs, || {
        project.manifest_after(&tangled.outputs, outputs, only)
    })
    .map_err(|ds| shown(project, cwd, ds))?;
    record_written(project, outputs);
    say_report(project, cwd, &report, quiet);
    if !WATCHING.load(std::sync::atomic::Ordering::Relaxed) {
        // The process ends soon: freeing every line of the web one by one would only cost
        // time (about a tenth of a large book's run).
        std::mem::forget(tangled);
    }
    Ok(ExitCode::SUCCESS)
}

/// What a write did, for the user: what it wrote and removed (unless `quiet`), and always what
/// it discarded or kept.
fn say_report(project: &Project, cwd: &Path, report: &write::Report, quiet: bool) {
    let at = |p: &Path| project.shown_from(&Pos::new(p, 1, 1), cwd).path;
    for (p, lines) in &report.discarded {
        eprintln!(
            "tangle: discarded the edits of {} ({lines} line(s) of it replaced), as --force asked",
            at(p).display()
        );
    }
    for p in &report.kept {
        eprintln!(
            "tangle: kept {}: no root writes it any more, but it holds edits (remove it by hand \
             once they are safe)",
            at(p).display()
        );
    }
    if !quiet {
        for p in &report.written {
            eprintln!("tangle: wrote {}", at(p).display());
        }
        for p in &report.removed {
            eprintln!(
                "tangle: removed {} (no root writes it any more)",
                at(p).display()
            );
        }
    }
}

/// The dialect's own record learns what was written (see [`Project::record_written`]);
/// failing that is worth a warning, no more.
fn record_written(project: &Project, outputs: &[Output]) {
    if let Err(e) = project.record_written(outputs) {
        eprintln!("tangle: warning: {e}");
    }
}

/// Whether this process re-tangles in a loop (and so must free what each run builds).
static WATCHING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn report_check(project: &Project, diffs: Vec<write::Difference>) -> ExitCode {
    if diffs.is_empty() {
        return ExitCode::SUCCESS;
    }
    for d in &diffs {
        print!("{}", d.diff);
    }
    let documents = project.documents_noun();
    // Files that hold edits are not stale: they are to be carried back, not tangled over.
    let records = tangle::sync::records(project);
    let (edited, stale): (Vec<&write::Difference>, Vec<&write::Difference>) =
        diffs.iter().partition(|d| {
            d.path != Path::new(write::MANIFEST)
                && std::fs::read(project.root.join(&d.path))
                    .is_ok_and(|disk| !records.wrote(&d.path, &disk))
        });
    if !stale.is_empty() {
        eprintln!(
            "tangle: {} file(s) differ from the {documents}; run `tangle` to update them",
            stale.len()
        );
    }
    if !edited.is_empty() {
        let names: Vec<String> = edited
            .iter()
            .map(|d| d.path.display().to_string())
            .collect();
        eprintln!(
            "tangle: {} hold(s) edits not carried back into the {documents}; run `tangle sync` \
             to carry them back",
            names.join(", ")
        );
    }
    ExitCode::FAILURE
}

/// `tangle sync`: the edited outputs' changes, carried into the documents.
fn sync(cwd: &Path, quiet: bool) -> Result<ExitCode> {
    sync_as(cwd, quiet, false)
}

/// [`sync`]; for `watch` (`watching`), an output that looks half-saved is not carried back
/// yet.
fn sync_as(cwd: &Path, quiet: bool, watching: bool) -> Result<ExitCode> {
    let project = find_project(cwd)?;
    recover(&project, cwd);
    // What the documents hold before they are read: checked again before they are replaced.
    let read = write::Snapshot::take(&project.root, &project.documents());
    let fresh = tangle(&project, cwd)?;
    let edited =
        tangle::sync::edited_outputs(&project, &fresh).map_err(|ds| shown(&project, cwd, ds))?;
    for note in &edited.notes {
        eprintln!("tangle: {note}");
    }
    if edited.texts.is_empty() {
        if !quiet && !watching {
            eprintln!("tangle: no edited output to carry back");
        }
        return Ok(ExitCode::SUCCESS);
    }
    if watching {
        let mut waiting = false;
        for o in &fresh.outputs {
            let path = tangle::paths::normalize(&o.path);
            let Some(text) = edited.texts.get(&path) else {
                continue;
            };
            if let Some(why) = tangle::sync::half_saved(&path, &o.content, text) {
                let shown = project.shown_from(&Pos::new(&path, 1, 1), cwd).path;
                eprintln!(
                    "tangle: {} looks half-saved ({why}): not carried back yet, and not tangled \
                     over; waiting for the next save (if it is as you meant it, run `tangle sync`)",
                    shown.display()
                );
                waiting = true;
            }
        }
        if waiting {
            return Ok(ExitCode::SUCCESS);
        }
    }
    let plan = tangle::sync::plan(&project, &fresh, &edited.texts)
        .map_err(|ds| shown(&project, cwd, ds))?;
    carry(&project, cwd, &plan, &read, &edited.read, quiet)?;
    if !quiet {
        for p in &plan.carried {
            eprintln!(
                "tangle: carried the edits of {} back",
                project.shown_from(&Pos::new(p, 1, 1), cwd).path.display()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes a sync plan: the documents, the manifest and any output whose content the plan
/// changes, all or nothing. `read` is what the documents held when the command read them,
/// `carried` the hashes of the outputs whose bytes the plan carried back: every file replaced
/// must still hold what was read.
fn carry(
    project: &Project,
    cwd: &Path,
    plan: &tangle::sync::Plan,
    read: &write::Snapshot,
    carried: &std::collections::BTreeMap<PathBuf, u64>,
    quiet: bool,
) -> Result<()> {
    let documents: Vec<write::Document<'_>> = plan
        .texts
        .iter()
        .map(|(rel, text)| write::Document {
            rel: rel.clone(),
            text,
            expect: read.expect(rel),
        })
        .collect();
    // What each document held, to say afterwards which of its lines the sync wrote.
    let before: Vec<(PathBuf, String)> = plan
        .texts
        .keys()
        .map(|rel| {
            let text = std::fs::read_to_string(project.root.join(rel)).unwrap_or_default();
            (rel.clone(), text)
        })
        .collect();
    // Markdown files outside a book: their folder's manifest, which lists other runs' too.
    let outputs = &plan.tangled.outputs;
    let manifest = project.manifest_after(outputs, outputs, None);
    let mut guard = guard(project, false);
    guard.carried = carried.clone();
    let mut target = project.target(manifest.as_ref());
    target.guard = Some(&guard);
    let report = write::write_all_and_documents(target, &plan.tangled.outputs, &documents)
        .map_err(|ds| shown(project, cwd, ds))?;
    record_written(project, &plan.tangled.outputs);
    if !quiet {
        let at = |p: &Path| project.shown_from(&Pos::new(p, 1, 1), cwd).path;
        for (p, old) in &before {
            let changed = tangle::sync::ChangedLines::between(old, &plan.texts[p]);
            eprintln!("tangle: wrote {} ({changed})", at(p).display());
        }
    }
    say_report(project, cwd, &report, quiet);
    Ok(())
}

/// `tangle cargo fix` / `tangle cargo clippy --fix`: the machine-applicable suggestions,
/// applied to the outputs in memory and carried into the documents.
fn cargo_fix(cwd: &Path, args: &[OsString], quiet: bool) -> Result<ExitCode> {
    let project = find_project(cwd)?;
    recover(&project, cwd);
    let read = write::Snapshot::take(&project.root, &project.documents());
    let fresh = tangle(&project, cwd)?;
    // The compiler reads the files on disk: they must be what the documents make them.
    let stale = write::check_all(project.target(None), &fresh.outputs);
    if !stale.is_empty() {
        let records = tangle::sync::records(&project);
        let edited: Vec<String> = stale
            .iter()
            .filter(|d| {
                std::fs::read(project.root.join(&d.path))
                    .is_ok_and(|disk| !records.wrote(&d.path, &disk))
            })
            .map(|d| d.path.display().to_string())
            .collect();
        if !edited.is_empty() {
            bail!(
                "{} hold(s) edits not carried back into the documents; run `tangle sync` first \
                 (the fixes are carried back the same way)",
                edited.join(", ")
            );
        }
        bail!(
            "{} differs from the documents; run `tangle` first",
            stale[0].path.display()
        );
    }
    let report = tangle::cargo::fix::report_args(args);
    let (code, messages) = tangle::cargo::fix::messages(&project.root, &report)?;
    let (edited, applied) = tangle::cargo::fix::apply(&messages, &project.root, &fresh.outputs);
    if edited.is_empty() {
        if !quiet {
            eprintln!("tangle: no machine-applicable suggestion to apply");
        }
        return Ok(ExitCode::from(code.clamp(0, 255) as u8));
    }
    let plan =
        tangle::sync::plan(&project, &fresh, &edited).map_err(|ds| shown(&project, cwd, ds))?;
    carry(&project, cwd, &plan, &read, &Default::default(), quiet)?;
    if !quiet {
        eprintln!("tangle: applied {applied} suggestion(s) in the documents");
    }
    Ok(ExitCode::SUCCESS)
}

/// `tangle fmt [--check]`: rustfmt over the Rust outputs, carried into the documents.
fn fmt(cwd: &Path, check: bool, quiet: bool) -> Result<ExitCode> {
    let project = find_project(cwd)?;
    recover(&project, cwd);
    let read = write::Snapshot::take(&project.root, &project.documents());
    let fresh = tangle(&project, cwd)?;
    let formatted =
        tangle::fmt::unformatted(&project, &fresh).map_err(|ds| shown(&project, cwd, ds))?;
    if formatted.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    if !check {
        let pending = tangle::sync::edited_outputs(&project, &fresh)
            .map_err(|ds| shown(&project, cwd, ds))?;
        if let Some(p) = pending.texts.keys().next() {
            bail!(
                "{} has edits that are not in the documents yet; run `tangle sync` first \
                 (formatting would overwrite them)",
                p.display()
            );
        }
    }
    // rustfmt's changes that the documents can hold, and those they cannot (a fragment used
    // at two indentations that rustfmt wraps at one of them): no run could make the latter.
    let (plan, impossible) = match tangle::sync::plan(&project, &fresh, &formatted) {
        Ok(plan) => (Some(plan), Vec::new()),
        Err(_) => {
            let mut possible = std::collections::BTreeMap::new();
            let mut impossible = Vec::new();
            for (path, text) in &formatted {
                let one = std::collections::BTreeMap::from([(path.clone(), text.clone())]);
                match tangle::sync::plan(&project, &fresh, &one) {
                    Ok(_) => {
                        possible.insert(path.clone(), text.clone());
                    }
                    Err(ds) => impossible.push((path.clone(), ds)),
                }
            }
            let plan = if possible.is_empty() {
                None
            } else {
                Some(
                    tangle::sync::plan(&project, &fresh, &possible)
                        .map_err(|ds| shown(&project, cwd, ds))?,
                )
            };
            (plan, impossible)
        }
    };
    if check {
        let possible: std::collections::BTreeMap<PathBuf, String> = formatted
            .iter()
            .filter(|(p, _)| !impossible.iter().any(|(q, _)| q == *p))
            .map(|(p, t)| (p.clone(), t.clone()))
            .collect();
        for place in tangle::fmt::report(&fresh, &possible) {
            print!("{place}");
        }
        if !possible.is_empty() {
            eprintln!(
                "tangle: {} file(s) are not formatted as rustfmt would; run `tangle fmt`",
                possible.len()
            );
        }
    } else if let Some(plan) = &plan {
        carry(&project, cwd, plan, &read, &Default::default(), quiet)?;
    }
    if impossible.is_empty() {
        return Ok(if check {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        });
    }
    for (path, ds) in impossible {
        eprintln!("{}", shown(&project, cwd, ds));
        eprintln!(
            "tangle: rustfmt formats {} in a way its documents cannot hold (above: a fragment \
             used in several places, or at several indentations, that rustfmt would format \
             differently at each); no `tangle fmt` run can do it: format that code by hand so \
             that rustfmt leaves every use of it alone (a shorter line, a line break of your own)",
            project
                .shown_from(&Pos::new(&path, 1, 1), cwd)
                .path
                .display()
        );
    }
    Ok(ExitCode::FAILURE)
}

/// `tangle mdbook [supports RENDERER]`: the same preprocessor as `mdbook-tangle`.
fn mdbook(args: &[String]) -> Result<ExitCode> {
    match args {
        [s, renderer] if s == "supports" => Ok(tangle::install::supports(renderer)),
        [] => tangle::install::preprocess_stdin().map_err(|e| match e.into_diagnostics() {
            // The chapters' errors stay `Diagnostics`, which `main` prints as they are.
            Ok(ds) => ds.into(),
            Err(e) => e.into(),
        }),
        _ => bail!("usage: tangle mdbook [supports RENDERER] (or mdbook-tangle, its own binary)"),
    }
}

/// A place in a tangled file as given on the command line: `PATH:LINE[:COL]`.
struct Place {
    path: PathBuf,
    line: usize,
    col: Option<usize>,
}

fn parse_place(place: &str) -> Result<Place> {
    let number = |s: &str| s.parse::<usize>().ok().filter(|&n| n > 0);
    let mut parts = place.rsplitn(3, ':').collect::<Vec<_>>();
    parts.reverse();
    let (path, line, col) = match parts.as_slice() {
        [f, l, c] if number(l).is_some() => (f.to_string(), *l, Some(*c)),
        [f, l, c] => (format!("{f}:{l}"), *c, None),
        [f, l] => (f.to_string(), *l, None),
        _ => bail!("expected PATH:LINE[:COL], got `{place}`"),
    };
    let line =
        number(line).with_context(|| format!("LINE must be a number from 1, got `{line}`"))?;
    let col = match col {
        Some(c) => {
            Some(number(c).with_context(|| format!("COL must be a number from 1, got `{c}`"))?)
        }
        None => None,
    };
    Ok(Place {
        path: PathBuf::from(path),
        line,
        col,
    })
}

fn locate(cwd: &Path, place: &str) -> Result<ExitCode> {
    let place = parse_place(place)?;
    let project = find_project(cwd)?;
    let tangled = tangle(&project, cwd)?;
    let Some(out) = project.output(&tangled, cwd, &place.path) else {
        bail!(
            "`{}` is not tangled from this project",
            place.path.display()
        );
    };
    match out.locate(place.line, place.col) {
        Ok(l) => {
            let pos = project.shown_from(&Pos::new(l.path, l.line, l.col), cwd);
            println!("{pos}: in «{}»", l.fragment);
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => bail!("{}:{}: {e}", place.path.display(), place.line),
    }
}

/// A set of files' stamps that must hold still for a while before it is acted on: an editor
/// may save a file in several writes, and a file read between two of them is half-saved.
struct Settling<T> {
    /// The stamp last seen, and since when it holds.
    seen: Option<(T, std::time::Instant)>,
    /// The stamp last acted on.
    acted: Option<T>,
}

impl<T: PartialEq + Clone> Settling<T> {
    fn new() -> Settling<T> {
        Settling {
            seen: None,
            acted: None,
        }
    }

    /// Whether `stamp` is new and has held for `settle`: time to act on it.
    fn settled(&mut self, stamp: T, settle: std::time::Duration) -> bool {
        match &self.seen {
            Some((seen, since)) if *seen == stamp => {
                if since.elapsed() >= settle && self.acted.as_ref() != Some(&stamp) {
                    self.acted = Some(stamp);
                    return true;
                }
                false
            }
            _ => {
                self.seen = Some((stamp, std::time::Instant::now()));
                false
            }
        }
    }
}

/// Re-tangles the project whenever one of its inputs changes (once the change has settled);
/// with `both_ways`, also carries saved outputs back first. An output that holds edits is
/// never tangled over: watch says why and waits.
fn watch(cwd: &Path, interval: f64, settle: f64, quiet: bool, both_ways: bool) -> Result<ExitCode> {
    WATCHING.store(true, std::sync::atomic::Ordering::Relaxed);
    let report = |result: Result<ExitCode>| {
        if let Err(e) = result {
            match e.downcast_ref::<Diagnostics>() {
                Some(ds) => eprintln!("{ds}"),
                None => eprintln!("tangle: error: {e:#}"),
            }
            eprintln!("tangle: waiting for the next save");
        }
    };
    let settle = std::time::Duration::from_secs_f64(settle.max(0.0));
    let (mut inputs, mut outputs) = (Settling::new(), Settling::new());
    loop {
        let project = find_project(cwd);
        if both_ways {
            let stamp = project.as_ref().map(outputs_stamp).unwrap_or_default();
            if outputs.settled(stamp, settle) {
                // An output was saved: carry it back (the documents then change, and the
                // next check below re-tangles them, which changes nothing more).
                // Also after this process's own writes: sync finds nothing to carry back
                // then, and says nothing. (Telling its writes from a save by their times
                // would miss a save landing right after them.)
                report(sync_as(cwd, quiet, true));
            }
        }
        let stamp = project.as_ref().map(watched_stamp).unwrap_or_default();
        if inputs.settled(stamp, settle) {
            let result = project.and_then(|p| {
                recover(&p, cwd);
                let how = How {
                    quiet,
                    ..How::default()
                };
                let code = finish(&p, cwd, None, how)?;
                if both_ways {
                    writable_outputs(&p);
                }
                Ok(code)
            });
            if result.is_ok() {
                eprintln!("tangle: up to date");
            }
            report(result);
        }
        std::thread::sleep(std::time::Duration::from_secs_f64(interval.max(0.02)));
    }
}

/// The project's outputs, as its manifest lists them.
fn manifest_outputs(project: &Project) -> Vec<PathBuf> {
    tangle::write::Manifest::read(&project.root)
        .map(|m| m.outputs)
        .unwrap_or_default()
}

/// Gives the owner write permission on every output, so that an editor can save it.
fn writable_outputs(project: &Project) {
    use std::os::unix::fs::PermissionsExt;
    for out in manifest_outputs(project) {
        let path = project.root.join(out);
        if let Ok(meta) = std::fs::metadata(&path) {
            let mode = meta.permissions().mode();
            if mode & 0o200 == 0 {
                let _ =
                    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode | 0o200));
            }
        }
    }
}

/// Modification times and sizes of the outputs.
fn outputs_stamp(project: &Project) -> Vec<(PathBuf, Option<std::time::SystemTime>, u64)> {
    stamps(project, manifest_outputs(project))
}

/// Modification times and sizes of everything that a tangle reads.
fn watched_stamp(project: &Project) -> Vec<(PathBuf, Option<std::time::SystemTime>, u64)> {
    stamps(project, project.inputs())
}

/// Modification times and sizes of `files` (relative to the project root).
fn stamps(
    project: &Project,
    files: Vec<PathBuf>,
) -> Vec<(PathBuf, Option<std::time::SystemTime>, u64)> {
    files
        .into_iter()
        .map(|f| {
            let meta = std::fs::metadata(project.root.join(&f)).ok();
            let modified = meta.as_ref().and_then(|m| m.modified().ok());
            (f, modified, meta.map_or(0, |m| m.len()))
        })
        .collect()
}
