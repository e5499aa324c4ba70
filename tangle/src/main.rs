//! `tangle`: the command-line front end of the tangler.

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use tangle::book::{Book, DEFAULT_LABELS};
use tangle::diag::{Diagnostic, Diagnostics};
use tangle::output::Output;
use tangle::tangle::Tangled;
use tangle::write::{self, Target};
use tangle::{source, Pos};

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
    #[arg(short, long)]
    quiet: bool,
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
    /// Re-tangle whenever a chapter changes (until interrupted).
    Watch {
        /// Seconds between checks for changes.
        #[arg(long, default_value_t = 0.2)]
        interval: f64,
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
    match cli.command {
        Some(Command::Locate { place }) => locate(&place),
        Some(Command::Cargo { args }) => {
            let (root, tangled) = tangle_book()?;
            print_warnings(&tangled.warnings, true);
            let code = tangle::cargo::run(&root, &tangled.outputs, &args)?;
            Ok(ExitCode::from(code.clamp(0, 255) as u8))
        }
        Some(Command::Watch { interval }) => watch(interval, cli.quiet),
        Some(Command::Mdbook { args }) => mdbook(&args),
        None if cli.files.is_empty() => {
            let (root, tangled) = tangle_book()?;
            finish(&root, tangled, cli.check, cli.quiet, true)
        }
        None => tangle_files(&cli.files, cli.check, cli.quiet),
    }
}

/// The project root and the tangled book found from the current folder.
fn tangle_book() -> Result<(PathBuf, Tangled)> {
    let cwd = std::env::current_dir()?;
    let root = Book::find_root(&cwd)
        .context("no book.toml in this folder or a parent (name the files to tangle instead)")?;
    let book = Book::load(&root)?;
    let tangled = tangle_in(&root, &book.chapters, &book.labels)?;
    Ok((root, tangled))
}

fn tangle_in(root: &Path, chapters: &[PathBuf], labels: &str) -> Result<Tangled, Diagnostics> {
    tangle::tangle::tangle_files(root, chapters, labels)
}

fn print_warnings(warnings: &[Diagnostic], show: bool) {
    if show {
        for w in warnings {
            eprintln!("{w}");
        }
    }
}

