//! `mdbook-tangle`: the tangler's mdBook preprocessor, found by mdBook's naming rule from
//! `[preprocessor.tangle]` in `book.toml`, and `mdbook-tangle install`, which wires a book.

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// The tangler's mdBook preprocessor: renders a literate book's fragments with their names,
/// tags, cross references and linked <<references>>.
///
/// mdBook runs it for a book whose book.toml has `[preprocessor.tangle]` (no `command` needed):
/// `mdbook-tangle supports RENDERER`, then `mdbook-tangle` with the book as JSON on standard
/// input. `mdbook-tangle install` wires a book. The `tangle` command tangles the same book
/// into source files.
#[derive(Parser)]
#[command(name = "mdbook-tangle", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Exit 0 when the preprocessor runs for RENDERER (mdBook asks before each build).
    Supports {
        /// The renderer mdBook is about to run (`html`, `test`, ...).
        renderer: String,
    },
    /// Wire a book: the book.toml entries and the tangler's CSS and JS next to it.
    ///
    /// Adds `[preprocessor.tangle]` with `before = ["links"]` and lists tangle.css and
    /// tangle.js under `[output.html]` (keeping the rest of book.toml as it is), then writes
    /// the two files next to book.toml. Run it again after upgrading the tangler: each build
    /// warns when the files are older than the preprocessor.
    Install {
        /// The book's folder, holding book.toml.
        #[arg(default_value = ".")]
        book_dir: PathBuf,
        /// Also add the fragment index chapter: `fragment-index.md` in the book's source
        /// folder, listed last in SUMMARY.md.
        #[arg(long)]
        index: bool,
        /// Write tangle.css and tangle.js over files that were edited or are not the tangler's.
        #[arg(long)]
        force: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        None => tangle::install::preprocess_stdin(),
        Some(Command::Supports { renderer }) => Ok(tangle::install::supports(&renderer)),
        Some(Command::Install {
            book_dir,
            index,
            force,
        }) => install(&book_dir, index, force),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            // The edge: the chapters' errors as they are, anything else with its causes.
            match e.into_diagnostics() {
                Ok(ds) => eprintln!("{ds}"),
                Err(e) => eprintln!("mdbook-tangle: error: {:#}", anyhow::Error::new(e)),
            }
            ExitCode::FAILURE
        }
    }
}

fn install(dir: &std::path::Path, index: bool, force: bool) -> tangle::install::Result<ExitCode> {
    let options = tangle::install::Options { index, force };
    let said = tangle::install::install(dir, options)?;
    if said.is_empty() {
        eprintln!(
            "mdbook-tangle: the book in {} is wired already",
            dir.display()
        );
    }
    for line in said {
        eprintln!("mdbook-tangle: {line}");
    }
    Ok(ExitCode::SUCCESS)
}
