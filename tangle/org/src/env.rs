//! What Emacs sees of the machine while it tangles: the home folder (`~`), other users' homes
//! (`~user`, from the passwd database), the environment (`getenv`), the host name, the
//! executable search path and the org file's folder (`default-directory`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The machine as Emacs sees it while tangling. [`OrgEnv::from_process`] reads this
/// process' environment; tests build their own.
#[derive(Debug, Clone, Default)]
pub struct OrgEnv {
    /// `$HOME` (what `~` expands to). `None`: the current user's passwd entry is used.
    pub home: Option<PathBuf>,
    /// The environment, for `getenv` and `substitute-in-file-name`.
    pub vars: HashMap<String, String>,
    /// `/etc/passwd`'s text (user name -> home folder), for `~user`.
    pub passwd: String,
    /// `(system-name)`.
    pub system_name: String,
    /// The folder relative paths of the org file start from (the current folder).
    pub cwd: PathBuf,
    /// Whether code blocks in other languages than emacs-lisp that a noweb reference calls
    /// are run (`tangle --eval`), as Emacs runs them; by default they are refused.
    pub run_blocks: bool,
}

/// Whether [`OrgEnv::from_process`] allows running called blocks (`tangle --eval`).
static RUN_BLOCKS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Lets the environments [`OrgEnv::from_process`] makes from now on run the shell and Python
/// blocks that noweb references call (the command line's `--eval`).
pub fn allow_running_blocks(allow: bool) {
    RUN_BLOCKS.store(allow, std::sync::atomic::Ordering::Relaxed);
}

impl OrgEnv {
    /// This process' environment, `/etc/passwd` and `/etc/hostname`.
    pub fn from_process() -> OrgEnv {
        let vars: HashMap<String, String> = std::env::vars().collect();
        OrgEnv {
            home: vars
                .get("HOME")
                .filter(|h| h.starts_with('/'))
                .map(PathBuf::from),
            passwd: std::fs::read_to_string("/etc/passwd").unwrap_or_default(),
            system_name: std::fs::read_to_string("/proc/sys/kernel/hostname")
                .or_else(|_| std::fs::read_to_string("/etc/hostname"))
                .map(|s| s.trim().to_string())
                .unwrap_or_default(),
            cwd: std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/")),
            vars,
            run_blocks: RUN_BLOCKS.load(std::sync::atomic::Ordering::Relaxed),
        }
    }

    /// The same environment, running called shell blocks or not (`--eval`).
    pub fn with_run_blocks(mut self, run: bool) -> OrgEnv {
        self.run_blocks = run;
        self
    }

    /// The same environment with another home folder (and `$HOME`).
    pub fn with_home(mut self, home: &Path) -> OrgEnv {
        self.home = Some(home.to_path_buf());
        self.vars
            .insert("HOME".into(), home.to_string_lossy().into_owned());
        self
    }

    /// The same environment seen from another current folder.
    pub fn with_cwd(mut self, cwd: &Path) -> OrgEnv {
        self.cwd = cwd.to_path_buf();
        self
    }

    /// `user`'s home folder from the passwd database.
    fn user_home(&self, user: &str) -> Option<String> {
        self.passwd.lines().find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() >= 7 && f[0] == user).then(|| f[5].to_string())
        })
    }

    /// The current user's home: `$HOME`, else the passwd entry of `$USER` or root.
    fn own_home(&self) -> Option<String> {
        if let Some(h) = &self.home {
            return Some(h.to_string_lossy().into_owned());
        }
        let user = self.vars.get("USER").map_or("root", String::as_str);
        self.user_home(user)
    }

    /// `~` or `~user` at the start of `name` replaced as `expand-file-name` does it.
    /// `Err`: the user is unknown (Emacs keeps such a name as it is, relative to the org
    /// file's folder; we refuse it).
    pub(super) fn expand_tilde(&self, name: &str) -> Result<String, String> {
        let Some(rest) = name.strip_prefix('~') else {
            return Ok(name.to_string());
        };
        let (user, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let home = if user.is_empty() {
            self.own_home()
                .ok_or_else(|| "`~` cannot be expanded: HOME is not set".to_string())?
        } else {
            self.user_home(user)
                .ok_or_else(|| format!("`~{user}`: no such user in the passwd database"))?
        };
        let home = home.trim_end_matches('/');
        Ok(format!("{home}{tail}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tilde() {
        let env = OrgEnv {
            home: Some("/h/me".into()),
            passwd: "root:x:0:0:root:/root:/bin/sh\nann:x:1:1::/home/ann:/bin/sh\n".into(),
            ..OrgEnv::default()
        };
        assert_eq!(env.expand_tilde("~/a/b").unwrap(), "/h/me/a/b");
        assert_eq!(env.expand_tilde("~").unwrap(), "/h/me");
        assert_eq!(env.expand_tilde("~ann/.x").unwrap(), "/home/ann/.x");
        assert_eq!(env.expand_tilde("a/~/b").unwrap(), "a/~/b");
        assert!(env
            .expand_tilde("~bob/x")
            .unwrap_err()
            .contains("no such user"));
    }
}