/// Checks or writes the outputs of a Markdown tangle rooted at `root`.
fn finish(
    root: &Path,
    tangled: Tangled,
    check: bool,
    quiet: bool,
    manifest: bool,
) -> Result<ExitCode> {
    print_warnings(&tangled.warnings, !quiet);
    let target = Target {
        base: root,
        confine: true,
        manifest,
    };
    if check {
        return Ok(report_check(write::check_all(target, &tangled.outputs)));
    }
    let blame = |o: &Output| tangled.root_of(o);
    let report = write::write_all(target, &tangled.outputs, &blame)?;
    if !quiet {
        for p in &report.written {
            eprintln!("tangle: wrote {}", p.display());
        }
        for p in &report.removed {
            eprintln!(
                "tangle: removed {} (no root writes it any more)",
                p.display()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn report_check(diffs: Vec<write::Difference>) -> ExitCode {
    if diffs.is_empty() {
        return ExitCode::SUCCESS;
    }
    for d in &diffs {
        print!("{}", d.diff);
    }
    eprintln!(
        "tangle: {} file(s) differ from the chapters; run `tangle` to update them",
        diffs.len()
    );
    ExitCode::FAILURE
}

/// `tangle FILE...`: Markdown files tangle together relative to the project root (the folder
/// of `book.toml`, else the current folder); each org file tangles on its own, as Emacs does.
fn tangle_files(files: &[PathBuf], check: bool, quiet: bool) -> Result<ExitCode> {
    let (org, md): (Vec<&PathBuf>, Vec<&PathBuf>) = files
        .iter()
        .partition(|f| f.extension().is_some_and(|e| e == "org"));
    let mut code = ExitCode::SUCCESS;
    if !md.is_empty() {
        let cwd = std::env::current_dir()?;
        let root = Book::find_root(&cwd).unwrap_or(cwd.clone());
        let labels = Book::load(&root)
            .map(|b| b.labels)
            .unwrap_or_else(|_| DEFAULT_LABELS.into());
        let rel: Vec<PathBuf> = md
            .iter()
            .map(|f| relative_to(&cwd.join(f), &root))
            .collect();
        let tangled = tangle_in(&root, &rel, &labels)?;
        code = finish(&root, tangled, check, quiet, false)?;
    }
    for file in org {
        let text = source::read(file)?;
        let tangled = tangle::org::tangle_org(file, &text)?;
        print_warnings(&tangled.warnings, !quiet);
        let base = file
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let target = Target {
            base,
            confine: false,
            manifest: false,
        };
        if check {
            if report_check(write::check_all(target, &tangled.outputs)) != ExitCode::SUCCESS {
                code = ExitCode::FAILURE;
            }
            continue;
        }
        let origin = |_: &Output| Pos::new(file, 1, 1);
        write::write_all(target, &tangled.outputs, &origin)?;
    }
    Ok(code)
}

/// `path` relative to `root` when it lies inside it.
fn relative_to(path: &Path, root: &Path) -> PathBuf {
    path.strip_prefix(root)
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| path.to_path_buf())
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

fn locate(place: &str) -> Result<ExitCode> {
    let mut parts = place.rsplitn(3, ':').collect::<Vec<_>>();
    parts.reverse();
    let (file, line, col) = match parts.as_slice() {
        [f, l, c] if l.parse::<usize>().is_ok() => (
            f.to_string(),
            l.parse::<usize>()?,
            c.parse::<usize>().context("COL must be a number")?,
        ),
        [f, l, c] => (
            format!("{f}:{l}"),
            c.parse::<usize>().context("LINE must be a number")?,
            1,
        ),
        [f, l] => (
            f.to_string(),
            l.parse::<usize>().context("LINE must be a number")?,
            1,
        ),
        _ => bail!("expected PATH:LINE[:COL], got `{place}`"),
    };
    let (root, tangled) = tangle_book()?;
    let cwd = std::env::current_dir()?;
    let want = relative_to(&cwd.join(&file), &root);
    let Some(out) = tangled
        .outputs
        .iter()
        .find(|o| o.path.components().eq(want.components()))
    else {
        bail!("`{file}` is not tangled from this book");
    };
    match out.map.locate(line, col) {
        Some(l) => {
            println!(
                "{}:{}:{}: in «{}»",
                l.path.display(),
                l.line,
                l.col,
                l.fragment
            );
            Ok(ExitCode::SUCCESS)
        }
        None if line >= 1 && line <= out.map.lines.len() => {
            bail!("{file}:{line} is generated by the tangler (the header); it has no place in the chapters")
        }
        None => bail!(
            "{file} has {} lines; there is no line {line}",
            out.map.lines.len()
        ),
    }
}

/// Re-tangles the book whenever a chapter, `SUMMARY.md` or `book.toml` changes.
fn watch(interval: f64, quiet: bool) -> Result<ExitCode> {
    let cwd = std::env::current_dir()?;
    let root = Book::find_root(&cwd).context("no book.toml in this folder or a parent")?;
    let mut last = None;
    loop {
        let stamp = watched_stamp(&root);
        if Some(&stamp) != last.as_ref() {
            last = Some(stamp);
            let result = Book::load(&root)
                .map_err(anyhow::Error::from)
                .and_then(|book| {
                    let tangled = tangle_in(&root, &book.chapters, &book.labels)?;
                    finish(&root, tangled, false, quiet, true)
                });
            match result {
                Ok(_) => eprintln!("tangle: up to date"),
                Err(e) => match e.downcast_ref::<Diagnostics>() {
                    Some(ds) => eprintln!("{ds}"),
                    None => eprintln!("tangle: error: {e:#}"),
                },
            }
        }
        std::thread::sleep(std::time::Duration::from_secs_f64(interval.max(0.02)));
    }
}

/// Modification times and sizes of everything that a tangle reads.
fn watched_stamp(root: &Path) -> Vec<(PathBuf, Option<std::time::SystemTime>, u64)> {
    let mut files = vec![root.join("book.toml")];
    if let Ok(book) = Book::load(root) {
        files.push(root.join(&book.src).join("SUMMARY.md"));
        files.extend(book.chapters.iter().map(|c| root.join(c)));
    }
    files
        .into_iter()
        .map(|f| {
            let meta = std::fs::metadata(&f).ok();
            let stamp = (
                meta.as_ref().and_then(|m| m.modified().ok()),
                meta.map_or(0, |m| m.len()),
            );
            (f, stamp.0, stamp.1)
        })
        .collect()
}
