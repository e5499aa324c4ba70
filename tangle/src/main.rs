//! `tangle`: the command-line front end of the tangler.

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use tangle::diag::{Diagnostic, Diagnostics};
use tangle::output::Output;
use tangle::project::{Documents, Project};
use tangle::tangle::Tangled;
use tangle::write;
use tangle::Pos;

/// Tangle literate documents (Markdown books and org files) into source files.
///
/// Without arguments, reads `book.toml` (in this folder or a parent) and tangles the book's
/// chapters in `SUMMARY.md` order. With FILES, tangles those `.md` or `.org` files.
#[derive(Parser)]
#[command(version, args_conflicts_with_subcommands = true)]
struct Cli {
    /// Markdown or org files to tangle (default: the book's chapters).
    files: Vec<PathBuf>,
    /// Write nothing; exit 1 with a unified diff when any output differs from the disk.
    #[arg(long)]
    check: bool,
    /// Print nothing but errors.
    #[arg(short, long, global = true)]
    quiet: bool,
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
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<OsString>,
    },
    /// Run as mdBook's preprocessor (wired in book.toml)
    ///
    /// `tangle mdbook` reads mdBook's JSON on standard input and writes the rendered book;
    /// `tangle mdbook supports RENDERER` answers mdBook's question.
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
        /// Both ways: also carry saved edits of the tangled files back into the documents
        /// (`tangle sync`). The tangled files are kept writable for their owner while watching;
        /// the next plain `tangle` makes them read-only again.
        #[arg(long)]
        sync: bool,
    },
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
    tangle::org::allow_running_blocks(cli.eval);
    let cwd = std::env::current_dir()?;
    match cli.command {
        Some(Command::Locate { place }) => locate(&cwd, &place),
        Some(Command::Cargo { args }) if tangle::cargo::fix::is_fix(&args) => {
            cargo_fix(&cwd, &args, cli.quiet)
        }
        Some(Command::Cargo { args }) => {
            let project = find_project(&cwd)?;
            let tangled = tangle(&project, &cwd)?;
            print_warnings(&project, &cwd, &tangled.warnings, true);
            let code = tangle::cargo::run(&project.root, &tangled.outputs, &args)?;
            Ok(ExitCode::from(code.clamp(0, 255) as u8))
        }
        Some(Command::Watch { interval, sync }) => watch(&cwd, interval, cli.quiet, sync),
        Some(Command::Sync) => sync(&cwd, cli.quiet),
        Some(Command::Fmt { check }) => fmt(&cwd, check, cli.quiet),
        Some(Command::Mdbook { args }) => mdbook(&args),
        None if cli.files.is_empty() => {
            let project = find_project(&cwd)?;
            finish(&project, &cwd, None, cli.check, cli.quiet)
        }
        None => {
            let mut code = ExitCode::SUCCESS;
            for named in Project::for_files(&cwd, &cli.files)? {
                let c = finish(
                    &named.project,
                    &cwd,
                    named.only.as_deref(),
                    cli.check,
                    cli.quiet,
                )?;
                if c != ExitCode::SUCCESS {
                    code = c;
                }
            }
            Ok(code)
        }
    }
}

