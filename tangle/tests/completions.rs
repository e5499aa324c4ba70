//! The CLI describes itself: completion scripts and the manual page come from the same
//! definition as `--help`, and say the same things.

use std::io::Write;
use std::process::{Command, Output, Stdio};

const TANGLE: &str = env!("CARGO_BIN_EXE_tangle");

fn tangle(args: &[&str]) -> Output {
    let out = Command::new(TANGLE).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "tangle {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Every subcommand of `tangle`, as `--help` lists them.
fn subcommands() -> Vec<String> {
    let help = String::from_utf8(tangle(&["--help"]).stdout).unwrap();
    let commands: Vec<String> = help
        .split("Commands:\n")
        .nth(1)
        .unwrap()
        .lines()
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_string)
        .collect();
    assert!(commands.len() >= 8, "{help}");
    commands
}

#[test]
fn bash_completion_is_sourceable_and_completes_the_commands() {
    let script = tangle(&["completions", "bash"]).stdout;
    assert!(!script.is_empty());
    // Sourced by bash, it registers a completion for `tangle` that offers every command.
    let mut bash = Command::new("bash")
        .args([
            "--norc",
            "-c",
            "source /dev/stdin; complete -p tangle; COMP_WORDS=(tangle s); COMP_CWORD=1; \
             COMP_LINE='tangle s'; COMP_POINT=8; _tangle tangle s tangle; printf '%s\\n' \"${COMPREPLY[@]}\"",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("bash");
    bash.stdin.take().unwrap().write_all(&script).unwrap();
    let out = bash.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("-F _tangle tangle"), "{stdout}");
    assert!(stdout.lines().any(|l| l == "sync"), "{stdout}");
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let script = String::from_utf8(tangle(&["completions", shell]).stdout).unwrap();
        assert!(script.contains("locate"), "{shell}: {script}");
    }
}

#[test]
fn the_man_page_names_every_command_and_renders() {
    let page = String::from_utf8(tangle(&["man"]).stdout).unwrap();
    assert!(
        page.starts_with(".ie") || page.contains(".TH tangle"),
        "{page}"
    );
    for command in subcommands() {
        assert!(
            page.contains(&format!("tangle\\-{command}(1)")),
            "the man page lacks {command}:\n{page}"
        );
    }
    assert!(page.contains("Entangled") && page.contains("org"), "{page}");
    // Rendered by man(1) when the machine has it.
    if Command::new("man").arg("--version").output().is_ok() {
        let mut man = Command::new("man")
            .args(["-l", "-"])
            .env("MANPAGER", "cat")
            .env("MANWIDTH", "100")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        man.stdin
            .take()
            .unwrap()
            .write_all(page.as_bytes())
            .unwrap();
        let out = man.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            text.contains("SUBCOMMANDS") && text.contains("tangle-sync(1)"),
            "{text}"
        );
    }
}

#[test]
fn help_names_the_dialects_exit_codes_and_cargo_arguments() {
    let help = String::from_utf8(tangle(&["--help"]).stdout).unwrap();
    for needed in ["Entangled", "org-mode", "Exit status", "tangle sync"] {
        assert!(help.contains(needed), "--help lacks {needed}:\n{help}");
    }
    let cargo = String::from_utf8(tangle(&["cargo", "--help"]).stdout).unwrap();
    let args = cargo
        .split("Arguments:\n")
        .nth(1)
        .expect("tangle cargo --help lists its arguments");
    assert!(args.contains("[ARGS]...  cargo's command"), "{cargo}");
}