/// The project the current folder belongs to.
fn find_project(cwd: &Path) -> Result<Project> {
    Project::find(cwd)?.context(
        "no project here: no book.toml or entangled.toml in this folder or a parent, and no manifest (.tangled) \
         of an earlier `tangle FILE.org` (name the files to tangle instead)",
    )
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
    d.pos = project.shown_from(&d.pos, cwd);
    for (pos, _) in &mut d.notes {
        *pos = project.shown_from(pos, cwd);
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
fn finish(
    project: &Project,
    cwd: &Path,
    only: Option<&[PathBuf]>,
    check: bool,
    quiet: bool,
) -> Result<ExitCode> {
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
    let unsaved = tangle::sync::unsaved_edits(project, outputs);
    if !unsaved.is_empty() {
        return Err(shown(project, cwd, Diagnostics(unsaved)).into());
    }
    // The manifest lists the whole project; its hashes are made while the outputs are staged.
    let report = write::write_all_with(project.target(None), outputs, || {
        let mut manifest = project.manifest(&tangled.outputs);
        if let (Some(m), Some(docs)) = (manifest.as_mut(), only) {
            // A partial run writes only the named documents' files: the others keep what the
            // last run recorded of them (they were not written now).
            let old = write::Manifest::read(&project.root).unwrap_or_default();
            for o in tangled
                .outputs
                .iter()
                .filter(|o| !docs.contains(&o.block.path))
            {
                let path = tangle::paths::normalize(&o.path);
                match old.hashes.get(&path) {
                    Some(&h) => m.hashes.insert(path, h),
                    None => m.hashes.remove(&path),
                };
            }
        }
        manifest
    })
    .map_err(|ds| shown(project, cwd, ds))?;
    record_for_entangled(project, outputs);
    if !quiet {
        let at = |p: &Path| project.shown_from(&Pos::new(p, 1, 1), cwd).path;
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
    if !WATCHING.load(std::sync::atomic::Ordering::Relaxed) {
        // The process ends soon: freeing every line of the web one by one would only cost
        // time (about a tenth of a large book's run).
        std::mem::forget(tangled);
    }
    Ok(ExitCode::SUCCESS)
}

/// In an Entangled book that Entangled also tangles, its database learns what was written
/// (see [`tangle::entangled::filedb::record`]); failing that is worth a warning, no more.
fn record_for_entangled(project: &Project, outputs: &[Output]) {
    if let Documents::Entangled(_) = project.documents {
        if let Err(e) = tangle::entangled::filedb::record(project, outputs) {
            eprintln!("tangle: warning: could not update .entangled/filedb.json: {e}");
        }
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
    let documents = match project.documents {
        Documents::Org { .. } => "org files",
        Documents::Entangled(_) => "documents",
        _ => "chapters",
    };
    eprintln!(
        "tangle: {} file(s) differ from the {documents}; run `tangle` to update them",
        diffs.len()
    );
    ExitCode::FAILURE
}

/// `tangle sync`: the edited outputs' changes, carried into the documents.
fn sync(cwd: &Path, quiet: bool) -> Result<ExitCode> {
    let project = find_project(cwd)?;
    let fresh = tangle(&project, cwd)?;
    let edited =
        tangle::sync::edited_outputs(&project, &fresh).map_err(|ds| shown(&project, cwd, ds))?;
    if edited.is_empty() {
        if !quiet {
            eprintln!("tangle: no edited output to carry back");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let plan =
        tangle::sync::plan(&project, &fresh, &edited).map_err(|ds| shown(&project, cwd, ds))?;
    carry(&project, cwd, &plan, quiet)?;
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

/// Writes a sync plan: the documents (all or nothing), then the manifest and any output whose
/// content the plan changes.
fn carry(project: &Project, cwd: &Path, plan: &tangle::sync::Plan, quiet: bool) -> Result<()> {
    write::replace_documents(&project.root, &plan.texts).map_err(|ds| shown(project, cwd, ds))?;
    let manifest = project.manifest(&plan.tangled.outputs);
    let report = write::write_all(project.target(manifest.as_ref()), &plan.tangled.outputs)
        .map_err(|ds| shown(project, cwd, ds))?;
    record_for_entangled(project, &plan.tangled.outputs);
    if !quiet {
        let at = |p: &Path| project.shown_from(&Pos::new(p, 1, 1), cwd).path;
        for p in plan.texts.keys().chain(&report.written) {
            eprintln!("tangle: wrote {}", at(p).display());
        }
    }
    Ok(())
}

/// `tangle cargo fix` / `tangle cargo clippy --fix`: the machine-applicable suggestions,
/// applied to the outputs in memory and carried into the documents.
fn cargo_fix(cwd: &Path, args: &[OsString], quiet: bool) -> Result<ExitCode> {
    let project = find_project(cwd)?;
    let fresh = tangle(&project, cwd)?;
    // The compiler reads the files on disk: they must be what the documents make them.
    let stale = write::check_all(project.target(None), &fresh.outputs);
    if let Some(d) = stale.first() {
        bail!(
            "{} differs from the documents; run `tangle` (or `tangle sync`) first",
            d.path.display()
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
    carry(&project, cwd, &plan, quiet)?;
    if !quiet {
        eprintln!("tangle: applied {applied} suggestion(s) in the documents");
    }
    Ok(ExitCode::SUCCESS)
}

/// `tangle fmt [--check]`: rustfmt over the Rust outputs, carried into the documents.
fn fmt(cwd: &Path, check: bool, quiet: bool) -> Result<ExitCode> {
    let project = find_project(cwd)?;
    let fresh = tangle(&project, cwd)?;
    let formatted =
        tangle::fmt::unformatted(&project, &fresh).map_err(|ds| shown(&project, cwd, ds))?;
    if check {
        if formatted.is_empty() {
            return Ok(ExitCode::SUCCESS);
        }
        for place in tangle::fmt::report(&fresh, &formatted) {
            print!("{place}");
        }
        eprintln!(
            "tangle: {} file(s) are not formatted as rustfmt would; run `tangle fmt`",
            formatted.len()
        );
        return Ok(ExitCode::FAILURE);
    }
    let pending =
        tangle::sync::edited_outputs(&project, &fresh).map_err(|ds| shown(&project, cwd, ds))?;
    if let Some(p) = pending.keys().next() {
        bail!(
            "{} has edits that are not in the documents yet; run `tangle sync` first (formatting \
             would overwrite them)",
            p.display()
        );
    }
    if formatted.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    let plan =
        tangle::sync::plan(&project, &fresh, &formatted).map_err(|ds| shown(&project, cwd, ds))?;
    carry(&project, cwd, &plan, quiet)?;
    Ok(ExitCode::SUCCESS)
}

fn mdbook(args: &[String]) -> Result<ExitCode> {
    use std::io::{Read, Write};
    match args {
        [s, renderer] if s == "supports" => Ok(if tangle::mdbook::supports(renderer) {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }),
        [] => {
            let mut input = String::new();
            std::io::stdin().read_to_string(&mut input)?;
            let book = tangle::mdbook::preprocess(&input)?;
            std::io::stdout().write_all(book.as_bytes())?;
            Ok(ExitCode::SUCCESS)
        }
        _ => bail!("usage: tangle mdbook [supports RENDERER]"),
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

/// Re-tangles the project whenever one of its inputs changes; with `both_ways`, also carries
/// saved outputs back first.
fn watch(cwd: &Path, interval: f64, quiet: bool, both_ways: bool) -> Result<ExitCode> {
    WATCHING.store(true, std::sync::atomic::Ordering::Relaxed);
    let report = |result: Result<ExitCode>| {
        if let Err(e) = result {
            match e.downcast_ref::<Diagnostics>() {
                Some(ds) => eprintln!("{ds}"),
                None => eprintln!("tangle: error: {e:#}"),
            }
        }
    };
    let (mut last, mut last_outputs) = (None, None);
    loop {
        let project = find_project(cwd);
        if both_ways {
            let stamp = project.as_ref().map(outputs_stamp).unwrap_or_default();
            if last_outputs.is_some() && Some(&stamp) != last_outputs.as_ref() {
                // An output was saved: carry it back (the documents then change, and the
                // next check below re-tangles them, which changes nothing more).
                report(sync(cwd, quiet));
            }
            last_outputs = Some(stamp);
        }
        let stamp = project.as_ref().map(watched_stamp).unwrap_or_default();
        if Some(&stamp) != last.as_ref() {
            last = Some(stamp);
            let result = project.and_then(|p| {
                let code = finish(&p, cwd, None, false, quiet)?;
                if both_ways {
                    writable_outputs(&p);
                }
                Ok(code)
            });
            if result.is_ok() {
                eprintln!("tangle: up to date");
            }
            report(result);
            if both_ways {
                last_outputs = find_project(cwd).ok().as_ref().map(outputs_stamp);
            }
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
